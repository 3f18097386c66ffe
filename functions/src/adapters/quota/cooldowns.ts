import { FieldValue, type Firestore, Timestamp } from 'firebase-admin/firestore';
import { type Cooldown, cooldownUntil, extendsCooldown } from '../../core/quota/cooldown';
import type { QuotaExceededError } from '../../core/quota/errors';
import { docId, QUOTA_COLLECTIONS } from './collections';

export interface CooldownStoreOptions {
  now?: () => number;
  /** How long an instance trusts its cached copy. */
  cacheMs?: number;
  /** A hit asking for an end within this of the current one writes nothing new. */
  toleranceMs?: number;
  /** How often counted hits are written (one increment per instance per interval). */
  hitFlushMs?: number;
}

interface Cached {
  value: Cooldown | undefined;
  readAtMs: number;
}

function fromDoc(
  provider: string,
  data: FirebaseFirestore.DocumentData | undefined,
): Cooldown | undefined {
  if (!data) return undefined;
  return {
    provider,
    untilMs: (data.until as Timestamp).toMillis(),
    startedAtMs: (data.startedAt as Timestamp).toMillis(),
    lastOperation: String(data.lastOperation ?? ''),
    hits: Number(data.hits ?? 0),
  };
}

/**
 * Cooldowns as documents: a quota error writes `cooldowns/{provider}` (until = the later of the
 * current end and now + Retry-After), which survives restarts and is shared by every
 * instance; each instance caches it for at most a second. A storm of simultaneous 429s writes
 * one cooldown: concurrent hits in an instance share one transaction, and a transaction that
 * finds the cooldown already long enough writes nothing; hits are counted in batches.
 */
export class CooldownStore {
  private readonly cache = new Map<string, Cached>();
  private readonly inflight = new Map<string, Promise<Cooldown>>();
  private readonly pendingHits = new Map<string, { count: number; episode: number }>();
  private hitTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly cacheMs: number;
  private readonly toleranceMs: number;
  private readonly hitFlushMs: number;
  /** Documents written, for the write-cost accounting. */
  writes = 0;

  constructor(
    private readonly db: Firestore,
    options: CooldownStoreOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.cacheMs = options.cacheMs ?? 1_000;
    this.toleranceMs = options.toleranceMs ?? 5_000;
    this.hitFlushMs = options.hitFlushMs ?? 1_000;
  }

  private ref(provider: string) {
    return this.db.collection(QUOTA_COLLECTIONS.cooldowns).doc(provider);
  }

  async current(provider: string): Promise<Cooldown | undefined> {
    const cached = this.cache.get(provider);
    const now = this.now();
    if (cached && now - cached.readAtMs < this.cacheMs) return cached.value;
    const value = fromDoc(provider, (await this.ref(provider).get()).data());
    this.cache.set(provider, { value, readAtMs: now });
    return value;
  }

  async untilMs(provider: string): Promise<number | undefined> {
    return (await this.current(provider))?.untilMs;
  }

  /** Records a quota error: starts or extends the provider's cooldown. */
  async recordHit(error: QuotaExceededError, defaultSeconds: number): Promise<Cooldown> {
    const provider = error.provider;
    const running = this.inflight.get(provider);
    if (running) {
      const cooldown = await running;
      if (
        !extendsCooldown(
          cooldown,
          cooldownUntil(cooldown, this.now(), error.retryAfterSeconds, defaultSeconds),
          this.now(),
          this.toleranceMs,
        )
      ) {
        this.countHit(provider, cooldown.startedAtMs);
        return cooldown;
      }
    }
    const cached = this.cache.get(provider)?.value;
    const now = this.now();
    if (
      cached &&
      !extendsCooldown(
        cached,
        cooldownUntil(cached, now, error.retryAfterSeconds, defaultSeconds),
        now,
        this.toleranceMs,
      )
    ) {
      this.countHit(provider, cached.startedAtMs);
      return cached;
    }
    const promise = this.writeHit(error, defaultSeconds).finally(() =>
      this.inflight.delete(provider),
    );
    this.inflight.set(provider, promise);
    return promise;
  }

  private async writeHit(error: QuotaExceededError, defaultSeconds: number): Promise<Cooldown> {
    const provider = error.provider;
    const result = await this.db.runTransaction(async (tx) => {
      const snap = await tx.get(this.ref(provider));
      const current = fromDoc(provider, snap.data());
      const now = this.now();
      const until = cooldownUntil(current, now, error.retryAfterSeconds, defaultSeconds);
      if (!extendsCooldown(current, until, now, this.toleranceMs)) {
        return { cooldown: current!, wrote: false };
      }
      const active = current && current.untilMs > now;
      const cooldown: Cooldown = {
        provider,
        untilMs: until,
        startedAtMs: active ? current.startedAtMs : now,
        lastOperation: error.operation,
        hits: (active ? current.hits : 0) + 1,
      };
      tx.set(this.ref(provider), {
        provider,
        until: Timestamp.fromMillis(cooldown.untilMs),
        startedAt: Timestamp.fromMillis(cooldown.startedAtMs),
        lastOperation: cooldown.lastOperation,
        hits: cooldown.hits,
        retryAfterSeconds: error.retryAfterSeconds ?? null,
        message: error.message,
      });
      tx.set(
        this.db
          .collection(QUOTA_COLLECTIONS.cooldownHistory)
          .doc(docId(provider, String(cooldown.startedAtMs))),
        {
          provider,
          startedAt: Timestamp.fromMillis(cooldown.startedAtMs),
          until: Timestamp.fromMillis(cooldown.untilMs),
          lastOperation: cooldown.lastOperation,
          hits: FieldValue.increment(1),
        },
        { merge: true },
      );
      return { cooldown, wrote: true };
    });
    if (result.wrote) this.writes += 2;
    else this.countHit(provider, result.cooldown.startedAtMs);
    this.cache.set(provider, { value: result.cooldown, readAtMs: this.now() });
    return result.cooldown;
  }

  private countHit(provider: string, episode: number): void {
    const pending = this.pendingHits.get(provider);
    if (pending && pending.episode === episode) pending.count++;
    else this.pendingHits.set(provider, { count: 1, episode });
    this.hitTimer ??= setTimeout(() => void this.flushHits(), this.hitFlushMs);
  }

  /** Writes counted hits: one increment per provider, however many hits arrived. */
  async flushHits(): Promise<void> {
    clearTimeout(this.hitTimer);
    this.hitTimer = undefined;
    const pending = [...this.pendingHits.entries()];
    this.pendingHits.clear();
    await Promise.all(
      pending.map(async ([provider, { count, episode }]) => {
        await this.db
          .collection(QUOTA_COLLECTIONS.cooldownHistory)
          .doc(docId(provider, String(episode)))
          .set({ provider, hits: FieldValue.increment(count) }, { merge: true });
        this.writes++;
      }),
    );
  }

  /** An operator ends a cooldown early. */
  async clear(provider: string, by: string): Promise<Cooldown | undefined> {
    const before = await this.current(provider);
    await this.ref(provider).delete();
    this.writes++;
    this.cache.set(provider, { value: undefined, readAtMs: this.now() });
    if (before) {
      await this.db
        .collection(QUOTA_COLLECTIONS.cooldownHistory)
        .doc(docId(provider, String(before.startedAtMs)))
        .set({ clearedAt: Timestamp.fromMillis(this.now()), clearedBy: by }, { merge: true });
      this.writes++;
    }
    return before;
  }

  async history(provider: string, limit = 20) {
    const snap = await this.db
      .collection(QUOTA_COLLECTIONS.cooldownHistory)
      .where('provider', '==', provider)
      .get();
    return snap.docs
      .map((d) => d.data())
      .filter((d) => d.startedAt)
      .sort((a, b) => b.startedAt.toMillis() - a.startedAt.toMillis())
      .slice(0, limit);
  }
}
