import type { Firestore } from 'firebase-admin/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CooldownStore } from '../../src/adapters/quota/cooldowns';
import { QuotaEngine } from '../../src/adapters/quota/quota-engine';
import { QuotaExceededError } from '../../src/core/quota/errors';
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
    expect(decision.atMs).toBeLessThanOrEqual(Date.now() + 120_000);
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
    await new CooldownStore(db).clear('keepa', 'test');
    const stores = Array.from({ length: 5 }, () => new CooldownStore(db, { hitFlushMs: 50 }));
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        stores[i % 5]!.recordHit(new QuotaExceededError('keepa', `op-${i}`, 60), 600),
      ),
    );
    expect(new Set(results.map((r) => r.startedAtMs)).size).toBe(1);
    await Promise.all(stores.map((s) => s.flushHits()));
    const history = await new CooldownStore(db).history('keepa');
    const episode = history.find((h) => h.startedAt.toMillis() === results[0]!.startedAtMs);
    expect(episode?.hits).toBe(50);
    // One cooldown (document + history entry), plus at most one hit count per instance.
    const writes = stores.reduce((sum, s) => sum + s.writes, 0);
    expect(writes).toBeLessThanOrEqual(2 + stores.length);
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
