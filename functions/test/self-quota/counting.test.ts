import { FieldValue, type Firestore } from 'firebase-admin/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isInstrumented } from '../../src/adapters/storage/firestore-ops';
import { attachSelfQuota, selfQuotaOf } from '../../src/adapters/storage/self-quota-runtime';
import { WriteBuffer } from '../../src/adapters/storage/write-buffer';
import { unaryCost } from '../../src/core/storage/firestore-billing';
import {
  FIRESTORE_OPS,
  type FirestoreOp,
  SelfQuotaMonitor,
} from '../../src/core/storage/self-quota';
import { increment } from '../../src/core/storage/write-buffer';
import { testFirestore } from '../support/firestore';

/**
 * Every kind of Firestore operation the functions make is counted exactly once, at the one
 * place they all pass (firestore-ops.ts), against the embedded emulator: a counter that missed
 * transactional writes, deletes, BulkWriter or aggregations, or counted a batch twice, fails.
 */

let db: Firestore;
let other: Firestore;
let close: () => Promise<void>;
let closeOther: () => Promise<void>;
/** A clock that never moves: every count stays in the current second. */
const monitor = new SelfQuotaMonitor(
  {
    limits: {
      read: { perSecond: 1e6, perMinute: 6e7 },
      write: { perSecond: 1e6, perMinute: 6e7 },
      delete: { perSecond: 1e6, perMinute: 6e7 },
    },
  },
  () => Date.UTC(2026, 0, 1, 12),
);

beforeAll(() => {
  ({ db, close } = testFirestore());
  ({ db: other, close: closeOther } = testFirestore());
  attachSelfQuota(db, monitor, { limits: false });
});
afterAll(async () => {
  await close();
  await closeOther();
});

function counts(): Record<FirestoreOp, number> {
  return Object.fromEntries(FIRESTORE_OPS.map((op) => [op, monitor.usage(op, 'second')])) as Record<
    FirestoreOp,
    number
  >;
}

/** The reads, writes and deletes `fn` made. */
async function cost(fn: () => Promise<unknown>): Promise<Record<FirestoreOp, number>> {
  const before = counts();
  await fn();
  const after = counts();
  return Object.fromEntries(FIRESTORE_OPS.map((op) => [op, after[op] - before[op]])) as Record<
    FirestoreOp,
    number
  >;
}

const ops = (read: number, write: number, del = 0) => ({ read, write, delete: del });

describe('counting every Firestore operation once', () => {
  it('single-document writes and deletes', async () => {
    expect(await cost(() => db.doc('c/a').create({ n: 1 }))).toEqual(ops(0, 1));
    expect(await cost(() => db.doc('c/a').set({ n: 2 }))).toEqual(ops(0, 1));
    expect(await cost(() => db.doc('c/a').set({ m: 1 }, { merge: true }))).toEqual(ops(0, 1));
    expect(await cost(() => db.doc('c/a').update({ n: FieldValue.increment(1) }))).toEqual(
      ops(0, 1),
    );
    expect(await cost(() => db.collection('c').add({ n: 9 }))).toEqual(ops(0, 1));
    expect(await cost(() => db.doc('c/gone').delete())).toEqual(ops(0, 0, 1));
  });

  it('does not count what failed', async () => {
    await db.doc('c/exists').set({ n: 1 });
    expect(
      await cost(() =>
        db
          .doc('c/exists')
          .create({ n: 2 })
          .catch(() => 'already exists'),
      ),
    ).toEqual(ops(0, 0));
    expect(
      await cost(() =>
        db
          .doc('c/missing')
          .update({ n: 2 })
          .catch(() => 'not found'),
      ),
    ).toEqual(ops(0, 0));
  });

  it('gets, getAll and queries (a query with no result costs one read)', async () => {
    await Promise.all(['q/1', 'q/2', 'q/3'].map((p) => db.doc(p).set({ k: 1 })));
    expect(await cost(() => db.doc('q/1').get())).toEqual(ops(1, 0));
    expect(await cost(() => db.doc('q/none').get())).toEqual(ops(1, 0));
    expect(await cost(() => db.getAll(db.doc('q/1'), db.doc('q/2'), db.doc('q/x')))).toEqual(
      ops(3, 0),
    );
    expect(await cost(() => db.collection('q').get())).toEqual(ops(3, 0));
    expect(await cost(() => db.collection('q').limit(2).get())).toEqual(ops(2, 0));
    expect(await cost(() => db.collection('q').where('k', '==', 2).get())).toEqual(ops(1, 0));
    expect(await cost(() => db.collection('empty').get())).toEqual(ops(1, 0));
    expect(await cost(() => db.collectionGroup('q').select().get())).toEqual(ops(3, 0));
    const streamed = await cost(async () => {
      for await (const _ of db.collection('q').stream()) {
        // consumed one by one
      }
    });
    expect(streamed).toEqual(ops(3, 0));
    expect(await cost(() => db.collection('q').listDocuments())).toEqual(ops(3, 0));
  });

  it('aggregations: one read per 1,000 index entries, at least one', async () => {
    expect(await cost(() => db.collection('q').count().get())).toEqual(ops(1, 0));
    expect(await cost(() => db.collection('empty').count().get())).toEqual(ops(1, 0));
    // 1,001 entries: two reads.
    const writes = Array.from({ length: 1001 }, (_, i) => i);
    for (let i = 0; i < writes.length; i += 500) {
      const batch = db.batch();
      for (const j of writes.slice(i, i + 500)) batch.set(db.doc(`big/${j}`), { j });
      await batch.commit();
    }
    expect(await cost(() => db.collection('big').count().get())).toEqual(ops(2, 0));
  });

  it('batches: each write and delete once', async () => {
    const spent = await cost(() => {
      const batch = db.batch();
      batch.set(db.doc('b/1'), { n: 1 });
      batch.create(db.doc('b/2'), { n: 1 });
      batch.update(db.doc('q/1'), { k: FieldValue.increment(1) });
      batch.delete(db.doc('b/old'));
      return batch.commit();
    });
    expect(spent).toEqual(ops(0, 3, 1));
  });

  it('transactions: their reads, and their writes and deletes at commit', async () => {
    await db.doc('t/a').set({ n: 1 });
    await db.doc('t/b').set({ n: 1 });
    const spent = await cost(() =>
      db.runTransaction(async (tx) => {
        const a = await tx.get(db.doc('t/a'));
        const [b, missing] = await tx.getAll(db.doc('t/b'), db.doc('t/none'));
        const query = await tx.get(db.collection('t'));
        tx.update(a.ref, { n: (a.get('n') as number) + 1 });
        tx.set(b!.ref, { n: 5 });
        tx.create(missing!.ref, { n: 0 });
        tx.delete(db.doc('t/c'));
        return query.size;
      }),
    );
    // 1 + 2 gets, a query of 2 documents; 3 writes and 1 delete.
    expect(spent).toEqual(ops(5, 3, 1));
  });

  it('a transaction that gives up pays for its reads, not its writes', async () => {
    const spent = await cost(() =>
      db
        .runTransaction(async (tx) => {
          await tx.get(db.doc('t/a'));
          tx.set(db.doc('t/z'), { n: 1 });
          throw new Error('changed my mind');
        })
        .catch(() => undefined),
    );
    expect(spent).toEqual(ops(1, 0));
  });

  it('BulkWriter: each write that succeeded', async () => {
    const spent = await cost(async () => {
      const writer = db.bulkWriter();
      writer.onWriteError(() => false);
      void writer.set(db.doc('w/1'), { n: 1 });
      void writer.set(db.doc('w/2'), { n: 1 });
      void writer.delete(db.doc('w/3'));
      void writer.update(db.doc('w/none'), { n: 1 }).catch(() => undefined);
      await writer.close();
    });
    expect(spent).toEqual(ops(0, 2, 1));
  });

  it('the write buffer: its commit once (documents and batch marker), no extra counting', async () => {
    const buffer = new WriteBuffer(db);
    const spent = await cost(async () => {
      const writes = [
        buffer.update('buf/a', { n: increment(1) }),
        buffer.update('buf/a', { n: increment(2) }),
        buffer.update('buf/b', { n: increment(1) }),
      ];
      await buffer.flush();
      await Promise.all(writes);
    });
    // Two documents (the two updates of buf/a coalesce) and the batch marker.
    expect(spent.write).toBe(buffer.stats().documentWrites + 1);
    expect(spent.write).toBe(3);
  });

  it('counts only the Firestore it was attached to, once however often attached', async () => {
    expect(isInstrumented(db)).toBe(true);
    expect(isInstrumented(other)).toBe(false);
    expect(await cost(() => other.doc('x/1').set({ n: 1 }))).toEqual(ops(0, 0));
    const second = new SelfQuotaMonitor();
    expect(attachSelfQuota(db, second)).toBe(selfQuotaOf(db));
    expect(await cost(() => db.doc('x/1').set({ n: 1 }))).toEqual(ops(0, 1));
    expect(second.usage('write', 'second')).toBe(0);
  });

  it('bills batchWrite per successful status and commits per write (pure)', () => {
    const writes = [{ update: {} }, { delete: 'd' }, { update: {} }];
    expect(unaryCost('commit', { writes }, {})).toEqual({ write: 2, delete: 1 });
    expect(
      unaryCost('batchWrite', { writes }, { status: [{ code: 0 }, { code: 0 }, { code: 5 }] }),
    ).toEqual({ write: 1, delete: 1 });
    expect(unaryCost('beginTransaction', {}, {})).toEqual({});
    expect(unaryCost('listDocuments', {}, [])).toEqual({ read: 1 });
  });
});
