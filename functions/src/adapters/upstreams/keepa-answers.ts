// The shapes of Keepa's answers (products, deals, the token meter, zod-checked) and the wait a
// 429's body names.
import { z } from 'zod';
import { keepaSecondsUntilPositive } from '../../core/upstreams/keepa-meter';
import { safeJson } from './http-json';

const tokenFields = {
  tokensLeft: z.number(),
  refillIn: z.number(),
  refillRate: z.number(),
  tokensConsumed: z.number().optional(),
  timestamp: z.number().optional(),
};

const numbers = z.array(z.number());

export const keepaProductSchema = z.looseObject({
  asin: z.string().min(1),
  domainId: z.number().optional(),
  title: z.string().nullish(),
  /** Histories per csv type; null for types without data. */
  csv: z.array(numbers.nullable()).nullish(),
  stats: z.looseObject({ current: numbers.nullish() }).nullish(),
  offers: z.array(z.unknown()).nullish(),
});
export type KeepaProduct = z.infer<typeof keepaProductSchema>;

export const keepaDealSchema = z.looseObject({
  asin: z.string().min(1),
  title: z.string().nullish(),
  current: numbers.nullish(),
  deltaPercent: z.array(numbers.nullable()).nullish(),
});
export type KeepaDeal = z.infer<typeof keepaDealSchema>;

export const tokenBodySchema = z.looseObject(tokenFields);
export const productBodySchema = z.looseObject({
  ...tokenFields,
  products: z.array(keepaProductSchema),
});
/** DealResponse (api_backend structs/DealResponse.java): the deals and their root categories. */
export const dealBodySchema = z.looseObject({
  ...tokenFields,
  deals: z.looseObject({
    dr: z.array(keepaDealSchema),
    categoryIds: z.array(z.number()).nullish(),
    categoryNames: z.array(z.string()).nullish(),
    categoryCount: z.array(z.number()).nullish(),
  }),
});
export function retryAfterFromBody(text: string): number | undefined {
  const tokens = safeJson(text, tokenBodySchema);
  return tokens ? keepaSecondsUntilPositive(tokens) : undefined;
}
