import type { MeterReading } from '../quota/meters';

/** The meter fields every Keepa answer carries, as the quota engine reads them. */

const MINUTE_MS = 60_000;

/** The meter fields every Keepa answer carries. */
export interface KeepaTokenFields {
  tokensLeft: number;
  /** ms until the next refill. */
  refillIn: number;
  /** Tokens per minute. */
  refillRate: number;
  tokensConsumed?: number;
  /** Keepa's server time (ms) of the answer. */
  timestamp?: number;
}

/**
 * Keepa's meter as a MeterReading. Keepa does not report its bucket's size; tokens expire an
 * hour after they are generated, so without a configured capacity it is 60 refills (and at
 * least the balance reported, for accounts that bought extra tokens).
 */
export function keepaMeterReading(
  tokens: KeepaTokenFields,
  options: { capacity?: number; nowMs: number },
): MeterReading {
  const capacity = options.capacity ?? Math.max(tokens.refillRate * 60, tokens.tokensLeft);
  return {
    balance: tokens.tokensLeft,
    atMs: tokens.timestamp ?? options.nowMs,
    ratePerSecond: tokens.refillRate / 60,
    capacity,
    ...(tokens.tokensConsumed === undefined ? {} : { consumed: tokens.tokensConsumed }),
  };
}

/**
 * Seconds until Keepa runs requests again (its balance is positive), from an answer's meter
 * fields: the next refill, plus a minute per further refill the deficit needs. For a 429 that
 * came without Retry-After.
 */
export function keepaSecondsUntilPositive(tokens: KeepaTokenFields): number {
  const refillInMs = Math.max(0, tokens.refillIn);
  if (tokens.tokensLeft > 0) return Math.max(1, Math.ceil(refillInMs / 1000));
  if (!(tokens.refillRate > 0)) return 3600;
  const refills = Math.floor(-tokens.tokensLeft / tokens.refillRate) + 1;
  return Math.max(1, Math.ceil((refillInMs + (refills - 1) * MINUTE_MS) / 1000));
}
