import type { Limit, Provider } from '../config';
import { type TokenLine, validSpan } from './token-line';
import { lineSource, type TokenSource, windowSource } from './token-source';

/** A category's share of its provider, in force from `startMs` (0: always). */
export interface ShareEpoch {
  percent: number;
  startMs: number;
}

/**
 * The share in force and the one it replaced. A change is published ahead of its start, so
 * every instance knows of it before it takes effect.
 */
export interface CategoryShares {
  current: ShareEpoch;
  previous?: ShareEpoch;
}

/** The epoch to draw new tokens from at `atMs`. */
export function epochAt(shares: CategoryShares, atMs: number): ShareEpoch & { endMs?: number } {
  if (atMs >= shares.current.startMs || !shares.previous) return shares.current;
  return { ...shares.previous, endMs: shares.current.startMs };
}

export interface AcquireAmounts {
  operation?: string;
  /** Weight of the call: e.g. Keepa tokens. Default 1. */
  cost: number;
  /** Expected bytes, for windows that measure traffic. */
  bytes: number;
  /** HTTP requests the call makes (a page and its CSV), for windows that count requests. */
  requests: number;
}

export interface PlannedLimit {
  /** Stable per provider, category and limit: names the ledger and the claim documents. */
  key: string;
  label: string;
  reason: 'tokens' | 'window';
  /** Where new blocks are claimed from now. */
  source: TokenSource;
  amount: number;
}

/**
 * Where lines in force "always" (startMs 0) count their tokens from. A recent origin keeps
 * token numbers far below 2^53 even at the highest rate configuration allows.
 */
export const LINE_EPOCH_MS = Date.UTC(2025, 0, 1);

/**
 * Default block: a quarter second of refill, and at most 1/32 of the valid span, so a whole
 * page (8 blocks) is at most 2 s of refill and a quarter of the bucket.
 */
function defaultLineBlock(line: TokenLine): number {
  const bySpeed = Math.round(line.ratePerSecond * 0.25);
  return Math.max(1, Math.min(bySpeed, Math.floor(validSpan(line) / 32)));
}

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
    capacity: Math.max(0, Math.floor(capacity * fraction + 1e-9) - lineReserve(rate, safetyMarginMs)),
    ratePerSecond: rate,
  };
}

/**
 * The most one call can ever be granted by `limit` for a category holding `percent` of it
 * (undefined for limits that grant no amount, such as concurrency). A call asking more is
 * never granted at that share.
 */
export function maxGrantable(limit: Limit, percent: number, safetyMarginMs: number): number | undefined {
  if (limit.kind === 'tokenBucket' || limit.kind === 'operation') {
    const [capacity, rate] =
      limit.kind === 'tokenBucket'
        ? [Math.min(limit.capacity, limit.burstThreshold ?? limit.capacity), limit.refillPerSecond]
        : [limit.burst, limit.ratePerSecond];
    return validSpan(shareOfBucket(capacity, rate, percent, safetyMarginMs));
  }
  if (limit.kind === 'window') return Math.floor((limit.limit * percent) / 100 + 1e-9);
  return undefined;
}

function lineFor(
  capacity: number,
  ratePerSecond: number,
  share: ShareEpoch & { endMs?: number },
  safetyMarginMs: number,
): TokenLine {
  return {
    ...shareOfBucket(capacity, ratePerSecond, share.percent, safetyMarginMs),
    originMs: share.startMs || LINE_EPOCH_MS,
    endMs: share.endMs,
  };
}

/** What a window measures, for this call. */
function windowAmount(limit: Extract<Limit, { kind: 'window' }>, amounts: AcquireAmounts): number {
  if (limit.measure === 'requests') return amounts.requests;
  if (limit.measure === 'bytes') return amounts.bytes;
  return amounts.cost;
}

/**
 * The token-drawing limits a call must satisfy, for one share epoch of its category. Window
 * limits keep the share in force when the window began (see README: a share change reaches
 * window limits from the next window), so only lines take the epoch's start and end.
 */
export function planLimits(
  provider: Provider,
  category: string,
  shares: CategoryShares,
  amounts: AcquireAmounts,
  atMs: number,
): PlannedLimit[] {
  const share = epochAt(shares, atMs);
  const percentForWindow = (windowStartMs: number) => epochAt(shares, windowStartMs).percent;
  const planned: PlannedLimit[] = [];
  provider.limits.forEach((limit, i) => {
    const key = `${provider.id}~${category}~${i}`;
    if (limit.kind === 'tokenBucket') {
      const capacity = Math.min(limit.capacity, limit.burstThreshold ?? limit.capacity);
      const line = lineFor(capacity, limit.refillPerSecond, share, provider.safetyMarginMs);
      planned.push({
        key,
        label: `token bucket ${limit.capacity}@${limit.refillPerSecond}/s`,
        reason: 'tokens',
        source: lineSource(line, limit.blockTokens ?? defaultLineBlock(line)),
        amount: amounts.cost,
      });
    } else if (limit.kind === 'operation') {
      if (amounts.operation !== limit.operation) return;
      const line = lineFor(limit.burst, limit.ratePerSecond, share, provider.safetyMarginMs);
      planned.push({
        key,
        label: `${limit.operation} ${limit.ratePerSecond}/s burst ${limit.burst}`,
        reason: 'tokens',
        source: lineSource(line, limit.blockTokens ?? defaultLineBlock(line)),
        amount: 1,
      });
    } else if (limit.kind === 'window') {
      planned.push({
        key,
        label: `${limit.limit} ${limit.measure} per ${limit.unit}`,
        reason: 'window',
        source: windowSource(
          limit.unit,
          (windowStartMs) => Math.floor((limit.limit * percentForWindow(windowStartMs)) / 100),
          limit.blockTokens,
        ),
        amount: windowAmount(limit, amounts),
      });
    }
  });
  return planned;
}

export function concurrencyCap(provider: Provider): number | undefined {
  const caps = provider.limits.flatMap((l) => (l.kind === 'concurrency' ? [l.max] : []));
  return caps.length > 0 ? Math.min(...caps) : undefined;
}
