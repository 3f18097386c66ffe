import { FieldValue, type Firestore } from 'firebase-admin/firestore';
import { logger } from '../../log';
import { docId, QUOTA_COLLECTIONS } from './collections';

/**
 * The cooldown store's hit counts (cooldowns.ts): hits on a cooldown episode, counted in memory
 * and written to its `cooldownHistory` entry in batches.
 */

interface PendingHits {
  provider: string;
  episode: number;
  count: number;
}

/** Retries of a failed hit-count flush back off up to this many doublings of the interval. */
const MAX_FLUSH_BACKOFF = 5;

/**
 * Hits on a cooldown, counted in this instance and written in batches to the episode's history
 * entry (`cooldownHistory`), so a storm of 429s costs one increment per interval.
 */
export class CooldownHitCounts {
  /** Hits counted but not written yet, by history document (provider and episode). */
  private readonly pendingHits = new Map<string, PendingHits>();
  private hitTimer: NodeJS.Timeout | undefined;
  private flushFailures = 0;

  constructor(
    private readonly db: Firestore,
    private readonly hitFlushMs: number,
    /** Called for each document written, for the write-cost accounting. */
    private readonly wrote: () => void,
  ) {}

  countHit(provider: string, episode: number, count = 1): void {
    const key = docId(provider, String(episode));
    const pending = this.pendingHits.get(key);
    if (pending) pending.count += count;
    else this.pendingHits.set(key, { provider, episode, count });
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.hitTimer) return;
    const delay = this.hitFlushMs * 2 ** Math.min(this.flushFailures, MAX_FLUSH_BACKOFF);
    this.hitTimer = setTimeout(() => {
      this.hitTimer = undefined;
      this.flushHits().catch((error: unknown) =>
        logger.warn({ err: error }, 'cooldown hit counts not written; they are retried'),
      );
    }, delay);
  }

  /**
   * Writes counted hits: one increment per provider and episode, however many hits arrived.
   * Counts whose write fails are put back (and a retry scheduled) before it rejects.
   */
  async flushHits(): Promise<void> {
    clearTimeout(this.hitTimer);
    this.hitTimer = undefined;
    const pending = [...this.pendingHits.values()];
    this.pendingHits.clear();
    const results = await Promise.allSettled(
      pending.map(async ({ provider, episode, count }) => {
        await this.db
          .collection(QUOTA_COLLECTIONS.cooldownHistory)
          .doc(docId(provider, String(episode)))
          .set({ provider, hits: FieldValue.increment(count) }, { merge: true });
        this.wrote();
      }),
    );
    const failed = pending.filter((_, i) => results[i]!.status === 'rejected');
    if (failed.length === 0) {
      this.flushFailures = 0;
      return;
    }
    // Put the uncounted hits back; the next flush (scheduled here, backing off) writes them.
    this.flushFailures++;
    for (const { provider, episode, count } of failed) this.countHit(provider, episode, count);
    const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    throw errors.length === 1
      ? errors[0]
      : new AggregateError(errors, `${errors.length} cooldown hit counts not written`);
  }
}
