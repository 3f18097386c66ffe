import { type FleetDoc, parseQueues, parseUpstream, type UpstreamCell } from './fleet-documents';
import { cellKey } from './fleet-stats';
import type { QueueSample } from './fleet-writes';
import { emptyHistogram, histogramQuantile, mergeHistogram } from './latency-histogram';

/**
 * Stored fleet documents merged and summarised: upstream calls per step and in total with
 * percentiles from the merged histograms, queue depths per step, and each queue's latest
 * sample. Pure.
 */

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
