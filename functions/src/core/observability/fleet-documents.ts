import { decodeFieldKey } from './fleet-stats';
import { emptyHistogram, parseBucketKey } from './latency-histogram';

/**
 * Stored fleet documents read (layout: fleet-stats.ts): their `upstream` and `queues` maps as
 * cells, whatever is not a count ignored. Pure.
 */

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
