import { type Firestore, Timestamp } from 'firebase-admin/firestore';
import {
  isUsableReading,
  type MeterProjection,
  type MeterReading,
  type SharePolicy,
  shouldShare,
} from '../../core/quota/meters';
import { logger } from '../../log';
import { QUOTA_COLLECTIONS } from './collections';

export interface MeterStoreOptions {
  now?: () => number;
  /** How long an instance trusts its copy of the shared reading. */
  cacheMs?: number;
  /** A reading showing nothing new is written at most this often (see shouldShare). */
  shareIntervalMs?: number;
  /** A deficit ending no more than this later than the shared one is not written. */
  toleranceMs?: number;
  /** Recorded with each write, for diagnostics. */
  instanceId?: string;
}

/** The shared reading as stored in `quotaMeters/{provider}`; undefined when absent or unusable. */
export function meterFromDoc(data: FirebaseFirestore.DocumentData | undefined) {
  if (!data) return undefined;
  const reading: MeterReading = {
    balance: Number(data.balance),
    atMs: Number(data.atMs),
    ratePerSecond: Number(data.ratePerSecond),
    capacity: Number(data.capacity),
  };
  return isUsableReading(reading) ? reading : undefined;
}

function newer(a: MeterReading | undefined, b: MeterReading | undefined) {
  if (!a) return b;
  if (!b) return a;
  return b.atMs > a.atMs ? b : a;
}

/**
 * Upstream meters shared between instances: the newest reading any instance observed is kept in
 * `quotaMeters/{provider}`, and every instance adopts it into its own projection when it is
 * newer than what it saw itself, so a deficit one instance met stops the others too. Reads are
 * cached briefly (a second: a deficit reaches every instance within about that). Writes are few:
 * a reading is written only when it changes what others would decide (shouldShare), through a
 * transaction that never lets an older reading replace a newer one. Local spending between
 * reports stays in each instance's projection.
 */
export class MeterStore {
  private readonly reads = new Map<
    string,
    { value: Promise<MeterReading | undefined>; atMs: number }
  >();
  /** The newest shared reading this instance knows of, read or written. */
  private readonly known = new Map<string, MeterReading>();
  private readonly lastWriteMs = new Map<string, number>();
  /** One write at a time per provider; readings arriving meanwhile wait, the newest only. */
  private readonly queues = new Map<string, { running: Promise<void>; next?: MeterReading }>();
  private readonly now: () => number;
  private readonly cacheMs: number;
  private readonly intervalMs: number;
  private readonly toleranceMs: number;
  /** Documents written, for the write-cost accounting. */
  writes = 0;

  constructor(
    private readonly db: Firestore,
    private readonly meters: MeterProjection,
    private readonly options: MeterStoreOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.cacheMs = options.cacheMs ?? 1_000;
    this.intervalMs = options.shareIntervalMs ?? 5_000;
    this.toleranceMs = options.toleranceMs ?? 1_000;
  }

  private ref(provider: string) {
    return this.db.collection(QUOTA_COLLECTIONS.meters).doc(provider);
  }

  /**
   * The shared reading (cached `cacheMs`), adopted into the local projection when it is newer
   * than the instance's own. A failed read leaves the local projection to decide.
   */
  refresh(provider: string): Promise<MeterReading | undefined> {
    const now = this.now();
    const cached = this.reads.get(provider);
    if (cached && now - cached.atMs < this.cacheMs) return cached.value;
    const value = this.ref(provider)
      .get()
      .then(
        (snap) => {
          const reading = meterFromDoc(snap.data());
          if (reading) this.remember(provider, reading);
          return reading;
        },
        (error: unknown) => {
          if (this.reads.get(provider)?.value === value) this.reads.delete(provider);
          logger.warn({ err: error, provider }, 'shared meter not read');
          return this.known.get(provider);
        },
      );
    this.reads.set(provider, { value, atMs: now });
    return value;
  }

  private remember(provider: string, reading: MeterReading): void {
    const known = newer(this.known.get(provider), reading)!;
    this.known.set(provider, known);
    this.meters.observe(provider, known);
  }

  private policy(provider: string, withLastWrite: boolean): SharePolicy {
    return {
      nowMs: this.now(),
      lastWriteMs: withLastWrite ? this.lastWriteMs.get(provider) : undefined,
      intervalMs: this.intervalMs,
      toleranceMs: this.toleranceMs,
    };
  }

  private wants(provider: string, reading: MeterReading): boolean {
    return shouldShare(reading, this.known.get(provider), this.policy(provider, true));
  }

  /**
   * Offers a reading this instance observed to the others. Resolves once it is written, or
   * found not worth writing; never rejects (a failed write is logged: the instance's own
   * projection has the reading all the same).
   */
  share(provider: string, reading: MeterReading): Promise<void> {
    if (!this.wants(provider, reading)) return Promise.resolve();
    const queued = this.queues.get(provider);
    if (queued) {
      if (!queued.next || queued.next.atMs < reading.atMs) queued.next = { ...reading };
      return queued.running;
    }
    const entry: { running: Promise<void>; next?: MeterReading } = {
      running: Promise.resolve(),
      next: { ...reading },
    };
    this.queues.set(provider, entry);
    entry.running = this.drain(provider, entry);
    return entry.running;
  }

  private async drain(provider: string, entry: { next?: MeterReading }): Promise<void> {
    try {
      while (entry.next) {
        const reading = entry.next;
        entry.next = undefined;
        if (this.wants(provider, reading)) await this.write(provider, reading);
      }
    } finally {
      this.queues.delete(provider);
    }
  }

  private async write(provider: string, reading: MeterReading): Promise<void> {
    try {
      const outcome = await this.db.runTransaction(async (tx) => {
        const ref = this.ref(provider);
        const current = meterFromDoc((await tx.get(ref)).data());
        // Checked again on the document itself: a newer reading stays, and one written by
        // another instance a moment ago may already say what this one would.
        if (!shouldShare(reading, current, this.policy(provider, false))) {
          return { wrote: false, current };
        }
        tx.set(ref, {
          provider,
          balance: reading.balance,
          atMs: reading.atMs,
          ratePerSecond: reading.ratePerSecond,
          capacity: reading.capacity,
          writtenAt: Timestamp.fromMillis(this.now()),
          instanceId: this.options.instanceId ?? null,
        });
        return { wrote: true, current: reading };
      });
      if (outcome.wrote) {
        this.writes++;
        this.lastWriteMs.set(provider, this.now());
      }
      if (outcome.current) this.remember(provider, outcome.current);
    } catch (error) {
      logger.warn({ err: error, provider }, 'shared meter not written');
    }
  }
}
