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

  it('records a call that waited in the gate at the time it asked, not when it was granted', async () => {
    // Two tokens, one more a second: calls asked from 10:07:59.5 on wait in the gate for
    // tokens that come after the minute turns. Policy replay makes a recorded first ask at its
    // recorded second, so the record must say when the call asked.
    await db.doc('providers/waits').set({
      limits: [{ kind: 'tokenBucket', capacity: 2, refillPerSecond: 1 }],
      safetyMarginMs: 0,
    });
    await db.doc('categories/waiting').set({ provider: 'waits', sharePercent: 100 });
    let t = Date.UTC(2026, 11, 5, 10, 7, 59, 500);
    const buffer = new WriteBuffer(db);
    const engine = new QuotaEngine(db, {
      buffer,
      now: () => t,
      sleep: async (ms) => {
        t += ms;
      },
    });
    const asked: number[] = [];
    const granted: number[] = [];
    for (let i = 0; i < 4; i++) {
      asked.push(t);
      const decision = await engine.acquire({
        provider: 'waits',
        category: 'waiting',
        operation: 'wait',
        maxWaitMs: 3_000,
      });
      expect(decision.kind).toBe('granted');
      granted.push(t);
    }
    const minuteOf = (ms: number) => Math.floor(ms / 60_000) * 60_000;
    // At least one call asked in one minute and was granted in the next.
    expect(asked.some((a, i) => minuteOf(granted[i]!) > minuteOf(a))).toBe(true);
    await buffer.flush();
    const { minutes } = await demandMinutes(db, minuteOf(asked[0]!), t + 120_000, 'waits');
    const expected = new Map<number, { asked: number; firstAsks: Record<string, number> }>();
    for (const a of asked) {
      const m = expected.get(minuteOf(a)) ?? { asked: 0, firstAsks: {} };
      const second = `s${String(new Date(a).getUTCSeconds()).padStart(2, '0')}`;
      m.asked++;
      m.firstAsks[second] = (m.firstAsks[second] ?? 0) + 1;
      expected.set(minuteOf(a), m);
    }
    expect(
      minutes.map((m) => ({ minute: m.minuteMs, asked: m.asked, firstAsks: m.firstAsks })),
    ).toEqual([...expected].map(([minute, m]) => ({ minute, ...m })));
  });

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
