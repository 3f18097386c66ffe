import { AggregateField, FieldPath, type Query } from 'firebase-admin/firestore';
import { beforeAll, describe, expect, it } from 'vitest';
import { db, freshCollection } from './clients.ts';

const ids = async (q: Query) => (await q.get()).docs.map((d) => d.id);

describe('queries', () => {
  const col = db().collection(freshCollection('query'));

  beforeAll(async () => {
    await Promise.all([
      col.doc('a').set({ n: 3, tags: ['x'], kind: 'odd' }),
      col.doc('b').set({ n: 1, tags: ['y'], kind: 'odd' }),
      col.doc('c').set({ n: 2, tags: ['x', 'y'], kind: 'even' }),
      col.doc('d').set({ n: 2.5, kind: null }),
      col.doc('e').set({ other: true }),
      col.doc('f').collection('sub').doc('g').set({ n: 10 }),
    ]);
  });

  it('orders by a field, leaving out documents without it, ties broken by name', async () => {
    expect(await ids(col.orderBy('n'))).toEqual(['b', 'c', 'd', 'a']);
    expect(await ids(col.orderBy('n', 'desc'))).toEqual(['a', 'd', 'c', 'b']);
    expect(await ids(col.orderBy('kind').orderBy('n'))).toEqual(['d', 'c', 'b', 'a']);
  });

  it('supports offset, limit and limitToLast', async () => {
    expect(await ids(col.orderBy('n').offset(1).limit(2))).toEqual(['c', 'd']);
    expect(await ids(col.orderBy('n').limitToLast(2))).toEqual(['d', 'a']);
  });

  it('supports cursors by value and by document', async () => {
    const c = await col.doc('c').get();
    expect(await ids(col.orderBy('n').startAfter(2))).toEqual(['d', 'a']);
    expect(await ids(col.orderBy('n').startAt(2).endBefore(3))).toEqual(['c', 'd']);
    expect(await ids(col.orderBy('n').startAfter(c))).toEqual(['d', 'a']);
    expect(await ids(col.orderBy('n').endAt(c))).toEqual(['b', 'c']);
  });

  it('orders and pages by document id', async () => {
    expect(await ids(col.orderBy(FieldPath.documentId()).startAfter('c').limit(2))).toEqual([
      'd',
      'e',
    ]);
    expect(await ids(col.where(FieldPath.documentId(), 'in', ['a', 'e']))).toEqual(['a', 'e']);
  });

  it('compares integers and doubles as numbers, and filters with in / not-in / != / array ops', async () => {
    expect(await ids(col.where('n', '>', 2))).toEqual(['d', 'a']);
    expect(await ids(col.where('n', '==', 2.0))).toEqual(['c']);
    expect(await ids(col.where('kind', 'in', ['even', 'odd']))).toEqual(['a', 'b', 'c']);
    expect(await ids(col.where('kind', 'not-in', ['odd']))).toEqual(['c']);
    expect(await ids(col.where('kind', '!=', 'odd'))).toEqual(['c']);
    expect(await ids(col.where('kind', '==', null))).toEqual(['d']);
    expect(await ids(col.where('tags', 'array-contains', 'y'))).toEqual(['b', 'c']);
    expect(await ids(col.where('tags', 'array-contains-any', ['x', 'z']))).toEqual(['a', 'c']);
  });

  it('counts, sums and averages', async () => {
    const snap = await col
      .where('kind', 'in', ['odd', 'even'])
      .aggregate({
        count: AggregateField.count(),
        sum: AggregateField.sum('n'),
        avg: AggregateField.average('n'),
      })
      .get();
    expect(snap.data()).toEqual({ count: 3, sum: 6, avg: 2 });
  });

  it('collection group queries find nested collections', async () => {
    const name = col.doc('f').collection('sub').id;
    const hits = (await db().collectionGroup(name).where('n', '==', 10).get()).docs;
    expect(hits.map((d) => d.ref.path)).toContain(`${col.id}/f/sub/g`);
  });

  it('onSnapshot delivers the current result, then later changes', async () => {
    const live = db().collection(freshCollection('listen'));
    await live.doc('a').set({ n: 1 });
    const snapshots: string[][] = [];
    let sawBoth!: () => void;
    const both = new Promise<void>((resolve) => {
      sawBoth = resolve;
    });
    const unsubscribe = live.orderBy('n').onSnapshot((snap) => {
      snapshots.push(snap.docs.map((d) => d.id));
      if (snap.size === 2) sawBoth();
    });
    await expect.poll(() => snapshots.length).toBeGreaterThan(0);
    await live.doc('b').set({ n: 2 });
    await both;
    unsubscribe();
    expect(snapshots[0]).toEqual(['a']);
    expect(snapshots.at(-1)).toEqual(['a', 'b']);
  });
});
