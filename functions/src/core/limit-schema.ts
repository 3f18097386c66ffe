import { z } from 'zod';

/**
 * The limits a provider document declares (`providers/*`.limits), as zod schemas. Apart from
 * config.ts so the quota engine's modules can name a limit's type without importing the whole
 * configuration (which checks limits with the engine's own arithmetic: quota/limit-shape.ts).
 */

const positive = z.number().positive();
/** Token numbers must stay exact doubles (see quota/limits.ts LINE_EPOCH_MS). */
const rate = positive.max(1_000_000, 'at most 1,000,000 per second');

/** Below 2 a bucket cannot be shared exactly (see quota/token-line.ts). */
const bucketSize = z.number().min(2, 'must be at least 2');
/** Tokens one claim document buys; derived from the rate when absent. */
const blockTokens = z.number().int().positive().optional();

export const tokenBucketLimit = z.object({
  kind: z.literal('tokenBucket'),
  capacity: bucketSize,
  refillPerSecond: rate,
  /** Keepa lets a call run while the balance is positive and drives it below zero. */
  allowNegative: z.boolean().default(false),
  /** Stop granting once the balance would drop below capacity - burstThreshold. */
  burstThreshold: bucketSize.optional(),
  blockTokens,
});

export const windowUnits = ['second', 'minute', 'hour', 'day', 'month'] as const;
export const windowLimit = z.object({
  kind: z.literal('window'),
  unit: z.enum(windowUnits),
  limit: positive,
  /** What the window counts: call cost (default), requests, or bytes (proxy traffic). */
  measure: z.enum(['cost', 'requests', 'bytes']).default('cost'),
  blockTokens,
});

export const operationLimit = z.object({
  kind: z.literal('operation'),
  operation: z.string().min(1),
  ratePerSecond: rate,
  burst: bucketSize,
  blockTokens,
});

export const concurrencyLimit = z.object({
  kind: z.literal('concurrency'),
  max: z.number().int().positive(),
});

export const limitSchema = z.discriminatedUnion('kind', [
  tokenBucketLimit,
  windowLimit,
  operationLimit,
  concurrencyLimit,
]);
export type Limit = z.infer<typeof limitSchema>;
