import { FieldValue } from 'firebase-admin/firestore';
import { describe, expect, it } from 'vitest';
import { db, freshCollection } from './clients.ts';

/** Resolves once `count` parties have arrived; lets two transactions interleave on purpose. */
function barrier(count: number) {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return () => {
    arrived++;
    if (arrived === count) open();
    return opened;
  };
}

describe('transactions', () => {
  it('50 concurrent read-modify-write transactions on one counter lose no update', async () => {
    const ref = db().collection(freshCollection('tx-counter')).doc('counter');
    const outcomes = await Promise.allSettled(
      Array.from({ length: 50 }, () =>
        db().runTransaction(async (tx) => {
          const snap = await tx.get(ref);
          tx.set(ref, { n: (snap.get('n') ?? 0) + 1 });
        }),
      ),
    );
    expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);
    expect((await ref.get()).get('n')).toBe(50);
  });

  it('runs the body exactly once on the happy path, even for a missing document', async () => {
    const ref = db().collection(freshCollection('tx-once')).doc('fresh');
    let attempts = 0;
    await db().runTransaction(async (tx) => {
      attempts++;
      const snap = await tx.get(ref);
      expect(snap.exists).toBe(false);
      tx.create(ref, { created: true });
    });
    expect(attempts).toBe(1);
    expect((await ref.get()).data()).toEqual({ created: true });
  });

  it('retries when a non-transactional write changes a document it read', async () => {
    const ref = db().collection(freshCollection('tx-conflict')).doc('doc');
    await ref.set({ n: 1 });
    let attempts = 0;
    await db().runTransaction(async (tx) => {
      attempts++;
      const snap = await tx.get(ref);
      if (attempts === 1) await ref.update({ n: FieldValue.increment(100) });
      tx.update(ref, { n: snap.get('n') + 1 });
    });
    expect(attempts).toBe(2);
    expect((await ref.get()).get('n')).toBe(102);
  });

  it('retries when a document appears in a query result it read', async () => {
    const col = db().collection(freshCollection('tx-query'));
    await col.doc('a').set({ open: true });
    const summary = db().collection(freshCollection('tx-query-summary')).doc('s');
    let attempts = 0;
    await db().runTransaction(async (tx) => {
      attempts++;
      const open = await tx.get(col.where('open', '==', true));
      if (attempts === 1) await col.doc('b').set({ open: true });
      tx.set(summary, { open: open.size });
    });
    expect(attempts).toBe(2);
    expect((await summary.get()).get('open')).toBe(2);
  });

  it('resolves two transactions that lock two documents in opposite order', async () => {
    const col = db().collection(freshCollection('tx-deadlock'));
    const [x, y] = [col.doc('x'), col.doc('y')];
    await Promise.all([x.set({ n: 0 }), y.set({ n: 0 })]);
    const bothHoldOne = barrier(2);
    const run = (first: typeof x, second: typeof x) => {
      let attempt = 0;
      return db().runTransaction(async (tx) => {
        attempt++;
        const a = await tx.get(first);
        if (attempt === 1) await bothHoldOne();
        const b = await tx.get(second);
        tx.update(first, { n: a.get('n') + 1 });
        tx.update(second, { n: b.get('n') + 1 });
      });
    };
    await Promise.all([run(x, y), run(y, x)]);
    expect([(await x.get()).get('n'), (await y.get()).get('n')]).toEqual([2, 2]);
  });

  it('a failed commit applies none of its writes', async () => {
    const col = db().collection(freshCollection('tx-atomic'));
    const outcome = db().runTransaction(async (tx) => {
      await tx.get(col.doc('read'));
      tx.set(col.doc('a'), { ok: true });
      tx.update(col.doc('missing'), { ok: true });
    });
    await expect(outcome).rejects.toMatchObject({ code: 5 });
    expect((await col.doc('a').get()).exists).toBe(false);
  });
});
