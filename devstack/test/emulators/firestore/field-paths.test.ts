import {
  AggregateField,
  FieldPath,
  FieldValue,
  type Query,
  Timestamp,
} from 'firebase-admin/firestore';
import { describe, expect, it } from 'vitest';
import { call, databaseRoot, db, freshCollection, rawClient } from './clients.ts';

describe('nested field paths', () => {
  it("update({'stats.calls': increment}) increments inside a map and keeps its siblings", async () => {
    const ref = db().collection(freshCollection('fp-inc')).doc('d');
    await ref.set({ stats: { calls: 1, name: 'x' }, top: true });
    await ref.update({ 'stats.calls': FieldValue.increment(1) });
    await ref.update({
      'stats.calls': FieldValue.increment(2),
      'stats.bytes': FieldValue.increment(1.5),
    });
    expect((await ref.get()).data()).toEqual({
      stats: { calls: 4, name: 'x', bytes: 1.5 },
      top: true,
    });
  });

  it('applies transforms nested in set(..., {merge: true})', async () => {
    const ref = db().collection(freshCollection('fp-merge')).doc('d');
    await ref.set({ stats: { calls: 5, keep: 'me' }, other: 1 });
    await ref.set(
      {
        stats: {
          calls: FieldValue.increment(1),
          at: FieldValue.serverTimestamp(),
          deep: { n: FieldValue.increment(3) },
        },
      },
      { merge: true },
    );
    const data = (await ref.get()).data()!;
    expect(data.stats.calls).toBe(6);
    expect(data.stats.keep).toBe('me');
    expect(data.stats.deep).toEqual({ n: 3 });
    expect(data.stats.at).toBeInstanceOf(Timestamp);
    expect(data.other).toBe(1);
  });

  it('arrayUnion / arrayRemove / delete() work on nested paths', async () => {
    const ref = db().collection(freshCollection('fp-array')).doc('d');
    await ref.set({ tags: { list: ['a'], old: 1 } });
    await ref.update({
      'tags.list': FieldValue.arrayUnion('b', 'a', 'c'),
      'tags.old': FieldValue.delete(),
    });
    await ref.update({ 'tags.list': FieldValue.arrayRemove('a') });
    expect((await ref.get()).data()).toEqual({ tags: { list: ['b', 'c'] } });
  });

  it('update() of a nested path replaces only that leaf; field names with dots work via FieldPath', async () => {
    const ref = db().collection(freshCollection('fp-leaf')).doc('d');
    await ref.set({ m: { a: 1, b: 2 } });
    await ref.update({ 'm.a': 10 });
    await ref.update(new FieldPath('dotted.name'), 'x');
    const snap = await ref.get();
    expect(snap.get('m')).toEqual({ a: 10, b: 2 });
    expect(snap.get(new FieldPath('dotted.name'))).toBe('x');
    expect(snap.get('dotted')).toBeUndefined();
  });

  it('queries filter and order on nested fields', async () => {
    const col = db().collection(freshCollection('fp-query'));
    await Promise.all([
      col.doc('a').set({ stats: { calls: 3 } }),
      col.doc('b').set({ stats: { calls: 1 } }),
      col.doc('c').set({ stats: { calls: 2 } }),
      col.doc('d').set({ other: true }),
    ]);
    const ids = async (q: Query) => (await q.get()).docs.map((d) => d.id);
    expect(await ids(col.where('stats.calls', '>=', 2))).toEqual(['c', 'a']);
    expect(await ids(col.where('stats.calls', '==', 1))).toEqual(['b']);
    expect(await ids(col.orderBy('stats.calls', 'desc'))).toEqual(['a', 'c', 'b']);
    const sum = await col.aggregate({ total: AggregateField.sum('stats.calls') }).get();
    expect(sum.data().total).toBe(6);
  });

  it('maximum and minimum transforms keep the larger / smaller number', async () => {
    const name = freshCollection('fp-maxmin');
    const ref = db().collection(name).doc('d');
    await ref.set({ m: { hi: 5, lo: 5 } });
    const client = rawClient();
    const docName = `${databaseRoot()}/${name}/d`;
    const commit = (hi: number, lo: number) =>
      call(client, 'Commit', {
        database: databaseRoot().replace(/\/documents$/, ''),
        writes: [
          {
            update: { name: docName },
            update_mask: { field_paths: [] },
            update_transforms: [
              { field_path: 'm.hi', maximum: { integer_value: hi } },
              { field_path: 'm.lo', minimum: { integer_value: lo } },
              { field_path: 'm.fresh', maximum: { double_value: 0.5 } },
            ],
            current_document: { exists: true },
          },
        ],
      });
    await commit(3, 7);
    expect((await ref.get()).get('m')).toEqual({ hi: 5, lo: 5, fresh: 0.5 });
    await commit(9, 1);
    expect((await ref.get()).get('m')).toEqual({ hi: 9, lo: 1, fresh: 0.5 });
    client.close();
  });
});
