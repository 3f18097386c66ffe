import { DEFAULT_USAGE_RETENTION_MS } from '../storage/write-buffer/usage-stats';

/**
 * Fleet-wide upstream and queue statistics, per minute and per hour, in Firestore: what every
 * instance saw, where Prometheus counters only see the one process a scrape reaches. Pure:
 * the documents' layout (below), their field keys and where a range is read from; the
 * increments one instance's calls make to them are in fleet-writes.ts (buckets:
 * latency-histogram.ts), and how the stored documents are parsed and then merged and summarised
 * in fleet-documents.ts and fleet-summary.ts (adapters/observability/fleet-stats.ts reads and
 * writes them).
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

export const cellKey = (provider: string, operation: string) => `${provider}\u0000${operation}`;

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
