import type { Firestore } from 'firebase-admin/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUOTA_COLLECTIONS } from '../../src/adapters/quota/collections';
import { meterFromDoc } from '../../src/adapters/quota/meters-store';
import { QuotaEngine } from '../../src/adapters/quota/quota-engine';
import { testFirestore } from '../support/firestore';

let db: Firestore;
let close: () => Promise<void>;
// One provider per test, so no test sees another's shared meter.
const PROVIDERS = ['keepa-deficit', 'keepa-late', 'keepa-writes'];
beforeAll(async () => {
  ({ db, close } = testFirestore());
  for (const provider of PROVIDERS) {
    await db.doc(`providers/${provider}`).set({
      limits: [{ kind: 'tokenBucket', capacity: 300, refillPerSecond: 5, allowNegative: true }],
      safetyMarginMs: 0,
    });
    await db.doc(`categories/${provider}-deals`).set({ provider, sharePercent: 100 });
  }
});
afterAll(() => close());

/** Keepa's report after a call: tokensLeft and refillRate (5 tokens a second). */
const keepa = (balance: number, atMs: number) => ({
  balance,
  atMs,
  ratePerSecond: 5,
  capacity: 300,
});

async function shared(provider: string) {
  const snap = await db.collection(QUOTA_COLLECTIONS.meters).doc(provider).get();
  return { reading: meterFromDoc(snap.data()), updateTime: snap.updateTime?.toMillis() };
}

describe('upstream meters shared between instances', () => {
  it("a deficit one instance observed defers another's calls until the balance recovers", async () => {
    const provider = 'keepa-deficit';
    const request = { provider, category: `${provider}-deals`, maxWaitMs: 0 };
    let now = Date.now();
    const a = new QuotaEngine(db, { now: () => now, instanceId: 'a' });
    const b = new QuotaEngine(db, { now: () => now, instanceId: 'b' });
    // B is warm (configuration, allocation and meter read and cached) and calls freely once
    // the provider's token line (which starts at the allocation's publication) has tokens.
    await b.acquire(request);
    now += 2_000;
    expect(await b.acquire(request)).toMatchObject({ kind: 'granted' });

    now += 100;
    const reportedAt = now;
    await a.observe(provider, keepa(-50, reportedAt));
    // Keepa runs a call while the balance is positive: B may call again once it reaches 1.
    const recovered = reportedAt + Math.ceil((51 * 1000) / 5);
    const deferred = {
      kind: 'retryAt',
      atMs: recovered,
      reason: 'tokens',
      detail: 'upstream balance in deficit',
    };

    now += 1_000; // B's copy of the meter is a second old; its configuration still cached
    expect(b.meters.snapshot(provider)).toBeUndefined(); // B has no reading of its own
    expect(await b.acquire(request)).toEqual(deferred);
    now = reportedAt + 5_000;
    expect(await b.acquire(request)).toEqual(deferred);
    now = recovered - 1;
    expect(await b.acquire(request)).toEqual(deferred);
    now = recovered;
    expect(await b.acquire(request)).toMatchObject({ kind: 'granted' });
    // B never called the upstream: all it knows it got from A.
    expect(b.sharedMeters.writes).toBe(0);
    expect(a.sharedMeters.writes).toBe(1);
  });

  it('a late older reading never replaces a newer one, and the newer one wins everywhere', async () => {
    const provider = 'keepa-late';
    const request = { provider, category: `${provider}-deals`, maxWaitMs: 0 };
    let now = Date.now();
    const a = new QuotaEngine(db, { now: () => now, instanceId: 'a' });
    const late = new QuotaEngine(db, { now: () => now, instanceId: 'late' });

    await a.observe(provider, keepa(-10, now));
    // A deeper deficit, which would be news if it were newer, from a call that began earlier on
    // an instance that has not read the shared meter yet: its transaction finds the newer one.
    await late.observe(provider, keepa(-100, now - 1_000));
    expect((await shared(provider)).reading).toEqual(keepa(-10, now));
    expect(late.sharedMeters.writes).toBe(0);

    // And the late instance itself now projects from the newer reading, not its own.
    const newest = now + Math.ceil((11 * 1000) / 5);
    expect(await late.acquire(request)).toMatchObject({ kind: 'retryAt', atMs: newest });
    now = newest;
    expect(await late.acquire(request)).toMatchObject({ kind: 'granted' });
  });

  it('writes rarely: only the first of many readings without a deficit, a deficit at once', async () => {
    const provider = 'keepa-writes';
    let now = Date.now();
    const a = new QuotaEngine(db, { now: () => now, instanceId: 'a' });

    // 100 calls report back in a row (as concurrent batches do), balance healthy throughout.
    await Promise.all(
      Array.from({ length: 100 }, (_, i) => {
        now += 10;
        return a.observe(provider, keepa(250 - i, now));
      }),
    );
    const first = await shared(provider);
    expect(first.reading?.balance).toBe(250);
    expect(a.sharedMeters.writes).toBe(1);
    // The same, one after another.
    for (let i = 0; i < 100; i++) {
      now += 10;
      await a.observe(provider, keepa(150 - i, now));
    }
    expect(a.sharedMeters.writes).toBe(1);
    expect((await shared(provider)).updateTime).toBe(first.updateTime);

    // A deficit is news: written at once, though the last write was 2 s ago.
    now += 10;
    await a.observe(provider, keepa(-20, now));
    expect((await shared(provider)).reading).toEqual(keepa(-20, now));
    expect(a.sharedMeters.writes).toBe(2);
    expect(a.firestoreWrites()).toBe(2);
  });
});
