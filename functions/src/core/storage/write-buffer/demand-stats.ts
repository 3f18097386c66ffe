import { z } from 'zod';
import { increment } from './field-ops';
import { DEFAULT_USAGE_RETENTION_MS, minuteKey } from './usage-stats';

/**
 * Recorded demand: what the gate was asked per minute, provider, category and operation (calls,
 * cost, bytes, requests), what it granted and deferred, and the delay each deferral was given
 * (a fixed-bucket histogram). `usageStats` (per provider and category: granted, deferred,
 * calls, 429s) stays as it is for getQuotaStats; this is the finer record policy replay reads
 * (core/replay). Counters are increments, so the group-commit buffer folds a minute's samples
 * into one write per document and flush: no write per call.
 */

export const DEMAND_STATS_COLLECTION = 'demandStats';
/** Kept as long as the usage statistics: 30 days, then the TTL policy on `expiresAt`. */
export const DEFAULT_DEMAND_RETENTION_MS = DEFAULT_USAGE_RETENTION_MS;
/** The operation of calls that name none (document ids cannot hold an empty segment). */
export const NO_OPERATION = '-';

/**
 * Upper bounds (ms, inclusive) of the delay histogram's buckets; a delay above the last falls in
 * `inf`. Field names are `le<bound>`: `delay.le1000` counts deferrals told to come back within
 * (500 ms, 1 s].
 */
export const DELAY_BUCKETS_MS = [
  100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000,
] as const;
export type DelayBucket = `le${(typeof DELAY_BUCKETS_MS)[number]}` | 'inf';
export const DELAY_BUCKET_NAMES: readonly DelayBucket[] = [
  ...DELAY_BUCKETS_MS.map((b) => `le${b}` as DelayBucket),
  'inf',
];

/** The histogram bucket a deferral's delay falls in. */
export function delayBucket(delayMs: number): DelayBucket {
  const d = Math.max(0, delayMs);
  for (const bound of DELAY_BUCKETS_MS) if (d <= bound) return `le${bound}`;
  return 'inf';
}

/** A representative delay of a bucket (the geometric middle of its bounds), for replay. */
export function bucketDelayMs(bucket: DelayBucket): number {
  const i = DELAY_BUCKET_NAMES.indexOf(bucket);
  if (bucket === 'inf') return 2 * DELAY_BUCKETS_MS.at(-1)!;
  const upper = DELAY_BUCKETS_MS[i]!;
  const lower = i === 0 ? 10 : DELAY_BUCKETS_MS[i - 1]!;
  return Math.sqrt(lower * upper);
}

/** One decision of the gate, as recorded. */
export interface DemandSample {
  provider: string;
  category: string;
  operation?: string | undefined;
  at: Date | number;
  cost: number;
  bytes: number;
  requests: number;
  outcome: 'granted' | 'deferred';
  /** For a deferral: how long after it asked the caller was told to come back (retryAt - at). */
  delayMs?: number;
  /** For a grant: how long the gate awaited reserved tokens. */
  waitedMs?: number;
  /**
   * How many times this call was deferred before (a work item's `deferrals`): 0 for its first
   * ask, which is counted in `firstAsks.s<second of the minute>`; a re-ask counts in `reasked`.
   * Callers that do not say are counted as first asks.
   */
  attempt?: number | undefined;
}

/** The field of a first ask's second within its minute: `s00` .. `s59`. */
export function secondField(atMs: number): string {
  const second = Math.floor((((atMs % 60_000) + 60_000) % 60_000) / 1000);
  return `s${String(second).padStart(2, '0')}`;
}

function checkId(kind: string, id: string): void {
  if (id === '' || id.includes('/') || id.includes('~')) {
    throw new TypeError(`invalid ${kind} id for demand stats: "${id}"`);
  }
}

/** `demandStats/{provider}~{category}~{operation}~{yyyyMMddHHmm}`. */
export function demandStatsId(
  provider: string,
  category: string,
  operation: string | undefined,
  minuteMs: number,
): string {
  return `${provider}~${category}~${operation || NO_OPERATION}~${minuteKey(minuteMs)}`;
}

/** The merge update one decision makes to its per-minute demand document. */
export function demandStatsUpdate(
  sample: DemandSample,
  retentionMs = DEFAULT_DEMAND_RETENTION_MS,
): { path: string; data: Record<string, unknown> } {
  checkId('provider', sample.provider);
  checkId('category', sample.category);
  const operation = sample.operation || NO_OPERATION;
  checkId('operation', operation);
  const atMs = typeof sample.at === 'number' ? sample.at : sample.at.getTime();
  if (!Number.isFinite(atMs)) throw new TypeError('demand sample has an invalid time');
  const minuteMs = Math.floor(atMs / 60_000) * 60_000;
  const data: Record<string, unknown> = {
    provider: sample.provider,
    category: sample.category,
    operation,
    minute: new Date(minuteMs),
    expiresAt: new Date(minuteMs + retentionMs),
    asked: increment(1),
    cost: increment(finite(sample.cost)),
    bytes: increment(finite(sample.bytes)),
    requests: increment(finite(sample.requests)),
  };
  if (sample.attempt && sample.attempt > 0) data.reasked = increment(1);
  else {
    data.firstAsks = { [secondField(atMs)]: increment(1) };
    data.first = {
      cost: increment(finite(sample.cost)),
      bytes: increment(finite(sample.bytes)),
      requests: increment(finite(sample.requests)),
    };
  }
  if (sample.outcome === 'granted') {
    data.granted = increment(1);
    data.grantedCost = increment(finite(sample.cost));
    if (sample.waitedMs && sample.waitedMs > 0) data.waitedMs = increment(sample.waitedMs);
  } else {
    data.deferred = increment(1);
    data.delay = { [delayBucket(sample.delayMs ?? 0)]: increment(1) };
  }
  return {
    path: `${DEMAND_STATS_COLLECTION}/${demandStatsId(sample.provider, sample.category, operation, minuteMs)}`,
    data,
  };
}

function finite(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}

const count = z.number().finite().nonnegative().default(0);

/**
 * Calls one minute document may count (asked, granted, deferred, reasked, each second's first
 * asks): 16,667 a second of one kind of call from one fleet. A document counting more is not
 * what the gate writes; it is refused (and the replay skips it) rather than simulated.
 */
export const MAX_DEMAND_CALLS_PER_MINUTE = 1_000_000;
const calls = z.number().finite().nonnegative().max(MAX_DEMAND_CALLS_PER_MINUTE).default(0);

/** The field of a first ask's second: `s00` .. `s59`. */
export const SECOND_FIELD = /^s[0-5]\d$/;

/** A per-minute demand document as read back (replay's input), validated. */
export const demandMinuteSchema = z.object({
  provider: z.string().min(1),
  category: z.string().min(1),
  operation: z.string().min(1).default(NO_OPERATION),
  minuteMs: z.number().int().nonnegative(),
  asked: calls,
  cost: count,
  bytes: count,
  requests: count,
  granted: calls,
  grantedCost: count,
  deferred: calls,
  waitedMs: count,
  delay: z.record(z.string(), calls).default({}),
  /** Re-asks of deferred calls (callers that said so). */
  reasked: calls,
  /**
   * First asks by second of the minute (`s00`..`s59`); empty in records made before it. A key
   * that names no second of the minute (`bogus`, `s-30`, `s99`) is dropped, the rest is used.
   */
  firstAsks: z.preprocess(
    (seconds) =>
      typeof seconds === 'object' && seconds !== null && !Array.isArray(seconds)
        ? Object.fromEntries(Object.entries(seconds).filter(([key]) => SECOND_FIELD.test(key)))
        : seconds,
    z.record(z.string(), calls).default({}),
  ),
  /** What the first asks alone asked (re-asks ask the same again). */
  first: z
    .object({ cost: count, bytes: count, requests: count })
    .default({ cost: 0, bytes: 0, requests: 0 }),
});
export type DemandMinute = z.infer<typeof demandMinuteSchema>;

/**
 * Folds samples into per-minute records exactly as the buffer's increments fold them into
 * documents (for tests, the simulator's own recording and fleet simulations).
 */
export class DemandRecorder {
  private readonly minutes = new Map<string, DemandMinute>();

  record(sample: DemandSample): void {
    const atMs = typeof sample.at === 'number' ? sample.at : sample.at.getTime();
    const minuteMs = Math.floor(atMs / 60_000) * 60_000;
    const id = demandStatsId(sample.provider, sample.category, sample.operation, minuteMs);
    let m = this.minutes.get(id);
    if (!m) {
      m = demandMinuteSchema.parse({
        provider: sample.provider,
        category: sample.category,
        operation: sample.operation || NO_OPERATION,
        minuteMs,
      });
      this.minutes.set(id, m);
    }
    m.asked++;
    m.cost += finite(sample.cost);
    m.bytes += finite(sample.bytes);
    m.requests += finite(sample.requests);
    if (sample.attempt && sample.attempt > 0) m.reasked++;
    else {
      const field = secondField(atMs);
      m.firstAsks[field] = (m.firstAsks[field] ?? 0) + 1;
      m.first.cost += finite(sample.cost);
      m.first.bytes += finite(sample.bytes);
      m.first.requests += finite(sample.requests);
    }
    if (sample.outcome === 'granted') {
      m.granted++;
      m.grantedCost += finite(sample.cost);
      m.waitedMs += finite(sample.waitedMs ?? 0);
    } else {
      m.deferred++;
      const bucket = delayBucket(sample.delayMs ?? 0);
      m.delay[bucket] = (m.delay[bucket] ?? 0) + 1;
    }
  }

  records(): DemandMinute[] {
    return [...this.minutes.values()].sort(
      (a, b) =>
        a.minuteMs - b.minuteMs ||
        a.provider.localeCompare(b.provider) ||
        a.category.localeCompare(b.category) ||
        a.operation.localeCompare(b.operation),
    );
  }
}
