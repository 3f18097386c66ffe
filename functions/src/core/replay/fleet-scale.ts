/**
 * What a simulated fleet asks of Firestore and Cloud Tasks, measured as the simulator runs:
 * claim documents created per limit (one key range each: claim ids are `<limit key>~<line
 * origin>-<block number>`, sequential within the limit), statistics documents the instances'
 * group-commit buffers write (`usageStats` and `demandStats`: every instance that decided a
 * kind of call within a flush interval writes that minute's document once), and the work
 * queue's dispatches per provider (every ask is a task dispatch: first asks and re-asks).
 */

/** Firestore and Cloud Tasks limits the report compares against, with their sources. */
export const SCALE_LIMITS = {
  /** Writes per second to a new collection or key range before it has ramped up (500/50/5). */
  rampStartWritesPerSecond: 500,
  /** Sequential keys or indexed values: one key range, ~500 writes/s however long it runs. */
  sequentialRangeWritesPerSecond: 500,
  /** Sustained writes to one document (a soft limit: contention and latency beyond). */
  documentWritesPerSecond: 1,
  /** Cloud Tasks: max_dispatches_per_second of one queue. */
  queueDispatchesPerSecond: 500,
} as const;

export const SCALE_SOURCES = {
  ramp: 'https://firebase.google.com/docs/firestore/best-practices#ramping_up_traffic',
  hotspots: 'https://firebase.google.com/docs/firestore/best-practices#hotspots',
  sequential: 'https://firebase.google.com/docs/firestore/quotas#writes_and_transactions',
  document:
    'https://firebase.google.com/docs/firestore/best-practices#updates_to_a_single_document',
  queue:
    'https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues#ratelimits',
} as const;

/** How long 500/50/5 takes to reach `writesPerSecond` from 500: +50% every 5 minutes. */
export function rampMinutes(writesPerSecond: number): number {
  if (writesPerSecond <= SCALE_LIMITS.rampStartWritesPerSecond) return 0;
  return (
    5 * Math.ceil(Math.log(writesPerSecond / SCALE_LIMITS.rampStartWritesPerSecond) / Math.log(1.5))
  );
}

class PerSecond {
  readonly total = new Map<string, number>();
  private readonly bySecond = new Map<string, number>();
  readonly peak = new Map<string, number>();

  add(key: string, atMs: number, n = 1) {
    this.total.set(key, (this.total.get(key) ?? 0) + n);
    const id = `${key}\u0000${Math.floor(atMs / 1000)}`;
    const v = (this.bySecond.get(id) ?? 0) + n;
    this.bySecond.set(id, v);
    if (v > (this.peak.get(key) ?? 0)) this.peak.set(key, v);
    if (this.bySecond.size > 200_000) this.bySecond.clear();
  }
}

export interface ScaleReport {
  seconds: number;
  instances: number;
  collections: Array<{ collection: string; writesPerSecond: number; peakPerSecond: number }>;
  /** The busiest key ranges of quotaBlocks (one per limit key). */
  hotRanges: Array<{
    range: string;
    writesPerSecond: number;
    peakPerSecond: number;
    overSequentialLimit: boolean;
  }>;
  /** The busiest statistics documents: writes per second against the 1/s guidance. */
  hotDocuments: Array<{ document: string; writesPerSecond: number }>;
  queues: Array<{
    provider: string;
    dispatchesPerSecond: number;
    peakPerSecond: number;
    queuesNeeded: number;
  }>;
}

/**
 * How often an instance's buffers write the statistics documents: usage through the instance's
 * write buffer (250 ms), demand through its own buffer (10 s); the adapters' values are passed in
 * (core imports no adapter), these are the defaults.
 */
export interface StatsFlushIntervals {
  usageMs: number;
  demandMs: number;
}

/** One buffer's next flush: the interval it closes (`bucket` of `intervalMs`) and its documents. */
interface PendingFlush {
  bucket: number;
  intervalMs: number;
  docs: Set<string>;
}

export class WriteMeter {
  private readonly claims = new PerSecond();
  private readonly stats = new PerSecond();
  private readonly statDocs = new PerSecond();
  private readonly dispatches = new PerSecond();
  /** Per instance and statistics collection: the documents its current flush will write. */
  private readonly pending = new Map<string, PendingFlush>();

  /**
   * `untilMs`: the end of the measured range. What happens after it (a claim or dispatch from
   * its end on, a buffer's flush that falls later) is not counted: rates are per second of the
   * range. Flushes are aligned to their interval, so a range of whole intervals (30 s against
   * the 10 s demand flush) counts each buffer's writes exactly.
   */
  constructor(
    readonly flush: StatsFlushIntervals = { usageMs: 250, demandMs: 10_000 },
    private readonly untilMs = Number.POSITIVE_INFINITY,
  ) {}

  claim(limitKey: string, atMs: number): void {
    if (atMs < this.untilMs) this.claims.add(limitKey, atMs);
  }

  dispatch(provider: string, atMs: number): void {
    if (atMs < this.untilMs) this.dispatches.add(provider, atMs);
  }

  /** A decision on `instance`: each of its buffers writes each minute document once per flush. */
  decision(instance: number, provider: string, category: string, operation: string, atMs: number) {
    const minute = Math.floor(atMs / 60_000);
    this.buffer(`${instance}u`, this.flush.usageMs, atMs).add(
      `usageStats/${provider}~${category}~${minute}`,
    );
    this.buffer(`${instance}d`, this.flush.demandMs, atMs).add(
      `demandStats/${provider}~${category}~${operation}~${minute}`,
    );
  }

  private buffer(key: string, intervalMs: number, atMs: number): Set<string> {
    const bucket = Math.floor(atMs / intervalMs);
    let p = this.pending.get(key);
    if (!p || p.bucket !== bucket) {
      if (p) this.write(p);
      p = { bucket, intervalMs, docs: new Set() };
      this.pending.set(key, p);
    }
    return p.docs;
  }

  private write(p: PendingFlush) {
    const atMs = (p.bucket + 1) * p.intervalMs;
    // A flush at the range's end writes what its last interval buffered: one of the range's.
    if (atMs > this.untilMs) return;
    for (const doc of p.docs) {
      this.stats.add(doc.slice(0, doc.indexOf('/')), atMs);
      this.statDocs.add(doc, atMs);
    }
  }

  report(seconds: number, instances: number, top = 5): ScaleReport {
    for (const p of this.pending.values()) this.write(p);
    this.pending.clear();
    const rate = (n: number) => n / seconds;
    const claimTotal = [...this.claims.total.values()].reduce((s, n) => s + n, 0);
    const collections = [
      {
        collection: 'quotaBlocks',
        writesPerSecond: rate(claimTotal),
        peakPerSecond: Math.max(0, ...sumPeaks(this.claims)),
      },
      ...[...this.stats.total].map(([collection, n]) => ({
        collection,
        writesPerSecond: rate(n),
        peakPerSecond: this.stats.peak.get(collection) ?? 0,
      })),
    ];
    const hotRanges = [...this.claims.total]
      .map(([range, n]) => ({
        range,
        writesPerSecond: rate(n),
        peakPerSecond: this.claims.peak.get(range) ?? 0,
        overSequentialLimit:
          (this.claims.peak.get(range) ?? 0) > SCALE_LIMITS.sequentialRangeWritesPerSecond,
      }))
      .sort((a, b) => b.writesPerSecond - a.writesPerSecond)
      .slice(0, top);
    const hotDocuments = [...this.statDocs.total]
      .map(([document, n]) => ({ document, writesPerSecond: rate(n) }))
      .sort((a, b) => b.writesPerSecond - a.writesPerSecond)
      .slice(0, top);
    const queues = [...this.dispatches.total].map(([provider, n]) => ({
      provider,
      dispatchesPerSecond: rate(n),
      peakPerSecond: this.dispatches.peak.get(provider) ?? 0,
      queuesNeeded: Math.ceil(rate(n) / SCALE_LIMITS.queueDispatchesPerSecond),
    }));
    return { seconds, instances, collections, hotRanges, hotDocuments, queues };
  }
}

/** Peaks of a meter's keys summed per second are not kept; the sum of per-key peaks bounds it. */
function sumPeaks(meter: PerSecond): number[] {
  return [[...meter.peak.values()].reduce((s, n) => s + n, 0)];
}
