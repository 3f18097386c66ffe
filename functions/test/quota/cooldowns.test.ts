import { DocumentReference, type Firestore } from 'firebase-admin/firestore';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CooldownStore } from '../../src/adapters/quota/cooldowns';
import { QuotaEngine } from '../../src/adapters/quota/quota-engine';
import { QuotaExceededError } from '../../src/core/quota/errors';
import { logger } from '../../src/log';
import { testFirestore } from '../support/firestore';

let db: Firestore;
let close: () => Promise<void>;
beforeAll(async () => {
  ({ db, close } = testFirestore());
  await db.doc('providers/keepa').set({
    limits: [{ kind: 'tokenBucket', capacity: 300, refillPerSecond: 5 }],
    cooldownSeconds: 600,
  });
  await db.doc('categories/deals').set({ provider: 'keepa', sharePercent: 100 });
});
afterAll(() => close());

describe('cooldowns', () => {
  it('survive a restart: a new instance sees the cooldown and the gate defers', async () => {
    const first = new QuotaEngine(db, { instanceId: 'before-restart' });
    const before = Date.now();
    await first.reportQuotaError(new QuotaExceededError('keepa', 'product', 120));
    // A fresh engine is a restarted instance: nothing in memory.
    const restarted = new QuotaEngine(db, { instanceId: 'after-restart' });
    const decision = await restarted.acquire({ provider: 'keepa', category: 'deals', cost: 5 });
    expect(decision).toMatchObject({ kind: 'retryAt', reason: 'cooldown' });
    if (decision.kind !== 'retryAt') throw new Error('unreachable');
    expect(decision.atMs).toBeGreaterThanOrEqual(before + 120_000);
    // The requested end is rounded up to a granule: a tenth of the wait, at most 5 s.
    expect(decision.atMs).toBeLessThanOrEqual(Date.now() + 120_000 + 5_000);
  });

  it('uses the provider default when the upstream gives no Retry-After, and never shortens', async () => {
    const store = new CooldownStore(db);
    await store.clear('keepa', 'test');
    const long = await store.recordHit(new QuotaExceededError('keepa', 'product', undefined), 600);
    expect(long.untilMs - long.startedAtMs).toBeGreaterThanOrEqual(600_000);
    const fresh = new CooldownStore(db);
    const after = await fresh.recordHit(new QuotaExceededError('keepa', 'product', 5), 600);
    expect(after.untilMs).toBe(long.untilMs);
  });

  it('a storm of simultaneous 429s on many instances writes one cooldown', async () => {
    // Its own provider: the clocks below are set back by up to 5 s, into the episodes the tests
    // before started on 'keepa'; an episode starting in the same millisecond as one of those
    // shares its history entry (keyed by provider and start) and its hits.
    const provider = 'storm';
    await new CooldownStore(db).clear(provider, 'test');
    // A hit asks for its end rounded up to a granule (5 s for a 60 s Retry-After). A storm that
    // straddles a granule boundary legitimately writes twice (the later hits ask 5 s more), so
    // the instances' clocks (set back by under 5 s) start the storm at the beginning of a
    // granule: simultaneous hits.
    const offset = 1 - ((Date.now() + 60_000) % 5_000);
    const now = () => Date.now() + offset;
    const stores = Array.from({ length: 5 }, () => new CooldownStore(db, { hitFlushMs: 50, now }));
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        stores[i % 5]!.recordHit(new QuotaExceededError(provider, `op-${i}`, 60), 600),
      ),
    );
    expect(new Set(results.map((r) => r.startedAtMs)).size).toBe(1);
    await Promise.all(stores.map((s) => s.flushHits()));
    const history = await new CooldownStore(db).history(provider);
    const episode = history.find((h) => h.startedAt.toMillis() === results[0]!.startedAtMs);
    expect(episode?.hits).toBe(50);
    // One cooldown (document + history entry), plus at most one hit count per instance.
    const writes = stores.reduce((sum, s) => sum + s.writes, 0);
    expect(writes).toBeLessThanOrEqual(2 + stores.length);
  });

  it('holds the cooldown locally from the moment the 429 is seen, before the write commits', async () => {
    const store = new CooldownStore(db);
    await store.clear('keepa', 'test');
    const before = Date.now();
    const hit = store.recordHit(new QuotaExceededError('keepa', 'product', 120), 600);
    let committed = false;
    hit.then(
      () => {
        committed = true;
      },
      () => undefined,
    );
    // Same tick: the transaction has not committed, the gate must already see the cooldown.
    const held = await store.untilMs('keepa');
    expect(committed).toBe(false);
    expect(held).toBeGreaterThanOrEqual(before + 120_000);
    expect(held).toBe((await hit).untilMs);
    expect(await store.untilMs('keepa')).toBe(held);
  });

  it('a document read before the hit committed does not shorten the held cooldown', async () => {
    await new CooldownStore(db).clear('keepa', 'test');
    // A cache refresh whose read was issued before the hit and answers after its commit.
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => {
      answer = resolve;
    });
    const get = DocumentReference.prototype.get;
    const spy = vi.spyOn(DocumentReference.prototype, 'get').mockImplementationOnce(async function (
      this: DocumentReference,
    ) {
      const snapshot = await get.call(this);
      await answered;
      return snapshot;
    });
    const fresh = new CooldownStore(db, { cacheMs: 60_000 });
    const refresh = fresh.untilMs('keepa');
    spy.mockRestore();
    const recorded = await fresh.recordHit(new QuotaExceededError('keepa', 'product', 300), 600);
    answer();
    expect(await refresh).toBe(recorded.untilMs);
    // The stale read did not replace the committed cooldown in the cache.
    expect(await fresh.untilMs('keepa')).toBe(recorded.untilMs);
  });

  it('holdLocally holds a cooldown in this instance only, never shorter, until it ends', async () => {
    let clock = Date.now();
    const store = new CooldownStore(db, { now: () => clock, cacheMs: 60_000 });
    await store.clear('keepa', 'test');
    store.holdLocally('keepa', clock + 30_000);
    expect(await store.untilMs('keepa')).toBe(clock + 30_000);
    store.holdLocally('keepa', clock + 10_000);
    expect(await store.untilMs('keepa')).toBe(clock + 30_000);
    expect(await new CooldownStore(db).untilMs('keepa')).toBeUndefined();
    clock += 30_000;
    expect(await store.untilMs('keepa')).toBeUndefined();
  });

  it('records a hit asking a few seconds past the current end', async () => {
    let clock = Date.now();
    const now = () => clock;
    const store = new CooldownStore(db, { now });
    await store.clear('keepa', 'test');
    const first = await store.recordHit(new QuotaExceededError('keepa', 'product', 60), 600);
    clock += 1_000;
    // Asks for the current end + 3 s: on the instance that wrote it (cached) ...
    const asked = first.untilMs + 3_000;
    const second = await store.recordHit(
      new QuotaExceededError('keepa', 'product', (asked - clock) / 1000),
      600,
    );
    expect(second.untilMs).toBeGreaterThanOrEqual(asked);
    expect(await new CooldownStore(db, { now }).untilMs('keepa')).toBeGreaterThanOrEqual(asked);
    // ... and on another instance (read in the transaction).
    clock += 1_000;
    const askedAgain = second.untilMs + 3_000;
    const third = await new CooldownStore(db, { now }).recordHit(
      new QuotaExceededError('keepa', 'product', (askedAgain - clock) / 1000),
      600,
    );
    expect(third.untilMs).toBeGreaterThanOrEqual(askedAgain);
    expect(await new CooldownStore(db, { now }).untilMs('keepa')).toBeGreaterThanOrEqual(
      askedAgain,
    );
    expect(third.startedAtMs).toBe(first.startedAtMs);
  });

  it('logs a cooldown start at WARNING with provider, operation and end, and its end at INFO', async () => {
    let t = Date.UTC(2026, 11, 6, 12);
    const warn = vi.spyOn(logger, 'warn').mockImplementation(() => undefined);
    const info = vi.spyOn(logger, 'info').mockImplementation(() => undefined);
    try {
      const store = new CooldownStore(db, { now: () => t });
      const cooldown = await store.recordHit(new QuotaExceededError('logged', 'product', 90), 600);
      const started = warn.mock.calls.filter(([, message]) => message === 'cooldown started');
      expect(started).toHaveLength(1);
      expect(started[0]![0]).toMatchObject({
        provider: 'logged',
        operation: 'product',
        until: new Date(cooldown.untilMs).toISOString(),
      });
      // While it lasts, nothing ends; once over, the first look logs its end, once.
      await store.untilMs('logged');
      const ended = () => info.mock.calls.filter(([, message]) => message === 'cooldown ended');
      expect(ended()).toHaveLength(0);
      t = cooldown.untilMs + 2_000;
      await store.untilMs('logged');
      await store.untilMs('logged');
      expect(ended()).toHaveLength(1);
      expect(ended()[0]![0]).toMatchObject({ provider: 'logged', operation: 'product' });
    } finally {
      warn.mockRestore();
      info.mockRestore();
    }
  });

  it('a failed hit-count flush rejects nothing unhandled and its counts are written later', async () => {
    await new CooldownStore(db).clear('keepa', 'test');
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const warn = vi.spyOn(logger, 'warn').mockImplementation(() => undefined);
    const set = DocumentReference.prototype.set;
    let failures = 0;
    const spy = vi.spyOn(DocumentReference.prototype, 'set').mockImplementation(function (
      this: DocumentReference,
      ...args: unknown[]
    ) {
      // The first two hit-count increments fail: Firestore unavailable during the storm.
      if (this.path.startsWith('cooldownHistory/') && failures < 2) {
        failures++;
        return Promise.reject(new Error('14 UNAVAILABLE: injected'));
      }
      return (set as (...a: unknown[]) => ReturnType<typeof set>).apply(this, args);
    });
    try {
      const store = new CooldownStore(db, { hitFlushMs: 20 });
      const hits = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          store.recordHit(new QuotaExceededError('keepa', `op-${i}`, 60), 600),
        ),
      );
      const episode = hits[0]!.startedAtMs;
      // One hit wrote the cooldown; nine are counted and flushed from a timer: the flush fails
      // twice, then the retry writes them.
      const reader = new CooldownStore(db);
      const counted = async () =>
        (await reader.history('keepa')).find((h) => h.startedAt.toMillis() === episode)?.hits;
      await vi.waitFor(async () => expect(await counted()).toBe(10), {
        timeout: 5_000,
        interval: 25,
      });
      expect(failures).toBe(2);
      expect(unhandled).toEqual([]);
      const flushWarnings = warn.mock.calls.filter(
        ([, message]) => message === 'cooldown hit counts not written; they are retried',
      );
      expect(flushWarnings).toHaveLength(2);
    } finally {
      spy.mockRestore();
      warn.mockRestore();
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('an operator clears a cooldown and every instance sees it within the cache time', async () => {
    const store = new CooldownStore(db, { cacheMs: 0 });
    await store.recordHit(new QuotaExceededError('keepa', 'product', 300), 600);
    expect(await store.untilMs('keepa')).toBeGreaterThan(Date.now());
    await new CooldownStore(db).clear('keepa', 'operator@example.com');
    expect(await store.untilMs('keepa')).toBeUndefined();
    const history = await store.history('keepa');
    expect(history[0]?.clearedBy).toBe('operator@example.com');
  });
});
