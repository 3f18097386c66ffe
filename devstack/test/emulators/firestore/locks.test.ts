import { afterEach, describe, expect, it, vi } from 'vitest';
import { Engine } from '../../../src/emulators/firestore/engine.ts';
import { type LockOwner, LockTable } from '../../../src/emulators/firestore/locks.ts';
import { emulatorPackage } from '../../../src/emulators/firestore/package.ts';

/** Unit tests of the lock table and transaction lifetimes (no server, fake timers). */
const owner = (id: string): LockOwner => ({ id, held: new Set(), waiting: new Map() });
/** Watches a lock request from the start (so a rejection is never unhandled). */
function track(p: Promise<unknown>) {
  let state = 'pending';
  p.then(
    () => {
      state = 'granted';
    },
    (err: { code?: number }) => {
      state = `rejected:${err.code}`;
    },
  );
  return () => state;
}
/** The state of a tracked request once pending promise callbacks have run. */
const settled = async (state: () => string) => {
  await new Promise((resolve) => setImmediate(resolve));
  return state();
};

describe('LockTable', () => {
  it('hands a lock to waiters in arrival order', async () => {
    const locks = new LockTable();
    const [a, b, c] = [owner('a'), owner('b'), owner('c')];
    await locks.acquire(a, 'k');
    const pb = track(locks.acquire(b, 'k'));
    const pc = track(locks.acquire(c, 'k'));
    expect([await settled(pb), await settled(pc)]).toEqual(['pending', 'pending']);
    locks.releaseAll(a, new Error('done'));
    expect([await settled(pb), await settled(pc)]).toEqual(['granted', 'pending']);
    locks.releaseAll(b, new Error('done'));
    expect(await settled(pc)).toBe('granted');
  });

  it('refuses a wait that would deadlock, with ABORTED', async () => {
    const locks = new LockTable();
    const [a, b] = [owner('a'), owner('b')];
    await locks.acquire(a, 'x');
    await locks.acquire(b, 'y');
    const aWaits = track(locks.acquire(a, 'y'));
    expect(await settled(track(locks.acquire(b, 'x')))).toBe('rejected:10');
    expect(await settled(aWaits)).toBe('pending');
    locks.releaseAll(b, new Error('aborted'));
    expect(await settled(aWaits)).toBe('granted');
  });

  it('detects a cycle that appears when a lock changes hands', async () => {
    const locks = new LockTable();
    const [a, w, x] = [owner('a'), owner('w'), owner('x')];
    await locks.acquire(a, 'k');
    await locks.acquire(x, 'k2');
    const wK = track(locks.acquire(w, 'k'));
    const wK2 = track(locks.acquire(w, 'k2'));
    const xK = track(locks.acquire(x, 'k'));
    locks.releaseAll(a, new Error('done')); // w gets k; x now waits for w, which waits for x
    expect(await settled(wK)).toBe('granted');
    expect(await settled(xK)).toBe('rejected:10');
    locks.releaseAll(x, new Error('aborted'));
    expect(await settled(wK2)).toBe('granted');
  });
});

describe('transaction lifetimes', () => {
  afterEach(() => {
    vi.useRealTimers();
  });
  const doc = 'projects/p/databases/(default)/documents/c/d';

  it('aborts an idle transaction and releases its locks', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const engine = new Engine(new emulatorPackage.FirestoreState(), {
      transactionIdleMillis: 1000,
    });
    const idle = engine.transactions.begin();
    await engine.getDocuments([doc], idle);
    const waiter = engine.transactions.begin();
    const waiting = track(engine.getDocuments([doc], waiter));
    expect(await settled(waiting)).toBe('pending');
    vi.advanceTimersByTime(1000);
    expect(await settled(waiting)).toBe('granted');
    expect(() => engine.transactions.lookup(engine.transactions.idBytes(idle))).toThrow(/idle/);
    expect(() => engine.commit([], engine.transactions.idBytes(idle))).toThrow(
      expect.objectContaining({ code: 10 }),
    );
  });

  it('gives up a lock wait after the idle timeout with ABORTED', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const engine = new Engine(new emulatorPackage.FirestoreState(), {
      transactionIdleMillis: 1000,
    });
    const holder = engine.transactions.begin();
    await engine.getDocuments([doc], holder);
    const waiter = engine.transactions.begin();
    const waiting = track(engine.getDocuments([doc], waiter));
    vi.advanceTimersByTime(600);
    engine.transactions.lookup(engine.transactions.idBytes(holder)); // the holder stays busy
    vi.advanceTimersByTime(400);
    expect(await settled(waiting)).toBe('rejected:10');
    expect(engine.commit([], engine.transactions.idBytes(holder)).results).toEqual([]);
  });
});
