import type { Firestore } from 'firebase-admin/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QuotaEngine } from '../../src/adapters/quota/quota-engine';
import { republishAllocations } from '../../src/adapters/quota/republish';
import { ALLOCATION_LEAD_MS } from '../../src/core/quota/epochs';
import { bucketBound, worstExcess } from '../core/quota/engine-scenario';
import type { CallRecord } from '../core/quota/fleet-sim';
import { testFirestore } from '../support/firestore';

/**
 * The engine's property test in small, on the embedded Firestore emulator instead of an
 * in-memory registry: real QuotaEngines with clocks ±300 ms apart share a bucket through claim
 * documents while shares change twice (the second while the first is pending), an instance is
 * replaced, and the bucket is edited; every interval is checked against C + r*T in true time.
 */
const SKEW = [-300, 300, -120, 180];
const MARGIN_MS = 600;

let db: Firestore;
let close: () => Promise<void>;
beforeAll(async () => {
  ({ db, close } = testFirestore());
  await db.doc('providers/fleet').set({
    limits: [{ kind: 'tokenBucket', capacity: 60, refillPerSecond: 20, blockTokens: 2 }],
    safetyMarginMs: MARGIN_MS,
  });
  await db.doc('categories/left').set({ provider: 'fleet', sharePercent: 50 });
  await db.doc('categories/right').set({ provider: 'fleet', sharePercent: 50 });
});
afterAll(() => close());

/** Both shares in one write, as an operator's change would be: never above 100% together. */
async function setShares(left: number, right: number) {
  const batch = db.batch();
  batch.update(db.doc('categories/left'), { sharePercent: left });
  batch.update(db.doc('categories/right'), { sharePercent: right });
  await batch.commit();
}

describe('the quota engine on the embedded emulator', () => {
  it('holds the bucket through skew, pending share changes, an edit and a replaced instance', async () => {
    const engines = SKEW.map(
      (offset, i) => new QuotaEngine(db, { instanceId: `i${i}`, now: () => Date.now() + offset }),
    );
    const calls: CallRecord[] = [];
    const startMs = Date.now();
    const endMs = startMs + ALLOCATION_LEAD_MS + 9_000;
    const worker = async (w: number) => {
      while (Date.now() < endMs) {
        const engine = engines[w % engines.length]!;
        const category = w % 2 ? 'left' : 'right';
        const decision = await engine.acquire({
          provider: 'fleet',
          category,
          cost: 1 + (w % 3),
          maxWaitMs: w % 2 ? 0 : 300,
        });
        if (decision.kind === 'granted') {
          const call = { cost: 1 + (w % 3), bytes: 0, requests: 1 };
          calls.push({
            atMs: Date.now(),
            instance: w % engines.length,
            category,
            estimate: call,
            actual: call,
          });
          decision.release();
        } else {
          await new Promise((r) =>
            setTimeout(r, Math.max(1, Math.min(200, decision.atMs - Date.now()))),
          );
        }
      }
    };
    const running = Array.from({ length: 16 }, (_, w) => worker(w));
    const eras = [{ startMs: 0, capacity: 60, rate: 20 }];
    // A share change, then another while the first is pending (each gets its own full lead).
    await setShares(80, 20);
    await republishAllocations(db, Date.now() + SKEW[0]!, ['fleet']);
    await new Promise((r) => setTimeout(r, 3_000));
    await setShares(20, 80);
    await republishAllocations(db, Date.now() + SKEW[1]!, ['fleet']);
    // An instance dies and a new one takes its place; the bucket is edited.
    await new Promise((r) => setTimeout(r, 2_000));
    engines[2] = new QuotaEngine(db, { instanceId: 'i2b', now: () => Date.now() + SKEW[2]! });
    await db.doc('providers/fleet').update({
      limits: [{ kind: 'tokenBucket', capacity: 60, refillPerSecond: 25, blockTokens: 3 }],
    });
    const published = Date.now();
    await republishAllocations(db, published + SKEW[3]!, ['fleet']);
    eras.push({ startMs: published + SKEW[3]! + ALLOCATION_LEAD_MS, capacity: 60, rate: 25 });
    await Promise.all(running);

    const check = worstExcess(
      calls,
      (c) => c.actual.cost,
      () => 0,
      (a, b) => bucketBound(eras, a, b),
    );
    expect(check.excess, `bucket over between ${check.at}`).toBeLessThanOrEqual(1e-9);
    // It did real work: well over a bucketful went out.
    expect(calls.reduce((sum, c) => sum + c.actual.cost, 0)).toBeGreaterThan(100);
    await Promise.all(engines.map((e) => e.shutdown()));
  }, 60_000);
});
