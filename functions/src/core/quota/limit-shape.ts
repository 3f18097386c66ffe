import type { Limit } from '../limit-schema';
import { validSpan } from './token-line';

/**
 * The arithmetic of a limit's shape: the bucket a share of it amounts to and the most one call
 * can be granted. The configuration checks limits with it, so it imports nothing of the
 * engine but the token line.
 */

/**
 * The tokens a category's line holds back for clock spread and jitter: `safetyMarginMs` of its
 * refill, rounded up, so even a rate far below one token a second keeps a whole token back
 * (a fraction of a token of drift can still add a whole token to some interval).
 */
export function lineReserve(ratePerSecond: number, safetyMarginMs: number): number {
  return safetyMarginMs > 0 ? Math.ceil((ratePerSecond * safetyMarginMs) / 1000 - 1e-9) : 0;
}

/** The bucket a category's share of a limit amounts to: capacity after the reserve, and rate. */
export function shareOfBucket(
  capacity: number,
  ratePerSecond: number,
  percent: number,
  safetyMarginMs: number,
): { capacity: number; ratePerSecond: number } {
  const fraction = percent / 100;
  const rate = ratePerSecond * fraction;
  return {
    capacity: Math.max(
      0,
      Math.floor(capacity * fraction + 1e-9) - lineReserve(rate, safetyMarginMs),
    ),
    ratePerSecond: rate,
  };
}

/** The bucket a token-drawing limit describes: what a full share of it holds and refills. */
export function lineShape(limit: Extract<Limit, { kind: 'tokenBucket' | 'operation' }>): {
  capacity: number;
  ratePerSecond: number;
} {
  return limit.kind === 'tokenBucket'
    ? {
        capacity: Math.min(limit.capacity, limit.burstThreshold ?? limit.capacity),
        ratePerSecond: limit.refillPerSecond,
      }
    : { capacity: limit.burst, ratePerSecond: limit.ratePerSecond };
}

/**
 * The most one call can ever be granted by `limit` for a category holding `percent` of it
 * (undefined for limits that grant no amount, such as concurrency). A call asking more is
 * never granted at that share.
 */
export function maxGrantable(
  limit: Limit,
  percent: number,
  safetyMarginMs: number,
): number | undefined {
  if (limit.kind === 'tokenBucket' || limit.kind === 'operation') {
    const { capacity, ratePerSecond } = lineShape(limit);
    return validSpan(shareOfBucket(capacity, ratePerSecond, percent, safetyMarginMs));
  }
  if (limit.kind === 'window') return Math.floor((limit.limit * percent) / 100 + 1e-9);
  return undefined;
}
