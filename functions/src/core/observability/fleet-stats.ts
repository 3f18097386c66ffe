import { increment } from '../storage/write-buffer/field-ops';
import { DEFAULT_USAGE_RETENTION_MS, minuteKey } from '../storage/write-buffer/usage-stats';

/**
 * Fleet-wide upstream and queue statistics, per minute and per hour, in Firestore: what every
 * instance saw, where Prometheus counters only see the one process a scrape reaches. Pure:
 * the documents' shape, the increments one instance's calls make to them, and how the stored
 * documents are merged and summarised (adapters/observability/fleet-stats.ts reads and writes them).
 *
 * Layout. `fleetStats/{yyyyMMddHHmm}~s{shard}` (per minute) and `fleetStatsHourly/{yyyyMMddHH00}
 * ~s{shard}` (per hour) hold upstream call counts by outcome and a fixed-bucket latency
 * histogram per provider and operation; `…~queues` documents hold queue-depth samples. An
 * instance picks one of FLEET_SHARDS shards when it starts and hands its accumulated counts
 * over to its write buffer at most once per hand-over period (15 s), so one busy instance
 * writes two documents (its minute and its hour) four times a minute, and a shard document is
 * written by the instances that share the shard only: about FLEET_SHARDS times fewer writes per
 * document than one document per minute would take, below Firestore's sustained ~1 write/s per
 * document with up to ~15 busy instances per shard. Readers merge at most FLEET_SHARDS + 1
 * documents per minute or hour. Increments merge exactly across instances, and so do histogram
 * buckets: percentiles are computed from the merged buckets at read time (per-instance
 * percentiles could not be merged).
 */

export const FLEET_MINUTE_COLLECTION = 'fleetStats';
export const FLEET_HOUR_COLLECTION = 'fleetStatsHourly';
/** Kept as long as the per-minute usage statistics: 30 days (TTL on `expiresAt`). */
export const FLEET_RETENTION_MS = DEFAULT_USAGE_RETENTION_MS;
/** Shards per minute and hour; each instance writes one of them. */
export const FLEET_SHARDS = 4;
export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;

/**
 * Upper bounds (ms, inclusive) of the latency buckets; one more bucket above the last. A
 * percentile is exact to the bucket it falls in.
 */
export const LATENCY_BOUNDS_MS = [
  5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000,
] as const;
export const LATENCY_BUCKETS = LATENCY_BOUNDS_MS.length + 1;

/** The bucket a latency falls in (bounds are inclusive; negative counts as 0). */
export function bucketIndex(latencyMs: number): number {
  for (let i = 0; i < LATENCY_BOUNDS_MS.length; i++) {
    if (latencyMs <= LATENCY_BOUNDS_MS[i]!) return i;
  }
  return LATENCY_BOUNDS_MS.length;
}

/** A bucket's field name: its upper bound (`le250`), or `inf` for the last. */
export function bucketKey(index: number): string {
  return index < LATENCY_BOUNDS_MS.length ? `le${LATENCY_BOUNDS_MS[index]}` : 'inf';
}

/**
 * The bucket a stored field name counts into: the bucket of its upper bound, so documents
 * written with other bounds still merge (conservatively, upwards); undefined if not a bucket.
 */
export function parseBucketKey(key: string): number | undefined {
  if (key === 'inf') return LATENCY_BOUNDS_MS.length;
  const match = /^le(\d+)$/.exec(key);
  return match ? bucketIndex(Number(match[1])) : undefined;
}

/** The range of latencies a bucket holds: (lower, upper]; the last bucket's upper is Infinity. */
export function bucketRange(index: number): { lower: number; upper: number } {
  return {
    lower: index === 0 ? 0 : LATENCY_BOUNDS_MS[index - 1]!,
    upper: index < LATENCY_BOUNDS_MS.length ? LATENCY_BOUNDS_MS[index]! : Number.POSITIVE_INFINITY,
  };
}

export function emptyHistogram(): number[] {
  return new Array<number>(LATENCY_BUCKETS).fill(0);
}

/** Adds `from` into `into`, bucket by bucket. */
export function mergeHistogram(into: number[], from: readonly number[]): number[] {
  for (let i = 0; i < LATENCY_BUCKETS; i++) into[i] = (into[i] ?? 0) + (from[i] ?? 0);
  return into;
}

/**
 * The q-quantile (0 < q <= 1) of the latencies a histogram counts, in ms; null when it is
 * empty. The nearest-rank sample's bucket is found exactly, and the value is interpolated
 * linearly inside it (as Prometheus' histogram_quantile does); in the last, unbounded bucket it
 * is that bucket's lower bound. So the answer always lies in the bucket of the true sample.
 */
export function histogramQuantile(counts: readonly number[], q: number): number | null {
  if (!(q > 0 && q <= 1)) throw new RangeError(`quantile must be in (0, 1]: ${q}`);
  let total = 0;
  for (const c of counts) total += Math.max(c, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = Math.max(counts[i]!, 0);
    if (c > 0 && below + c >= rank) {
      const { lower, upper } = bucketRange(i);
      if (!Number.isFinite(upper)) return lower;
      return lower + ((upper - lower) * (rank - below)) / c;
    }
    below += c;
  }
  return bucketRange(counts.length - 1).lower;
}

/**
 * A provider id, operation, outcome or queue name as a field name: URI-encoded, with `.` (a
 * field path separator) encoded too, and never Firestore's reserved `__x__`.
 */
export function encodeFieldKey(name: string): string {
  if (name === '') throw new TypeError('an empty name cannot be a field name');
  const encoded = encodeURIComponent(name).replace(/\./g, '%2E');
  return /^__.*__$/.test(encoded) ? `%5F${encoded.slice(1)}` : encoded;
}

export function decodeFieldKey(key: string): string {
  try {
    return decodeURIComponent(key);
  } catch {
    return key;
  }
}

/** One upstream HTTP attempt, as the HTTP wrapper knows it. */
export interface UpstreamCallSample {
  provider: string;
  operation: string;
  /** ok, quota, http_4xx, http_5xx, timeout, network (the Prometheus counter's outcomes). */
  outcome: string;
  latencyMs: number;
  atMs: number;
}

interface Cell {
  outcomes: Map<string, number>;
  buckets: number[];
  sumMs: number;
}

/** A merge write for the write buffer: `buffer.merge(path, data)`. */
export interface FleetWrite {
  path: string;
  data: Record<string, unknown>;
}

const cellKey = (provider: string, operation: string) => `${provider}\u0000${operation}`;

function shardId(shard: number): string {
  if (!(Number.isInteger(shard) && shard >= 0)) throw new RangeError(`invalid shard: ${shard}`);
  return `s${shard}`;
}

/**
 * One instance's upstream calls not yet handed over, per minute, provider and operation.
 * `drain` turns them into increments of the instance's shard documents (the minute and the
 * hour of each), and forgets them.
 */
export class FleetAccumulator {
  private readonly minutes = new Map<number, Map<string, Cell>>();

  get empty(): boolean {
    return this.minutes.size === 0;
  }

  add(sample: UpstreamCallSample): void {
    if (!Number.isFinite(sample.atMs) || sample.provider === '' || sample.operation === '') return;
    const minuteMs = Math.floor(sample.atMs / MINUTE_MS) * MINUTE_MS;
    let cells = this.minutes.get(minuteMs);
    if (!cells) {
      cells = new Map();
      this.minutes.set(minuteMs, cells);
    }
    const key = cellKey(sample.provider, sample.operation);
    let cell = cells.get(key);
    if (!cell) {
      cell = { outcomes: new Map(), buckets: emptyHistogram(), sumMs: 0 };
      cells.set(key, cell);
    }
    const outcome = sample.outcome || 'unknown';
    cell.outcomes.set(outcome, (cell.outcomes.get(outcome) ?? 0) + 1);
    const latency = Number.isFinite(sample.latencyMs) ? Math.max(0, sample.latencyMs) : 0;
    cell.buckets[bucketIndex(latency)]!++;
    cell.sumMs += latency;
  }

  /** The writes of everything accumulated (minute and hour documents of `shard`); then empty. */
  drain(shard: number, retentionMs = FLEET_RETENTION_MS): FleetWrite[] {
    const id = shardId(shard);
    const hours = new Map<number, Map<string, Cell>>();
    const writes: FleetWrite[] = [];
    for (const [minuteMs, cells] of [...this.minutes].sort(([a], [b]) => a - b)) {
      writes.push({
        path: `${FLEET_MINUTE_COLLECTION}/${minuteKey(minuteMs)}~${id}`,
        data: upstreamData(minuteMs, minuteMs + retentionMs, shard, cells),
      });
      const hourMs = Math.floor(minuteMs / HOUR_MS) * HOUR_MS;
      const hour = hours.get(hourMs) ?? new Map<string, Cell>();
      hours.set(hourMs, hour);
      for (const [key, cell] of cells) {
        const into = hour.get(key) ?? { outcomes: new Map(), buckets: emptyHistogram(), sumMs: 0 };
        for (const [o, n] of cell.outcomes) into.outcomes.set(o, (into.outcomes.get(o) ?? 0) + n);
        mergeHistogram(into.buckets, cell.buckets);
        into.sumMs += cell.sumMs;
        hour.set(key, into);
      }
    }
    for (const [hourMs, cells] of hours) {
      writes.push({
        path: `${FLEET_HOUR_COLLECTION}/${minuteKey(hourMs)}~${id}`,
        // An hour is kept as long as its last minute.
        data: upstreamData(hourMs, hourMs + HOUR_MS + retentionMs, shard, cells),
      });
    }
    this.minutes.clear();
    return writes;
  }
}

function upstreamData(
  atMs: number,
  expiresAtMs: number,
  shard: number,
  cells: Map<string, Cell>,
): Record<string, unknown> {
  const upstream: Record<string, Record<string, unknown>> = {};
  for (const [key, cell] of cells) {
    const [provider, operation] = key.split('\u0000') as [string, string];
    const calls: Record<string, unknown> = {};
    for (const [outcome, n] of cell.outcomes) calls[encodeFieldKey(outcome)] = increment(n);
    const latency: Record<string, unknown> = {};
    cell.buckets.forEach((n, i) => {
      if (n > 0) latency[bucketKey(i)] = increment(n);
    });
    const p = encodeFieldKey(provider);
    upstream[p] ??= {};
    upstream[p][encodeFieldKey(operation)] = {
      calls,
      latency,
      latencySumMs: increment(Math.round(cell.sumMs)),
    };
  }
  return {
    at: new Date(atMs),
    expiresAt: new Date(expiresAtMs),
    kind: 'upstream',
    shard,
    upstream,
  };
}

/** One queue's depth at a moment: a Cloud Tasks queue's tasks, or a Firestore backlog. */
export interface QueueSample {
  queue: string;
  depth: number;
  /** The oldest waiting task's or item's age; null when none waits or it is unknown. */
  oldestAgeSeconds: number | null;
  source: 'cloud_tasks' | 'firestore';
  /** When it was sampled: a queue whose stats stopped being readable keeps its last sample. */
  sampledAtMs?: number;
}

/**
 * The writes that record queue samples taken at `atMs`: the minute's and the hour's `…~queues`
 * documents, each keeping the sum and count of samples (so several samplers average) and the
 * last sample.
 */
export function queueSampleWrites(
  samples: readonly QueueSample[],
  atMs: number,
  retentionMs = FLEET_RETENTION_MS,
): FleetWrite[] {
  if (samples.length === 0 || !Number.isFinite(atMs)) return [];
  const queues: Record<string, unknown> = {};
  for (const s of samples) {
    if (s.queue === '' || !Number.isFinite(s.depth)) continue;
    queues[encodeFieldKey(s.queue)] = {
      depthSum: increment(s.depth),
      samples: increment(1),
      depthLast: s.depth,
      oldestAgeSecondsLast:
        s.oldestAgeSeconds !== null && Number.isFinite(s.oldestAgeSeconds)
          ? s.oldestAgeSeconds
          : null,
      source: s.source,
      sampledAtMs: atMs,
    };
  }
  if (Object.keys(queues).length === 0) return [];
  const minuteMs = Math.floor(atMs / MINUTE_MS) * MINUTE_MS;
  const hourMs = Math.floor(atMs / HOUR_MS) * HOUR_MS;
  const doc = (start: number, expires: number) => ({
    at: new Date(start),
    expiresAt: new Date(expires),
    kind: 'queues',
    queues,
  });
  return [
    {
      path: `${FLEET_MINUTE_COLLECTION}/${minuteKey(minuteMs)}~queues`,
      data: doc(minuteMs, minuteMs + retentionMs),
    },
    {
      path: `${FLEET_HOUR_COLLECTION}/${minuteKey(hourMs)}~queues`,
      data: doc(hourMs, hourMs + HOUR_MS + retentionMs),
    },
  ];
}

/** A stored fleet document as the adapter reads it (`at` as epoch ms). */
export interface FleetDoc {
  atMs: number;
  upstream?: unknown;
  queues?: unknown;
}

const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const count = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);

export interface UpstreamCell {
  provider: string;
  operation: string;
  outcomes: Record<string, number>;
  buckets: number[];
  sumMs: number;
}

/** The cells of a stored `upstream` map; whatever is not a count is ignored. */
export function parseUpstream(raw: unknown): UpstreamCell[] {
  if (!isMap(raw)) return [];
  const cells: UpstreamCell[] = [];
  for (const [p, operations] of Object.entries(raw)) {
    if (!isMap(operations)) continue;
    for (const [op, cell] of Object.entries(operations)) {
      if (!isMap(cell)) continue;
      const outcomes: Record<string, number> = {};
      if (isMap(cell.calls)) {
        for (const [o, n] of Object.entries(cell.calls)) {
          if (count(n) > 0) outcomes[decodeFieldKey(o)] = count(n);
        }
      }
      const buckets = emptyHistogram();
      if (isMap(cell.latency)) {
        for (const [k, n] of Object.entries(cell.latency)) {
          const i = parseBucketKey(k);
          if (i !== undefined) buckets[i]! += count(n);
        }
      }
      cells.push({
        provider: decodeFieldKey(p),
        operation: decodeFieldKey(op),
        outcomes,
        buckets,
        sumMs: count(cell.latencySumMs),
      });
    }
  }
  return cells;
}

export interface QueueCell {
  queue: string;
  depthSum: number;
  samples: number;
  depthLast: number | null;
  oldestAgeSecondsLast: number | null;
  source: string | null;
  sampledAtMs: number | null;
}

export function parseQueues(raw: unknown): QueueCell[] {
  if (!isMap(raw)) return [];
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  return Object.entries(raw).flatMap(([q, cell]): QueueCell[] => {
    if (!isMap(cell)) return [];
    return [
      {
        queue: decodeFieldKey(q),
        depthSum: count(cell.depthSum),
        samples: count(cell.samples),
        depthLast: num(cell.depthLast),
        oldestAgeSecondsLast: num(cell.oldestAgeSecondsLast),
        source: typeof cell.source === 'string' ? cell.source : null,
        sampledAtMs: num(cell.sampledAtMs),
      },
    ];
  });
}

/** Upstream calls of one provider and operation in one step of the answer. */
export interface UpstreamPoint {
  startMs: number;
  provider: string;
  operation: string;
  calls: number;
  outcomes: Record<string, number>;
  p50Ms: number | null;
  p95Ms: number | null;
}

/** Upstream calls of one provider and operation over the whole range. */
export interface UpstreamTotal {
  provider: string;
  operation: string;
  calls: number;
  outcomes: Record<string, number>;
  /** Calls that were not `ok`, per call; null without calls. */
  errorRate: number | null;
  /** Quota errors (429 and recognised throttles) per call; null without calls. */
  quotaErrorRate: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
  meanMs: number | null;
}

/** One queue's depth in one step: the mean of the samples, and the age the last one saw. */
export interface QueuePoint {
  startMs: number;
  queue: string;
  source: string | null;
  depth: number;
  samples: number;
  oldestAgeSeconds: number | null;
}

export interface FleetSummary {
  points: UpstreamPoint[];
  totals: UpstreamTotal[];
  queues: QueuePoint[];
}

interface Acc {
  startMs: number;
  provider: string;
  operation: string;
  outcomes: Record<string, number>;
  buckets: number[];
  sumMs: number;
}

function addCell(map: Map<string, Acc>, key: string, cell: UpstreamCell, startMs: number): void {
  const acc = map.get(key) ?? {
    startMs,
    provider: cell.provider,
    operation: cell.operation,
    outcomes: {},
    buckets: emptyHistogram(),
    sumMs: 0,
  };
  for (const [o, n] of Object.entries(cell.outcomes)) acc.outcomes[o] = (acc.outcomes[o] ?? 0) + n;
  mergeHistogram(acc.buckets, cell.buckets);
  acc.sumMs += cell.sumMs;
  map.set(key, acc);
}

const sum = (outcomes: Record<string, number>) =>
  Object.values(outcomes).reduce((a, b) => a + b, 0);

/**
 * Merges stored documents at or after `fromMs` into steps of `stepMs` (epoch-aligned) per
 * provider and operation, and totals over all of them; queue samples per step and queue.
 * Percentiles come from the merged histograms. `provider` keeps one provider's calls only.
 */
export function summarizeFleet(
  docs: readonly FleetDoc[],
  options: { fromMs: number; stepMs: number; provider?: string },
): FleetSummary {
  const { fromMs, stepMs } = options;
  if (!(stepMs > 0)) throw new RangeError(`stepMs must be positive: ${stepMs}`);
  const steps = new Map<string, Acc>();
  const totals = new Map<string, Acc>();
  const queues = new Map<string, QueuePoint & { depthSum: number; lastSampleAtMs: number }>();
  for (const doc of docs) {
    if (!(doc.atMs >= fromMs)) continue;
    const startMs = Math.floor(doc.atMs / stepMs) * stepMs;
    for (const cell of parseUpstream(doc.upstream)) {
      if (options.provider !== undefined && cell.provider !== options.provider) continue;
      const key = cellKey(cell.provider, cell.operation);
      addCell(totals, key, cell, fromMs);
      addCell(steps, `${startMs}\u0000${key}`, cell, startMs);
    }
    for (const cell of parseQueues(doc.queues)) {
      if (cell.samples <= 0) continue;
      const key = `${startMs}\u0000${cell.queue}`;
      const point = queues.get(key) ?? {
        startMs,
        queue: cell.queue,
        source: cell.source,
        depth: 0,
        samples: 0,
        oldestAgeSeconds: null,
        depthSum: 0,
        lastSampleAtMs: Number.NEGATIVE_INFINITY,
      };
      point.depthSum += cell.depthSum;
      point.samples += cell.samples;
      const sampledAt = cell.sampledAtMs ?? doc.atMs;
      if (sampledAt >= point.lastSampleAtMs) {
        point.lastSampleAtMs = sampledAt;
        point.oldestAgeSeconds = cell.oldestAgeSecondsLast;
        point.source = cell.source ?? point.source;
      }
      queues.set(key, point);
    }
  }
  const order = (a: { provider: string; operation: string }, b: typeof a) =>
    a.provider.localeCompare(b.provider) || a.operation.localeCompare(b.operation);
  return {
    points: [...steps.values()]
      .map((s) => ({
        startMs: s.startMs,
        provider: s.provider,
        operation: s.operation,
        calls: sum(s.outcomes),
        outcomes: s.outcomes,
        p50Ms: histogramQuantile(s.buckets, 0.5),
        p95Ms: histogramQuantile(s.buckets, 0.95),
      }))
      .sort((a, b) => a.startMs - b.startMs || order(a, b)),
    totals: [...totals.values()].map(totalOf).sort(order),
    queues: [...queues.values()]
      .map(({ startMs, queue, source, depthSum, samples, oldestAgeSeconds }) => ({
        startMs,
        queue,
        source,
        depth: samples > 0 ? depthSum / samples : 0,
        samples,
        oldestAgeSeconds,
      }))
      .sort((a, b) => a.startMs - b.startMs || a.queue.localeCompare(b.queue)),
  };
}

function totalOf(acc: Acc): UpstreamTotal {
  const calls = sum(acc.outcomes);
  return {
    provider: acc.provider,
    operation: acc.operation,
    calls,
    outcomes: acc.outcomes,
    errorRate: calls > 0 ? (calls - (acc.outcomes.ok ?? 0)) / calls : null,
    quotaErrorRate: calls > 0 ? (acc.outcomes.quota ?? 0) / calls : null,
    p50Ms: histogramQuantile(acc.buckets, 0.5),
    p95Ms: histogramQuantile(acc.buckets, 0.95),
    meanMs: calls > 0 ? acc.sumMs / calls : null,
  };
}

/** The newest sample of each queue among the documents at or after `fromMs`. */
export function latestQueueSamples(docs: readonly FleetDoc[], fromMs: number): QueueSample[] {
  const latest = new Map<string, { atMs: number; sample: QueueSample }>();
  for (const doc of docs) {
    if (!(doc.atMs >= fromMs)) continue;
    for (const cell of parseQueues(doc.queues)) {
      if (cell.depthLast === null) continue;
      const atMs = cell.sampledAtMs ?? doc.atMs;
      const seen = latest.get(cell.queue);
      if (seen && seen.atMs > atMs) continue;
      latest.set(cell.queue, {
        atMs,
        sample: {
          queue: cell.queue,
          depth: cell.depthLast,
          oldestAgeSeconds: cell.oldestAgeSecondsLast,
          source: cell.source === 'cloud_tasks' ? 'cloud_tasks' : 'firestore',
          sampledAtMs: atMs,
        },
      });
    }
  }
  return [...latest.values()].map((l) => l.sample).sort((a, b) => a.queue.localeCompare(b.queue));
}

/** Ranges up to this many minutes are answered from the per-minute documents. */
export const MINUTE_SOURCE_MAX_MINUTES = 360;
/** Points per provider and operation one answer holds at most. */
export const MAX_POINTS_PER_SERIES = 250;

const MINUTE_STEPS = [1, 5, 15, 30, 60].map((m) => m * MINUTE_MS);
const HOUR_STEPS = [1, 3, 6, 12, 24].map((h) => h * HOUR_MS);

/**
 * Where a range of `minutes` recent minutes is read from, and the step of the answer: the
 * per-minute documents up to six hours, the hourly ones beyond (so thirty days read at most
 * 720 hours of FLEET_SHARDS + 1 documents), and a step that keeps each series within
 * MAX_POINTS_PER_SERIES points.
 */
export function fleetResolution(
  minutes: number,
  nowMs: number,
): { source: 'minute' | 'hour'; fromMs: number; stepMs: number } {
  const source = minutes <= MINUTE_SOURCE_MAX_MINUTES ? 'minute' : 'hour';
  const unit = source === 'minute' ? MINUTE_MS : HOUR_MS;
  const currentMinute = Math.floor(nowMs / MINUTE_MS) * MINUTE_MS;
  const fromMinute = currentMinute - (minutes - 1) * MINUTE_MS;
  const fromMs = Math.floor(fromMinute / unit) * unit;
  const rangeMs = currentMinute + MINUTE_MS - fromMs;
  const steps = source === 'minute' ? MINUTE_STEPS : HOUR_STEPS;
  const stepMs =
    // Steps are aligned to the epoch, so a range touches up to one more than it spans.
    steps.find((s) => Math.ceil(rangeMs / s) + 1 <= MAX_POINTS_PER_SERIES) ?? steps.at(-1)!;
  return { source, fromMs, stepMs };
}
