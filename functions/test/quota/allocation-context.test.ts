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
});
