import type { Firestore } from 'firebase-admin/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALLOCATION_LEAD_MS, readAllocation } from '../../src/adapters/quota/allocations';
import { QuotaEngine } from '../../src/adapters/quota/quota-engine';
import { testFirestore } from '../support/firestore';

let db: Firestore;
let close: () => Promise<void>;
beforeAll(async () => {
  ({ db, close } = testFirestore());
  await db.doc('providers/proxy').set({
    limits: [{ kind: 'window', unit: 'second', limit: 100 }],
    safetyMarginMs: 0,
  });
  await db.doc('categories/old').set({ provider: 'proxy', sharePercent: 50 });
});
afterAll(() => close());

describe('the published allocation', () => {
  it('takes in a category added to Firestore after it was published', async () => {
    let now = 1_000_000;
    const engine = new QuotaEngine(db, { now: () => now });
    expect(
      await engine.acquire({ provider: 'proxy', category: 'old', maxWaitMs: 0 }),
    ).toMatchObject({ kind: 'granted' });
    expect(Object.keys((await readAllocation(db, 'proxy'))?.categories ?? {})).toEqual(['old']);

    // Added by hand, not through setCategoryAllocation: no allocation update has run since.
    await db.doc('categories/added').set({ provider: 'proxy', sharePercent: 20 });
    now += 10_000; // past the instance's cache
    await engine.acquire({ provider: 'proxy', category: 'added', maxWaitMs: 0 });
    const published = await readAllocation(db, 'proxy');
    expect(published?.categories.added?.at(-1)).toEqual({
      percent: 20,
      startMs: now + ALLOCATION_LEAD_MS,
    });
    now += ALLOCATION_LEAD_MS + 10_000;
    expect(
      await engine.acquire({ provider: 'proxy', category: 'added', maxWaitMs: 0 }),
    ).toMatchObject({ kind: 'granted' });
  });

  it('catches up a share change whose publication was lost (its instance died after the commit)', async () => {
    let now = 5_000_000;
    const engine = new QuotaEngine(db, { now: () => now });
    await engine.acquire({ provider: 'proxy', category: 'old', maxWaitMs: 0 });
    const before = await readAllocation(db, 'proxy');
    expect(before?.categories.old?.at(-1)?.percent).toBe(50);

    // The share change commits; the republish that follows it never runs.
    await db.doc('categories/old').update({ sharePercent: 30 });
    await db.doc('categories/added').update({ sharePercent: 40 });
    now += 1_000; // still within the instance's cache: nothing is read yet
    await engine.acquire({ provider: 'proxy', category: 'old', maxWaitMs: 0 });
    expect((await readAllocation(db, 'proxy'))?.categories.old?.at(-1)?.percent).toBe(50);

    now += 10_000; // past the cache: the next gate of the provider publishes the lost change
    await engine.acquire({ provider: 'proxy', category: 'old', maxWaitMs: 0 });
    const after = await readAllocation(db, 'proxy');
    expect(after?.categories.old?.at(-1)).toEqual({
      percent: 30,
      startMs: now + ALLOCATION_LEAD_MS,
    });
    expect(after?.categories.added?.at(-1)).toEqual({
      percent: 40,
      startMs: now + ALLOCATION_LEAD_MS,
    });

    // Once caught up, a gate publishes nothing more: the document is left as it is.
    now += 10_000;
    await engine.acquire({ provider: 'proxy', category: 'old', maxWaitMs: 0 });
    expect(await readAllocation(db, 'proxy')).toEqual(after);
  });

  it('serves the published allocation when catching it up fails, and tries again after the cache', async () => {
    await db.doc('providers/busy').set({
      limits: [{ kind: 'tokenBucket', capacity: 100, refillPerSecond: 10 }],
      safetyMarginMs: 0,
    });
    await db.doc('categories/busy-a').set({ provider: 'busy', sharePercent: 50 });
    let now = Date.UTC(2026, 0, 1, 12);
    const engine = new QuotaEngine(db, { now: () => now });
    const granted = () => engine.acquire({ provider: 'busy', category: 'busy-a', maxWaitMs: 0 });
    expect(await granted()).toMatchObject({ kind: 'granted' });

    // A share change commits; its publication has not run yet (or was lost), and for a while
    // every transaction fails (contention on the allocation document, a deadline).
    await db.doc('categories/busy-a').update({ sharePercent: 40 });
    const original = db.runTransaction.bind(db);
    let transactions = 0;
    (db as { runTransaction: unknown }).runTransaction = async () => {
      transactions++;
      throw Object.assign(new Error('10 ABORTED: Too much contention'), { code: 10 });
    };
    try {
      now += 10_000; // past the instance's caches
      const kinds: string[] = [];
      for (let i = 0; i < 5; i++) {
        now += 10;
        kinds.push((await granted()).kind);
      }
      // Every call served from the published allocation; one catch-up tried per cache time.
      expect(kinds).toEqual(['granted', 'granted', 'granted', 'granted', 'granted']);
      expect(transactions).toBe(1);
    } finally {
      (db as { runTransaction: unknown }).runTransaction = original;
    }
    now += 10_000;
    await granted();
    expect((await readAllocation(db, 'busy'))?.categories['busy-a']?.at(-1)?.percent).toBe(40);
  });
});
