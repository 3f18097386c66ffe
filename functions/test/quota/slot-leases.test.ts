import type { Firestore, Timestamp } from 'firebase-admin/firestore';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { acquireLease } from '../../src/adapters/lease';
import { SlotPool } from '../../src/adapters/quota/slots';
import { logger } from '../../src/log';
import { testFirestore } from '../support/firestore';

let db: Firestore;
let close: () => Promise<void>;
beforeAll(() => ({ db, close } = testFirestore()));
afterAll(() => close());
afterEach(() => vi.restoreAllMocks());

const T0 = Date.UTC(2026, 0, 1);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function slotDoc(provider: string, index = 0) {
  const snap = await db.collection('quotaSlots').doc(`${provider}~${index}`).get();
  if (!snap.exists) return undefined;
  return {
    owner: snap.get('owner') as string,
    expiresAtMs: (snap.get('expiresAt') as Timestamp).toMillis(),
  };
}

describe('slot leases over long calls', () => {
  it('keeps a slot through a call longer than the lease: no other instance gets in (cap 1)', async () => {
    let now = T0;
    // The idle hold runs on a real timer: 1 s, so that B asking right after the release is
    // still within it on a loaded machine (at 20 ms, B asked after it had ended, once).
    const a = new SlotPool(db, 'a', { now: () => now, leaseMs: 60_000, idleMs: 1_000 });
    const b = new SlotPool(db, 'b', { now: () => now, leaseMs: 60_000, idleMs: 1_000 });
    const call = await a.acquire('long', 1);
    expect(call).toBeDefined();
    // A's call runs five minutes, five leases; its renewal runs every third of the lease.
    for (let elapsed = 0; elapsed < 300_000; elapsed += 20_000) {
      now += 20_000;
      await a.renewNow();
      expect(await b.acquire('long', 1), `B got in ${now - T0} ms into A's call`).toBeUndefined();
      expect((await slotDoc('long'))?.owner).toBe('a');
    }
    call!.release();
    // Released but still held by A (idle): B waits until A gives it back.
    expect(await b.acquire('long', 1)).toBeUndefined();
    await vi.waitFor(async () => expect(await slotDoc('long')).toBeUndefined(), {
      timeout: 10_000,
      interval: 20,
    });
    const next = await b.acquire('long', 1);
    expect(next).toBeDefined();
    expect((await slotDoc('long'))?.owner).toBe('b');
    next!.release();
    await Promise.all([a.releaseAll(), b.releaseAll()]);
    expect(await slotDoc('long')).toBeUndefined();
  });

  it('renews in the background on its own timer while a call is in flight', async () => {
    // Real time, short leases: a term is 600 + 50 + 200 + 50 = 900 ms, renewed every 200 ms.
    const a = new SlotPool(db, 'a', { leaseMs: 600, idleMs: 50 });
    const b = new SlotPool(db, 'b', { leaseMs: 600, idleMs: 50 });
    const call = await a.acquire('timed', 1);
    expect(call).toBeDefined();
    const leased = a.writes;
    const end = Date.now() + 2_000;
    while (Date.now() < end) {
      expect(await b.acquire('timed', 1)).toBeUndefined();
      await sleep(50);
    }
    expect(a.writes - leased).toBeGreaterThanOrEqual(3);
    call!.release();
    const renewals = a.writes;
    await vi.waitFor(async () => expect(await b.acquire('timed', 1)).toBeDefined(), {
      timeout: 3_000,
      interval: 50,
    });
    // Renewals stopped with the release: since, A's give-back and at most one renewal that was
    // already in flight when the call ended; and nothing more over two renewal periods.
    expect(a.writes - renewals).toBeGreaterThanOrEqual(1);
    expect(a.writes - renewals).toBeLessThanOrEqual(2);
    const settled = a.writes;
    await sleep(400);
    expect(a.writes).toBe(settled);
    await Promise.all([a.releaseAll(), b.releaseAll()]);
  });

  it('renews a held slot whose lease is shorter than the call before reusing it', async () => {
    let now = T0;
    const pool = new SlotPool(db, 'renewer', { now: () => now, leaseMs: 60_000 });
    const other = new SlotPool(db, 'other', { now: () => now, leaseMs: 60_000 });
    // A 10 s call: lease term 10 + 5 (margin) + 20 (renewal period) + 5 (idle) = 40 s.
    const first = await pool.acquire('short', 1, 10_000);
    first!.release();
    expect((await slotDoc('short'))?.expiresAtMs).toBe(T0 + 40_000);
    const leased = pool.writes;

    now = T0 + 20_000; // 20 s left >= 10 s + 5 s: reused as is
    const second = await pool.acquire('short', 1, 10_000);
    expect(second).toBeDefined();
    expect(pool.writes).toBe(leased);
    second!.release();

    now = T0 + 30_000; // 10 s left < 15 s: renewed first, one write
    const third = await pool.acquire('short', 1, 10_000);
    expect(third).toBeDefined();
    expect(pool.writes).toBe(leased + 1);
    expect(await slotDoc('short')).toEqual({ owner: 'renewer', expiresAtMs: now + 40_000 });
    third!.release();

    // A default call (60 s) right after: 40 s left < 65 s, renewed to a default term (90 s).
    const long = await pool.acquire('short', 1);
    expect(long).toBeDefined();
    expect(pool.writes).toBe(leased + 2);
    expect(await slotDoc('short')).toEqual({ owner: 'renewer', expiresAtMs: now + 90_000 });

    // Past the lease it had before the renewal, nobody else gets it.
    now = T0 + 100_000;
    expect(await other.acquire('short', 1)).toBeUndefined();
    long!.release();
    // Giving back works after renewals (guarded by the latest write time).
    await pool.releaseAll();
    expect(await slotDoc('short')).toBeUndefined();
  });

  it('drops a busy slot whose lease was taken over: never reused, never deleted', async () => {
    let now = T0;
    const warn = vi.spyOn(logger, 'warn');
    const a = new SlotPool(db, 'a', { now: () => now, idleMs: 20 });
    const b = new SlotPool(db, 'b', { now: () => now });
    const call = await a.acquire('lost', 1);
    expect(call).toBeDefined();
    // A stalls past its lease without renewing; B takes the expired lease over.
    now += 10 * 60_000;
    const taken = await b.acquire('lost', 1);
    expect(taken).toBeDefined();
    const writes = a.writes;
    await a.renewNow();
    expect(a.writes).toBe(writes);
    expect(warn).toHaveBeenCalledWith(
      expect.objectContaining({ provider: 'lost', owner: 'a', slot: 0 }),
      expect.stringContaining('taken over'),
    );
    call!.release();
    await sleep(100); // past A's idle time: nothing of A's to give back
    expect(await a.acquire('lost', 1)).toBeUndefined();
    await a.releaseAll();
    expect(a.writes).toBe(writes);
    expect((await slotDoc('lost'))?.owner).toBe('b');
    // A's renewal never ran again (its timer stopped with the loss).
    await a.renewNow();
    expect((await slotDoc('lost'))?.owner).toBe('b');
    taken!.release();
    await b.releaseAll();
    expect(await slotDoc('lost')).toBeUndefined();
  });

  it('drops an idle slot whose lease was taken over instead of reusing it', async () => {
    let now = T0;
    const a = new SlotPool(db, 'a', { now: () => now, idleMs: 60_000 });
    const b = new SlotPool(db, 'b', { now: () => now });
    (await a.acquire('idle', 1))!.release();
    now += 10 * 60_000;
    const taken = await b.acquire('idle', 1);
    expect(taken).toBeDefined();
    const before = await slotDoc('idle');
    expect(await a.acquire('idle', 1)).toBeUndefined();
    await a.releaseAll();
    expect(await slotDoc('idle')).toEqual(before);
    taken!.release();
    await b.releaseAll();
  });

  it('logs a failed renewal instead of rejecting, and keeps the slot for the call', async () => {
    const own = testFirestore();
    const warn = vi.spyOn(logger, 'warn');
    let now = T0;
    const pool = new SlotPool(own.db, 'a', { now: () => now, idleMs: 20 });
    const call = await pool.acquire('down', 1);
    expect(call).toBeDefined();
    await own.db.terminate(); // every Firestore call fails from here on
    now += 20_000;
    await expect(pool.renewNow()).resolves.toBeUndefined();
    expect(warn).toHaveBeenCalledWith(
      expect.objectContaining({ provider: 'down', slot: 0 }),
      expect.stringContaining('not renewed'),
    );
    call!.release();
    await sleep(100); // the idle give-back fails too, logged
    expect(warn).toHaveBeenCalledWith(
      expect.objectContaining({ lease: 'quotaSlots/down~0' }),
      expect.any(String),
    );
    await own.close();
  });
});

describe('lease renewal', () => {
  it('renews with the last write time as precondition; release still works after', async () => {
    const ref = db.collection('leases').doc('renewed');
    const lease = await acquireLease(ref, T0, 1_000, { owner: 'x' });
    if (lease.kind !== 'acquired') throw new Error('not acquired');
    expect(lease.expiresAtMs).toBe(T0 + 1_000);
    expect(await lease.renew(T0 + 5_000)).toBe(true);
    expect(await lease.renew(T0 + 9_000)).toBe(true);
    expect(lease.expiresAtMs).toBe(T0 + 9_000);
    const snap = await ref.get();
    expect((snap.get('expiresAt') as Timestamp).toMillis()).toBe(T0 + 9_000);
    expect(snap.get('owner')).toBe('x');
    // Still held by the renewed expiry.
    expect(await acquireLease(ref, T0 + 8_000, 1_000)).toMatchObject({ kind: 'held' });
    await lease.release();
    expect((await ref.get()).exists).toBe(false);
    expect(await lease.renew(T0 + 20_000)).toBe(false);
    expect((await ref.get()).exists).toBe(false);
  });

  it('answers false once the lease was taken over, and then leaves it alone', async () => {
    const ref = db.collection('leases').doc('taken');
    const first = await acquireLease(ref, T0, 1_000, { owner: 'first' });
    const second = await acquireLease(ref, T0 + 2_000, 1_000, { owner: 'second' });
    if (first.kind !== 'acquired' || second.kind !== 'acquired') throw new Error('not acquired');
    const [a, b] = await Promise.all([first.renew(T0 + 9_000), first.renew(T0 + 9_500)]);
    expect([a, b]).toEqual([false, false]);
    await first.release();
    const snap = await ref.get();
    expect(snap.get('owner')).toBe('second');
    expect((snap.get('expiresAt') as Timestamp).toMillis()).toBe(T0 + 3_000);
    expect(await second.renew(T0 + 4_000)).toBe(true);
    await second.release();
    expect((await ref.get()).exists).toBe(false);
  });

  it('serialises concurrent renewals so none looks lost', async () => {
    const ref = db.collection('leases').doc('concurrent');
    const lease = await acquireLease(ref, T0, 1_000);
    if (lease.kind !== 'acquired') throw new Error('not acquired');
    const results = await Promise.all([1, 2, 3, 4].map((i) => lease.renew(T0 + i * 1_000)));
    expect(results).toEqual([true, true, true, true]);
    expect(lease.expiresAtMs).toBe(T0 + 4_000);
    await lease.release();
    expect((await ref.get()).exists).toBe(false);
  });
});
