import { describe, expect, it } from 'vitest';
import { codeOf, db, freshCollection } from './clients.ts';

const NOT_FOUND = 5;
const ALREADY_EXISTS = 6;
const FAILED_PRECONDITION = 9;

describe('preconditions', () => {
  it('update() with a stale lastUpdateTime fails with FAILED_PRECONDITION', async () => {
    const ref = db().collection(freshCollection('pre-update')).doc('d');
    await ref.set({ v: 1 });
    const stale = (await ref.get()).updateTime!;
    await ref.update({ v: 2 });
    expect(await codeOf(ref.update({ v: 3 }, { lastUpdateTime: stale }))).toBe(FAILED_PRECONDITION);
    expect((await ref.get()).get('v')).toBe(2);

    const current = (await ref.get()).updateTime!;
    await ref.update({ v: 4 }, { lastUpdateTime: current });
    expect((await ref.get()).get('v')).toBe(4);
  });

  it('delete() with a stale lastUpdateTime fails and keeps the document', async () => {
    const ref = db().collection(freshCollection('pre-delete')).doc('d');
    const first = await ref.set({ v: 1 });
    await ref.set({ v: 2 });
    expect(await codeOf(ref.delete({ lastUpdateTime: first.writeTime }))).toBe(FAILED_PRECONDITION);
    expect((await ref.get()).exists).toBe(true);
    await ref.delete({ lastUpdateTime: (await ref.get()).updateTime! });
    expect((await ref.get()).exists).toBe(false);
  });

  it('create() of an existing document fails with ALREADY_EXISTS', async () => {
    const ref = db().collection(freshCollection('pre-create')).doc('d');
    await ref.create({ v: 1 });
    expect(await codeOf(ref.create({ v: 2 }))).toBe(ALREADY_EXISTS);
    expect((await ref.get()).get('v')).toBe(1);
  });

  it('update() of a missing document fails with NOT_FOUND', async () => {
    const ref = db().collection(freshCollection('pre-missing')).doc('d');
    expect(await codeOf(ref.update({ v: 1 }))).toBe(NOT_FOUND);
    expect((await ref.get()).exists).toBe(false);
  });

  it('gives every commit its own, increasing update time (even within one millisecond)', async () => {
    const col = db().collection(freshCollection('pre-times'));
    const writes = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => ({
        id: `d${i % 4}`,
        time: (await col.doc(`d${i % 4}`).set({ i })).writeTime,
      })),
    );
    expect(new Set(writes.map((w) => w.time.valueOf())).size).toBe(40);
    // A document's update time is that of the last write applied to it, which is the latest.
    for (const doc of (await col.get()).docs) {
      const latest = writes
        .filter((w) => w.id === doc.id)
        .reduce((a, b) => (a.time.valueOf() > b.time.valueOf() ? a : b));
      expect(doc.updateTime!.isEqual(latest.time)).toBe(true);
    }
  });

  it('set() replaces the whole document; set(merge) and update() keep other fields', async () => {
    const ref = db().collection(freshCollection('pre-set')).doc('d');
    await ref.set({ a: 1, b: 2 });
    await ref.set({ c: 3 });
    expect((await ref.get()).data()).toEqual({ c: 3 });
    await ref.set({ d: 4 }, { merge: true });
    await ref.update({ e: 5 });
    expect((await ref.get()).data()).toEqual({ c: 3, d: 4, e: 5 });
  });
});

describe('atomic commits', () => {
  it('a batch whose last write fails applies none of its writes', async () => {
    const col = db().collection(freshCollection('atomic-batch'));
    await col.doc('existing').set({ v: 1 });
    const batch = db().batch();
    batch.set(col.doc('new'), { v: 1 });
    batch.update(col.doc('existing'), { v: 2 });
    batch.delete(col.doc('existing-too'));
    batch.update(col.doc('missing'), { v: 1 });
    expect(await codeOf(batch.commit())).toBe(NOT_FOUND);
    expect((await col.doc('new').get()).exists).toBe(false);
    expect((await col.doc('existing').get()).get('v')).toBe(1);
  });

  it('a batch with a stale precondition in the middle changes nothing', async () => {
    const col = db().collection(freshCollection('atomic-pre'));
    const first = await col.doc('a').set({ v: 1 });
    await col.doc('a').set({ v: 2 });
    const batch = db().batch();
    batch.set(col.doc('b'), { v: 1 });
    batch.update(col.doc('a'), { v: 3 }, { lastUpdateTime: first.writeTime });
    batch.set(col.doc('c'), { v: 1 });
    expect(await codeOf(batch.commit())).toBe(FAILED_PRECONDITION);
    const docs = (await col.get()).docs.map((d) => [d.id, d.get('v')]);
    expect(docs).toEqual([['a', 2]]);
  });

  it('writes to one document within a batch apply in order', async () => {
    const ref = db().collection(freshCollection('atomic-order')).doc('d');
    const batch = db().batch();
    batch.create(ref, { v: 1 });
    batch.update(ref, { w: 2 });
    await batch.commit();
    expect((await ref.get()).data()).toEqual({ v: 1, w: 2 });
  });
});
