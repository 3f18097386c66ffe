import type { Limit } from '../limit-schema';
import { type Allocation, epochAt, fixedWindow, type LimitsEpoch } from './epochs';
import { lineShape, shareOfBucket } from './limit-shape';
import { type TokenLine, validSpan } from './token-line';
import { lineSource, type TokenSource, windowBlockSize, windowSource } from './token-source';
import type { Window } from './windows';

export { lineReserve, lineShape, maxGrantable, shareOfBucket } from './limit-shape';

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
  /** The limit as configured, for messages and for what a full share could carry. */
  limit: Limit;
  /** Lines: tokens the category's share mints per second. */
  ratePerSecond?: number;
  /** Lines: the token line and the start of the segment it belongs to. */
  line?: { line: TokenLine; segmentStartMs: number };
  /** Lines: tokens per block (a call costing more needs a run of blocks: claim-runs.ts). */
  blockTokens?: number;
}

/**
 * Where lines in force "always" (startMs 0) count their tokens from. A recent origin keeps
 * token numbers far below 2^53 even at the highest rate configuration allows.
 */
export const LINE_EPOCH_MS = Date.UTC(2025, 0, 1);

/**
 * Default block: a tenth of a second of refill, and at most 1/32 of the valid span, so a whole
 * page (8 blocks) is at most 0.8 s of refill and a quarter of the bucket, and a lightly loaded
 * instance strands little when it claims a block it will not spend in time.
 */
function defaultLineBlock(line: TokenLine): number {
  const bySpeed = Math.round(line.ratePerSecond * 0.1);
  return Math.max(1, Math.min(bySpeed, Math.floor(validSpan(line) / 32)));
}

/** What a window measures, for this call. */
export function windowAmount(
  limit: Extract<Limit, { kind: 'window' }>,
  amounts: AcquireAmounts,
): number {
  if (limit.measure === 'requests') return amounts.requests;
  if (limit.measure === 'bytes') return amounts.bytes;
  return amounts.cost;
}

/** The segment of time in which a category's share and its provider's limits both hold. */
export interface Segment {
  limits: LimitsEpoch;
  percent: number;
  startMs: number;
  /** When the next share or limits epoch starts (undefined: none published yet). */
  endMs?: number;
}

export function segmentAt(
  allocation: Allocation,
  category: string,
  atMs: number,
): Segment | undefined {
  const limits = epochAt(allocation.limits, atMs);
  if (!limits) return undefined;
  const shares = allocation.categories[category] ?? [];
  const share = epochAt(shares, atMs);
  // Before the category's first share, the segment ends where that share starts.
  const shareEndMs = share ? share.endMs : shares[0]?.startMs;
  const ends = [limits.endMs, shareEndMs].filter((t): t is number => t !== undefined);
  return {
    limits: limits.epoch,
    percent: share?.epoch.percent ?? 0,
    startMs: Math.max(limits.epoch.startMs, share?.epoch.startMs ?? 0),
    endMs: ends.length > 0 ? Math.min(...ends) : undefined,
  };
}

/** A limit's name in the gate's messages. */
export function limitLabel(limit: Limit): string {
  switch (limit.kind) {
    case 'tokenBucket':
      return `token bucket ${limit.capacity}@${limit.refillPerSecond}/s`;
    case 'operation':
      return `${limit.operation} ${limit.ratePerSecond}/s burst ${limit.burst}`;
    case 'window':
      return `${limit.limit} ${limit.measure} per ${limit.unit}`;
    case 'concurrency':
      return `${limit.max} in flight`;
  }
}

/**
 * The token line of a bucket-like limit for one segment. Each segment (a share change, a limit
 * edit) starts a new line, empty, just after the segment's start: the old line stops minting
 * then, and old and new tokens together never exceed the bound. Block ids carry the origin, so
 * no two segments share a claim.
 */
function lineFor(capacity: number, ratePerSecond: number, segment: Segment): TokenLine {
  const margin = segment.limits.safetyMarginMs;
  return {
    ...shareOfBucket(capacity, ratePerSecond, segment.percent, margin),
    // Instances switch lines by their own clocks, up to the margin apart: the new line starts
    // minting one margin after the old one stops, so the two never mint at the same true time
    // (else every change would add up to r * margin tokens to the intervals around it).
    originMs: segment.startMs ? segment.startMs + margin : LINE_EPOCH_MS,
    endMs: segment.endMs,
    firstToken: segment.startMs ? 1 : 0,
  };
}

/**
 * A window limit's allowance for a category: the limit and share fixed at the window's start
 * name the blocks; a limit lowered since (in force at `atMs`) lowers what may still be claimed.
 */
function windowAllowance(
  allocation: Allocation,
  category: string,
  key: string,
  limit: Extract<Limit, { kind: 'window' }>,
) {
  return (window: Window, atMs: number) => {
    const fixed = fixedWindow(allocation, key, limit.unit, window.startMs);
    const percent = fixed?.percents[category] ?? 0;
    const total = fixed ? Math.floor((fixed.limit * percent) / 100 + 1e-9) : 0;
    const now = epochAt(allocation.limits, atMs)?.epoch;
    const index = now?.keys.indexOf(key) ?? -1;
    const current = index >= 0 ? now!.limits[index] : undefined;
    const lowered =
      current?.kind === 'window' ? Math.floor((current.limit * percent) / 100 + 1e-9) : 0;
    return {
      total,
      usable: Math.min(total, lowered),
      size: windowBlockSize(total, fixed?.blockTokens),
    };
  };
}

/** A category's limits for one segment and operation, before a call's amounts are known. */
export interface SegmentPlan {
  segment: Segment;
  /** As {@link planLimits} returns them, with amount 0. */
  limits: PlannedLimit[];
}

/**
 * The token-drawing limits of a category's segment at `atMs`, for calls of `operation`.
 * Window limits keep the limit and share in force when the window began. The plan holds for
 * every instant of the segment, so a caller may keep it until `segment.endMs`.
 */
export function planSegment(
  allocation: Allocation,
  providerId: string,
  category: string,
  operation: string | undefined,
  atMs: number,
): SegmentPlan | undefined {
  const segment = segmentAt(allocation, category, atMs);
  if (!segment) return undefined;
  const limits: PlannedLimit[] = [];
  segment.limits.limits.forEach((limit, i) => {
    const key = `${providerId}~${category}~${segment.limits.keys[i]}`;
    const common = { key, label: limitLabel(limit), limit, amount: 0 };
    if (limit.kind === 'tokenBucket' || limit.kind === 'operation') {
      if (limit.kind === 'operation' && operation !== limit.operation) return;
      const { capacity, ratePerSecond } = lineShape(limit);
      const line = lineFor(capacity, ratePerSecond, segment);
      const blockTokens = Math.max(1, Math.floor(limit.blockTokens ?? defaultLineBlock(line)));
      limits.push({
        ...common,
        reason: 'tokens',
        source: lineSource(line, blockTokens),
        blockTokens,
        ratePerSecond: line.ratePerSecond,
        line: { line, segmentStartMs: segment.startMs },
      });
    } else if (limit.kind === 'window') {
      limits.push({
        ...common,
        reason: 'window',
        source: windowSource(
          limit.unit,
          windowAllowance(allocation, category, segment.limits.keys[i]!, limit),
          segment.limits.safetyMarginMs / 2,
        ),
      });
    }
  });
  return { segment, limits };
}

/** Whether a segment plan made earlier still holds at `atMs`. */
export function planHolds(plan: SegmentPlan, atMs: number): boolean {
  return (
    plan.segment.startMs <= atMs && (plan.segment.endMs === undefined || atMs < plan.segment.endMs)
  );
}

/** A segment's limits with what one call spends of each (fresh objects: callers may edit). */
export function withAmounts(
  limits: readonly PlannedLimit[],
  amounts: AcquireAmounts,
): PlannedLimit[] {
  return limits.map((limit) => ({ ...limit, amount: amountOf(limit.limit, amounts) }));
}

/** What a limit charges a call with these amounts. */
export function amountOf(limit: Limit, amounts: AcquireAmounts): number {
  if (limit.kind === 'window') return windowAmount(limit, amounts);
  if (limit.kind === 'operation') return 1;
  return amounts.cost;
}

/** The token-drawing limits a call must satisfy at `atMs`, with its amounts. */
export function planLimits(
  allocation: Allocation,
  providerId: string,
  category: string,
  amounts: AcquireAmounts,
  atMs: number,
): PlannedLimit[] {
  const plan = planSegment(allocation, providerId, category, amounts.operation, atMs);
  return plan ? withAmounts(plan.limits, amounts) : [];
}

/** The tightest concurrency cap among the provider's limits in force. */
export function concurrencyCap(limits: readonly Limit[]): number | undefined {
  const caps = limits.flatMap((l) => (l.kind === 'concurrency' ? [l.max] : []));
  return caps.length > 0 ? Math.min(...caps) : undefined;
}
