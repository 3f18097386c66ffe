import { z } from 'zod';
import type { MarketplaceRules, RuleId } from './config';

/**
 * The product records validation reads. The schema is lenient on purpose: a malformed value
 * becomes a defect the rules report (a price that is not a number, a date that does not parse),
 * never a parse failure that hides the product from the report.
 */
export const pricePointSchema = z.object({
  /** ISO date (`2026-01-31`) or date-time. */
  date: z.string().catch(''),
  /** null: the extractor found no price. */
  price: z.number().nullable().catch(null),
  /** Extraction confidence, 0..1, when the extractor reports one. */
  confidence: z.number().optional().catch(Number.NaN),
});
export type PricePoint = z.infer<typeof pricePointSchema>;

export const productRecordSchema = z.object({
  marketplace: z.string().min(1),
  /** Stable key of the record (its document id); present even when identifiers are missing. */
  key: z.string().min(1),
  identifiers: z.record(z.string(), z.string().nullable().optional().catch(null)).catch({}),
  prices: z
    .array(z.unknown())
    .catch([])
    .transform((points) => points.map(toPricePoint)),
  /** Product-level extraction confidence, when the extractor reports one. */
  confidence: z.number().optional().catch(Number.NaN),
  /** The dates the collection was asked to cover: missing days at either end are gaps. */
  expectedRange: z.object({ from: z.string(), to: z.string() }).optional().catch(undefined),
});
export type ProductRecord = z.infer<typeof productRecordSchema>;

function toPricePoint(point: unknown): PricePoint {
  const parsed = pricePointSchema.safeParse(point);
  return parsed.success ? parsed.data : { date: '', price: null };
}

export type Defect =
  | { kind: 'missing-identifier'; missing: string[] }
  | { kind: 'too-few-prices'; count: number; minimum: number }
  | { kind: 'non-positive-price'; date: string; price: number | null }
  | {
      kind: 'price-jump';
      from: string;
      to: string;
      previousPrice: number;
      price: number;
      ratio: number;
    }
  | { kind: 'invalid-date'; date: string }
  | { kind: 'date-gap'; from: string; to: string; days: number }
  /** `date` absent: the product's own confidence. */
  | { kind: 'low-confidence'; date?: string; confidence: number };

const DAY_MS = 86_400_000;

function isBlank(value: string | null | undefined): boolean {
  return value == null || value.trim() === '';
}

function isPositivePrice(price: number | null): price is number {
  return price !== null && Number.isFinite(price) && price > 0;
}

function dateMs(date: string): number {
  return date === '' ? Number.NaN : Date.parse(date);
}

/** Points with a parseable date, oldest first (stable for equal dates). */
function dated(points: readonly PricePoint[]) {
  return points
    .map((point) => ({ point, atMs: dateMs(point.date) }))
    .filter((p) => !Number.isNaN(p.atMs))
    .sort((a, b) => a.atMs - b.atMs);
}

/** Confidence given but below the minimum (or not a number at all). */
function lowConfidence(confidence: number | undefined, minimum: number): boolean {
  return confidence !== undefined && !(confidence >= minimum);
}

type Rule = (product: ProductRecord, rules: MarketplaceRules) => Defect[];

export const rules: Record<RuleId, Rule> = {
  'missing-identifiers': (product, { requiredIdentifiers }) => {
    const ids = product.identifiers;
    const own = (name: string) => (Object.hasOwn(ids, name) ? ids[name] : undefined);
    if (requiredIdentifiers.length > 0) {
      const missing = requiredIdentifiers.filter((name) => isBlank(own(name)));
      return missing.length > 0 ? [{ kind: 'missing-identifier', missing }] : [];
    }
    const any = Object.keys(ids).some((name) => !isBlank(own(name)));
    return any ? [] : [{ kind: 'missing-identifier', missing: ['any'] }];
  },

  'too-few-prices': (product, { minPricePoints }) => {
    const count = product.prices.filter(
      (p) => isPositivePrice(p.price) && !Number.isNaN(dateMs(p.date)),
    ).length;
    return count < minPricePoints
      ? [{ kind: 'too-few-prices', count, minimum: minPricePoints }]
      : [];
  },

  'inconsistent-prices': (product, { maxJumpRatio }) => {
    const defects: Defect[] = product.prices
      .filter((p) => !isPositivePrice(p.price))
      .map((p) => ({ kind: 'non-positive-price', date: p.date, price: p.price }));
    const priced = dated(product.prices).filter((p) => isPositivePrice(p.point.price));
    for (let i = 1; i < priced.length; i++) {
      const before = priced[i - 1]!.point;
      const after = priced[i]!.point;
      const previousPrice = before.price as number;
      const price = after.price as number;
      const ratio = Math.max(price / previousPrice, previousPrice / price);
      if (ratio > maxJumpRatio) {
        defects.push({
          kind: 'price-jump',
          from: before.date,
          to: after.date,
          previousPrice,
          price,
          ratio,
        });
      }
    }
    return defects;
  },

  'incomplete-dates': (product, { maxGapDays }) => {
    const defects: Defect[] = product.prices
      .filter((p) => Number.isNaN(dateMs(p.date)))
      .map((p) => ({ kind: 'invalid-date', date: p.date }));
    let marks = dated(product.prices).map((p) => ({ date: p.point.date, atMs: p.atMs }));
    const range = product.expectedRange;
    const from = range ? dateMs(range.from) : Number.NaN;
    const to = range ? dateMs(range.to) : Number.NaN;
    // The range's ends count as covered marks; points outside it say nothing about it. An
    // unparseable end is not checked.
    if (range && !Number.isNaN(from)) {
      marks = [{ date: range.from, atMs: from }, ...marks.filter((m) => m.atMs >= from)];
    }
    if (range && !Number.isNaN(to)) {
      marks = [...marks.filter((m) => m.atMs <= to), { date: range.to, atMs: to }];
    }
    for (let i = 1; i < marks.length; i++) {
      const days = (marks[i]!.atMs - marks[i - 1]!.atMs) / DAY_MS;
      if (days > maxGapDays) {
        defects.push({ kind: 'date-gap', from: marks[i - 1]!.date, to: marks[i]!.date, days });
      }
    }
    return defects;
  },

  'low-confidence': (product, { minConfidence }) => {
    const defects: Defect[] = [];
    if (lowConfidence(product.confidence, minConfidence)) {
      defects.push({ kind: 'low-confidence', confidence: product.confidence! });
    }
    for (const p of product.prices) {
      if (lowConfidence(p.confidence, minConfidence)) {
        defects.push({ kind: 'low-confidence', date: p.date, confidence: p.confidence! });
      }
    }
    return defects;
  },
};
