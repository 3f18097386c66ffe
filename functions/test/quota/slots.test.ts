import type { Firestore } from 'firebase-admin/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlotPool } from '../../src/adapters/quota/slots';
import type { SlotLease } from '../../src/core/quota/gate-ports';
import { testFirestore } from '../support/firestore';

let db: Firestore;
let close: () => Promise<void>;
beforeAll(() => ({ db, close } = testFirestore()));
afterAll(() => close());

describe('concurrency slots', () => {
  it('never lets instances together hold more leases than the cap', async () => {
    const pools = Array.from({ length: 4 }, (_, i) => new SlotPool(db, `instance-${i}`));
    const attempts = await Promise.all(
      Array.from({ length: 20 }, (_, i) => pools[i % 4]!.acquire('proxy', 3)),
    );
    const held = attempts.filter((lease): lease is SlotLease => lease !== undefined);
    expect(held).toHaveLength(3);
    const docs = await db.collection('quotaSlots').where('provider', '==', 'proxy').get();
    expect(docs.size).toBe(3);
    for (const lease of held) lease.release();
    await Promise.all(pools.map((p) => p.releaseAll()));
    expect((await db.collection('quotaSlots').where('provider', '==', 'proxy').get()).size).toBe(0);
  });

  it('reuses a released slot in the same instance without a write', async () => {
    const pool = new SlotPool(db, 'reuser');
    const first = await pool.acquire('keepa', 1);
    expect(first).toBeDefined();
    first!.release();
    const writes = pool.writes;
    const second = await pool.acquire('keepa', 1);
    expect(second).toBeDefined();
    expect(pool.writes).toBe(writes);
    second!.release();
    await pool.releaseAll();
  });

  it('takes over a lease whose holder died, once it has expired', async () => {
    let now = Date.UTC(2026, 0, 1);
    const crashed = new SlotPool(db, 'crashed', { now: () => now, leaseMs: 60_000 });
    expect(await crashed.acquire('spapi', 1)).toBeDefined();
    const survivor = new SlotPool(db, 'survivor', { now: () => now, leaseMs: 60_000 });
    expect(await survivor.acquire('spapi', 1)).toBeUndefined();
    const expiresAt = (await db.collection('quotaSlots').doc('spapi~0').get()).get('expiresAt');
    now = expiresAt.toMillis() + 1;
    const lease = await survivor.acquire('spapi', 1);
    expect(lease).toBeDefined();
    const doc = await db.collection('quotaSlots').where('provider', '==', 'spapi').get();
    expect(doc.docs.map((d) => d.get('owner'))).toEqual(['survivor']);
    lease!.release();
    await survivor.releaseAll();
  });
});
