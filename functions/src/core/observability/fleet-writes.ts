import { increment } from '../storage/write-buffer/field-ops';
import { minuteKey } from '../storage/write-buffer/usage-stats';
import {
  cellKey,
  encodeFieldKey,
  FLEET_HOUR_COLLECTION,
  FLEET_MINUTE_COLLECTION,
  FLEET_RETENTION_MS,
  HOUR_MS,
  MINUTE_MS,
} from './fleet-stats';
import { bucketIndex, bucketKey, emptyHistogram, mergeHistogram } from './latency-histogram';

/**
 * What fleet statistics write (layout: fleet-stats.ts): one instance's upstream calls
 * accumulated and drained as increments of its shard's minute and hour documents, and queue
 * samples as writes of the `…~queues` documents. Pure.
 */

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
