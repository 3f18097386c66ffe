import type { Firestore } from 'firebase-admin/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAllocation } from '../../src/adapters/quota/allocations';
import { QuotaEngine } from '../../src/adapters/quota/quota-engine';
import { testFirestore } from '../support/firestore';

let db: Firestore;
let close: () => Promise<void>;
beforeAll(async () => {
  ({ db, close } = testFirestore());
  // The demo's Keepa and SmartProxy providers, as stored.
  await db.doc('providers/keepa').set({
    limits: [
      {
        kind: 'tokenBucket',
        capacity: 300,
        refillPerSecond: 5,
        allowNegative: true,
        burstThreshold: 280,
      },
    ],
    cooldownSeconds: 300,
  });
  await db.doc('providers/smartproxy').set({
    limits: [
      { kind: 'window', unit: 'second', limit: 25, measure: 'requests' },
      { kind: 'window', unit: 'month', limit: 53687091200, measure: 'bytes' },
      { kind: 'concurrency', max: 20 },
    ],
    cooldownSeconds: 900,
  });
  await db.doc('categories/deals').set({ provider: 'keepa', sharePercent: 70, priority: 2 });
  await db.doc('categories/refresh').set({ provider: 'keepa', sharePercent: 30 });
  await db.doc('categories/live').set({ provider: 'smartproxy', sharePercent: 60 });
  // An allocation document from before epochs: {current, previous}.
  await db.doc('quotaAllocations/smartproxy').set({
    categories: { live: { current: { percent: 60, startMs: 0 } } },
    updatedAtMs: 1,
  });
});
afterAll(() => close());

describe('attack: allocation documents on the emulator', () => {
  it('an unchanged configuration is not republished as a new limits epoch', async () => {
    let now = Date.UTC(2026, 11, 3, 12, 0, 0, 500);
    const engine = new QuotaEngine(db, {
      now: () => now,
      sleep: async (ms) => {
        now += ms;
      },
    });
    for (let i = 0; i < 4; i++) {
      const d = await engine.acquire({
        provider: 'keepa',
        category: 'deals',
        cost: 1,
        maxWaitMs: 0,
      });
      expect(d.kind).toBe('granted');
      if (d.kind === 'granted') d.release();
      const p = await engine.acquire({
        provider: 'smartproxy',
        category: 'live',
        bytes: 100,
        maxWaitMs: 0,
      });
      if (p.kind === 'granted') p.release();
      now += 6_000; // past the 5 s caches
    }
    const keepa = await readAllocation(db, 'keepa');
    const proxy = await readAllocation(db, 'smartproxy');
    console.log(
      'emulator-allocation',
      JSON.stringify({
        keepa: keepa?.limits.length,
        proxy: proxy?.limits.map((l) => [l.startMs, l.keys]),
        proxyShares: proxy?.categories,
      }),
    );
    expect(keepa?.limits.length).toBe(1);
    expect(proxy?.limits.length).toBe(1);
    await engine.shutdown();
  });
});
