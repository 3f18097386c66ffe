import type { Firestore } from 'firebase-admin/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demandMinutes } from '../../src/adapters/operations/replay';
import { QuotaEngine } from '../../src/adapters/quota/quota-engine';
import { DEMAND_FLUSH_INTERVAL_MS } from '../../src/adapters/quota/quota-engine-options';
import { WriteBuffer } from '../../src/adapters/storage/write-buffer';
import { demandStatsUpdate } from '../../src/core/storage/write-buffer/demand-stats';
import { testFirestore } from '../support/firestore';

let db: Firestore;
let close: () => Promise<void>;
beforeAll(async () => {
  ({ db, close } = testFirestore());
  await db.doc('providers/keepa').set({
    limits: [{ kind: 'tokenBucket', capacity: 20, refillPerSecond: 1, blockTokens: 2 }],
    safetyMarginMs: 0,
  });
  await db.doc('categories/deals').set({ provider: 'keepa', sharePercent: 100 });
});
afterAll(() => close());

describe('recorded demand', () => {
  it('counts every decision per minute and kind of call through the buffer, not one write per call', async () => {
    const buffer = new WriteBuffer(db);
    const engine = new QuotaEngine(db, { buffer });
    const startMs = Date.now();
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        engine.acquire({
          provider: 'keepa',
          category: 'deals',
          operation: 'product',
          cost: 2,
          bytes: 100,
          maxWaitMs: 0,
          attempt: i < 30 ? 0 : 1,
        }),
      ),
    );
    await buffer.flush();
    const granted = outcomes.filter((o) => o.kind === 'granted').length;
    const { minutes, truncated } = await demandMinutes(
      db,
      Math.floor(startMs / 60_000) * 60_000 - 60_000,
      Date.now() + 60_000,
      'keepa',
    );
    expect(truncated).toBe(false);
    const sum = (f: (m: (typeof minutes)[number]) => number) =>
      minutes.reduce((n, m) => n + f(m), 0);
    expect(sum((m) => m.asked)).toBe(40);
    expect(sum((m) => m.cost)).toBe(80);
    expect(sum((m) => m.bytes)).toBe(4_000);
    expect(sum((m) => m.granted)).toBe(granted);
    expect(sum((m) => m.grantedCost)).toBe(2 * granted);
    expect(sum((m) => m.deferred)).toBe(40 - granted);
    expect(sum((m) => m.reasked)).toBe(10);
    expect(sum((m) => Object.values(m.firstAsks).reduce((a, b) => a + b, 0))).toBe(30);
    expect(sum((m) => m.first.cost)).toBe(60);
    expect(sum((m) => Object.values(m.delay).reduce((a, b) => a + b, 0))).toBe(40 - granted);
    expect(minutes.every((m) => m.operation === 'product')).toBe(true);
    // 40 decisions (and their usageStats) folded into at most a few documents per minute.
    expect(buffer.stats().documentWrites).toBeLessThanOrEqual(4 * minutes.length);
    const doc = await db.collection('demandStats').limit(1).get();
    const expiresAt = doc.docs[0]!.get('expiresAt').toMillis();
    const minute = doc.docs[0]!.get('minute').toMillis();
    expect(expiresAt - minute).toBe(30 * 86_400_000);
  });

  it('costs no write per call at low rates: demand waits 10 s in its own buffer', async () => {
    // The instance buffer commits every 250 ms: a call every 300 ms is a commit per call.
    const buffer = new WriteBuffer(db);
    const demandBuffer = new WriteBuffer(db, { intervalMs: DEMAND_FLUSH_INTERVAL_MS });
    const engine = new QuotaEngine(db, { buffer, demandBuffer });
    for (let i = 0; i < 20; i++) {
      await engine.acquire({
        provider: 'keepa',
        category: 'deals',
        operation: 'slow',
        maxWaitMs: 0,
      });
      await new Promise((r) => setTimeout(r, 300));
    }
    // 6 s of calls: no demand written yet, and the usage statistics took their writes alone.
    expect(demandBuffer.stats().documentWrites).toBe(0);
    const usageWrites = buffer.stats().documentWrites;
    expect(usageWrites).toBeLessThanOrEqual(20);
    await demandBuffer.flush();
    await buffer.flush();
    // One write per minute document of the kind of call (6 s may straddle a minute).
    expect(demandBuffer.stats().documentWrites).toBeLessThanOrEqual(2);
    expect(demandBuffer.stats().updatesCommitted).toBe(20);
    expect(buffer.stats().updatesCommitted).toBe(20);
  }, 30_000);

  it('reads the minute a range starts inside', async () => {
    const buffer = new WriteBuffer(db);
    const minuteMs = Date.UTC(2026, 11, 5, 10, 7);
    const write = demandStatsUpdate({
      provider: 'keepa',
      category: 'deals',
      operation: 'inside',
      at: minuteMs + 10_000,
      cost: 1,
      bytes: 0,
      requests: 1,
      outcome: 'granted',
      attempt: 0,
    });
    await buffer.merge(write.path, write.data);
    const { minutes } = await demandMinutes(db, minuteMs + 5_000, minuteMs + 120_000, 'keepa');
    expect(minutes.filter((m) => m.operation === 'inside')).toHaveLength(1);
  });
});
