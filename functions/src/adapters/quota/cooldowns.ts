import { type Firestore, Timestamp } from 'firebase-admin/firestore';
import {
  type Cooldown,
  DEFAULT_MAX_RETRY_AFTER_SECONDS,
  extendsCooldown,
  requestedUntil,
} from '../../core/quota/cooldown';
import type { QuotaExceededError } from '../../core/quota/errors';
import { logger } from '../../log';
import { docId, QUOTA_COLLECTIONS } from './collections';
import { cooldownRef, fromDoc, readCooldownHistory, writeCooldownHit } from './cooldown-documents';
import { CooldownHitCounts } from './cooldown-hits';

export interface CooldownStoreOptions {
  now?: () => number;
  /** How long an instance trusts its cached copy. */
  cacheMs?: number;
  /** How often counted hits are written (one increment per instance per interval). */
  hitFlushMs?: number;
}

interface Cached {
  value: Cooldown | undefined;
  readAtMs: number;
  /** `CooldownStore.seq` when the information was read: a read never replaces newer knowledge. */
  seq: number;
}

/** A cooldown this instance holds on its own, before (or without) the document saying so. */
interface Hold {
  untilMs: number;
  sinceMs: number;
  operation: string;
  /** `CooldownStore.seq` when set: only a document read after it can show it is covered. */
  seq: number;
}

/**
 * Cooldowns as documents: a quota error writes `cooldowns/{provider}` (until = the later of the
 * current end and now + Retry-After, rounded up to a granularity), which survives restarts and
 * is shared by every instance; each instance caches it for at most a second.
 *
 * The instance that sees a 429 holds the cooldown locally from that moment (`untilMs` and
 * `current` answer it before the transaction commits), and keeps holding it until a document
 * read after the hit shows it, or it ends.
 *
 * A storm of simultaneous 429s writes one cooldown: simultaneous hits ask for the same rounded
 * end, concurrent hits in an instance share one transaction, and a transaction that finds the
 * cooldown already ending at or after what a hit asks writes nothing; hits are counted in
 * batches.
 */
export class CooldownStore {
  private readonly cache = new Map<string, Cached>();
  private readonly holds = new Map<string, Hold>();
  private readonly inflight = new Map<string, Promise<Cooldown>>();
  private readonly hits: CooldownHitCounts;
  /** Episodes this instance saw active, to log their end once (provider and start). */
  private readonly activeEpisodes = new Set<string>();
  /** Orders what this instance learns: holds, document reads, its own commits. */
  private seq = 0;
  private readonly now: () => number;
  private readonly cacheMs: number;
  /** Documents written, for the write-cost accounting. */
  writes = 0;

  constructor(
    private readonly db: Firestore,
    options: CooldownStoreOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.cacheMs = options.cacheMs ?? 1_000;
    this.hits = new CooldownHitCounts(db, options.hitFlushMs ?? 1_000, () => {
      this.writes++;
    });
  }

  private ref(provider: string) {
    return cooldownRef(this.db, provider);
  }

  /** The provider's cooldown as this instance knows it: the document, or a longer local hold. */
  async current(provider: string): Promise<Cooldown | undefined> {
    const cached = this.cache.get(provider);
    const now = this.now();
    if (!cached || now - cached.readAtMs >= this.cacheMs) {
      const seq = this.seq;
      const value = fromDoc(provider, (await this.ref(provider).get()).data());
      this.remember(provider, value, now, seq);
    }
    return this.effective(provider, this.now());
  }

  async untilMs(provider: string): Promise<number | undefined> {
    return (await this.current(provider))?.untilMs;
  }

  /**
   * Holds a cooldown until `untilMs` in this instance only, at once and without a write (the
   * caller records the hit itself). Never shortens what the instance already holds.
   */
  holdLocally(provider: string, untilMs: number): void {
    this.hold(provider, untilMs, '');
  }

  /**
   * Records a quota error: starts or extends the provider's cooldown, for the error's
   * Retry-After cut to `maxSeconds` (the provider's `maxRetryAfterSeconds`), else for
   * `defaultSeconds`. The instance holds the cooldown this hit asks for synchronously, before
   * anything is awaited.
   */
  async recordHit(
    error: QuotaExceededError,
    defaultSeconds: number,
    maxSeconds: number = DEFAULT_MAX_RETRY_AFTER_SECONDS,
  ): Promise<Cooldown> {
    const provider = error.provider;
    const seenAt = this.now();
    const asked = requestedUntil(seenAt, error.retryAfterSeconds, defaultSeconds, maxSeconds);
    // Before the first await: from here `untilMs` answers the later of the cooldown the instance
    // knows and what this hit asks, i.e. cooldownUntil(known, seenAt, retryAfter, default).
    this.hold(provider, asked, error.operation);
    return this.record(error, asked, seenAt);
  }

  private async record(error: QuotaExceededError, asked: number, seenAt: number) {
    const provider = error.provider;
    // Hits while this instance's write is in flight wait for it: it usually covers them.
    for (
      let running = this.inflight.get(provider);
      running;
      running = this.inflight.get(provider)
    ) {
      try {
        const cooldown = await running;
        if (!extendsCooldown(cooldown, asked, seenAt)) {
          this.countHit(provider, cooldown.startedAtMs);
          return cooldown;
        }
      } catch {
        // That hit's caller has its error; this hit tries its own write.
      }
    }
    const cached = this.cache.get(provider);
    if (
      cached?.value &&
      this.now() - cached.readAtMs < this.cacheMs &&
      !extendsCooldown(cached.value, asked, seenAt)
    ) {
      this.countHit(provider, cached.value.startedAtMs);
      return cached.value;
    }
    const promise = this.writeHit(error, asked).finally(() => {
      if (this.inflight.get(provider) === promise) this.inflight.delete(provider);
    });
    this.inflight.set(provider, promise);
    return promise;
  }

  private async writeHit(error: QuotaExceededError, asked: number): Promise<Cooldown> {
    const provider = error.provider;
    const result = await writeCooldownHit(this.db, error, asked, () => this.now());
    if (result.wrote) {
      this.writes += 2;
      const { cooldown } = result;
      // One line per episode start and per extension: operators alert on WARNING.
      logger.warn(
        {
          provider,
          operation: error.operation,
          until: new Date(cooldown.untilMs).toISOString(),
          untilMs: cooldown.untilMs,
          retryAfterSeconds: error.retryAfterSeconds ?? null,
          hits: cooldown.hits,
        },
        cooldown.hits === 1 ? 'cooldown started' : 'cooldown extended',
      );
    } else this.countHit(provider, result.cooldown.startedAtMs);
    // Committed: newer than any read still in flight.
    this.remember(provider, result.cooldown, this.now(), ++this.seq);
    return result.cooldown;
  }

  private hold(provider: string, untilMs: number, operation: string): void {
    const now = this.now();
    if (!(untilMs > now)) return;
    const held = this.holds.get(provider);
    const alive = held !== undefined && held.untilMs > now;
    if (alive && held.untilMs >= untilMs) return;
    this.holds.set(provider, {
      untilMs,
      sinceMs: alive ? held.sinceMs : now,
      operation: alive && !operation ? held.operation : operation,
      seq: ++this.seq,
    });
  }

  /**
   * Caches what the document says, unless newer knowledge is cached already (a read that began
   * before this instance committed a hit must not replace the commit). Drops the local hold once
   * a document read after it covers it: from then on the document decides (an operator's clear
   * included).
   */
  private remember(provider: string, value: Cooldown | undefined, readAtMs: number, seq: number) {
    const cached = this.cache.get(provider);
    if (cached && cached.seq > seq) return;
    this.cache.set(provider, { value, readAtMs, seq });
    const hold = this.holds.get(provider);
    if (hold && seq >= hold.seq && value && value.untilMs >= hold.untilMs) {
      this.holds.delete(provider);
    }
  }

  /**
   * Logs, once per episode in this instance, that a cooldown it saw active has ended (at INFO:
   * the provider is called again from now on).
   */
  private noticeEnd(provider: string, value: Cooldown | undefined, now: number): void {
    if (!value) return;
    const episode = `${provider}\u0000${value.startedAtMs}`;
    if (value.untilMs > now) {
      this.activeEpisodes.add(episode);
      return;
    }
    if (!this.activeEpisodes.delete(episode)) return;
    logger.info(
      {
        provider,
        operation: value.lastOperation,
        startedAt: new Date(value.startedAtMs).toISOString(),
        until: new Date(value.untilMs).toISOString(),
        hits: value.hits,
      },
      'cooldown ended',
    );
  }

  /** The cached document, extended to the local hold while the hold lasts. */
  private effective(provider: string, now: number): Cooldown | undefined {
    const value = this.cache.get(provider)?.value;
    this.noticeEnd(provider, value, now);
    const hold = this.holds.get(provider);
    if (!hold) return value;
    if (hold.untilMs <= now) {
      this.holds.delete(provider);
      return value;
    }
    if (value && value.untilMs >= hold.untilMs) return value;
    if (value && value.untilMs > now) return { ...value, untilMs: hold.untilMs };
    return {
      provider,
      untilMs: hold.untilMs,
      startedAtMs: hold.sinceMs,
      lastOperation: hold.operation,
      hits: 0,
    };
  }

  private countHit(provider: string, episode: number, count = 1): void {
    this.hits.countHit(provider, episode, count);
  }

  /**
   * Writes counted hits: one increment per provider and episode, however many hits arrived.
   * Counts whose write fails are put back (and a retry scheduled) before it rejects.
   */
  flushHits(): Promise<void> {
    return this.hits.flushHits();
  }

  /** An operator ends a cooldown early. */
  async clear(provider: string, by: string): Promise<Cooldown | undefined> {
    // The document's cooldown, not a local hold: the history entry is the document's episode.
    await this.current(provider);
    const before = this.cache.get(provider)?.value;
    await this.ref(provider).delete();
    this.writes++;
    this.holds.delete(provider);
    this.remember(provider, undefined, this.now(), ++this.seq);
    if (before) {
      await this.db
        .collection(QUOTA_COLLECTIONS.cooldownHistory)
        .doc(docId(provider, String(before.startedAtMs)))
        .set({ clearedAt: Timestamp.fromMillis(this.now()), clearedBy: by }, { merge: true });
      this.writes++;
    }
    return before;
  }

  history(provider: string, limit = 20) {
    return readCooldownHistory(this.db, provider, limit);
  }
}
