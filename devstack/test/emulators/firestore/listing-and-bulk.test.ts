import { describe, expect, it } from 'vitest';
import { call, codeOf, databaseRoot, db, freshCollection, rawClient } from './clients.ts';

describe('ListDocuments', () => {
  it('listDocuments() returns every document, including ones that only have subcollections', async () => {
    const col = db().collection(freshCollection('list'));
    await Promise.all([
      col.doc('b').set({ v: 1 }),
      col.doc('a').set({ v: 1 }),
      col.doc('parent-only').collection('child').doc('x').set({ v: 1 }),
    ]);
    const refs = await col.listDocuments();
    expect(refs.map((r) => r.id).sort()).toEqual(['a', 'b', 'parent-only']);
    expect((await col.doc('parent-only').get()).exists).toBe(false);
  });

  it('pages with page_size and next_page_token', async () => {
    const name = freshCollection('list-pages');
    const col = db().collection(name);
    await Promise.all(['d1', 'd2', 'd3', 'd4', 'd5'].map((id) => col.doc(id).set({ id })));
    const client = rawClient();
    const seen: string[] = [];
    let pageToken = '';
    let pages = 0;
    do {
      const res = await call<{ documents: Array<{ name: string }>; next_page_token: string }>(
        client,
        'ListDocuments',
        { parent: databaseRoot(), collection_id: name, page_size: 2, page_token: pageToken },
      );
      expect(res.documents.length).toBeLessThanOrEqual(2);
      seen.push(...res.documents.map((d) => d.name.split('/').at(-1)!));
      pageToken = res.next_page_token;
      pages++;
    } while (pageToken && pages < 10);
    client.close();
    expect(seen).toEqual(['d1', 'd2', 'd3', 'd4', 'd5']);
    expect(pages).toBeGreaterThanOrEqual(3);
  });
});

describe('ListCollectionIds', () => {
  it('listCollections() names the subcollections that hold documents', async () => {
    const parent = db().collection(freshCollection('colls')).doc('p');
    await Promise.all([
      parent.collection('b').doc('x').set({}),
      parent.collection('a').doc('x').collection('deep').doc('y').set({}),
    ]);
    expect((await parent.listCollections()).map((c) => c.id)).toEqual(['a', 'b']);
  });
});

describe('BatchWrite (BulkWriter)', () => {
  it('applies each write independently and reports a status per write', async () => {
    const col = db().collection(freshCollection('bulk'));
    await col.doc('taken').set({ v: 0 });
    const writer = db().bulkWriter();
    writer.onWriteError(() => false); // no retries: failures must surface as they are
    const ops = [
      writer.set(col.doc('a'), { v: 1 }),
      writer.create(col.doc('taken'), { v: 1 }),
      writer.update(col.doc('missing'), { v: 1 }),
      writer.create(col.doc('b'), { v: 2 }),
    ].map((p) =>
      p.then(
        () => 'ok',
        (err: { code?: number }) => err.code,
      ),
    );
    await writer.close();
    expect(await Promise.all(ops)).toEqual(['ok', 6, 5, 'ok']);
    const docs = (await col.get()).docs.map((d) => [d.id, d.get('v')]);
    expect(docs).toEqual([
      ['a', 1],
      ['b', 2],
      ['taken', 0],
    ]);
  });

  it('recursiveDelete() removes a collection with its subcollections', async () => {
    const col = db().collection(freshCollection('bulk-recursive'));
    await Promise.all([
      col.doc('a').set({ v: 1 }),
      col.doc('b').collection('sub').doc('c').set({ v: 2 }),
      col.doc('b').collection('sub').doc('c').collection('deeper').doc('d').set({ v: 3 }),
    ]);
    await db().recursiveDelete(col);
    expect(await col.listDocuments()).toEqual([]);
    expect((await col.doc('b').collection('sub').doc('c').get()).exists).toBe(false);
  });

  it('writes a few hundred documents', async () => {
    const col = db().collection(freshCollection('bulk-many'));
    const writer = db().bulkWriter();
    writer.onWriteError(() => false);
    const ops = Array.from({ length: 300 }, (_, i) =>
      writer.set(col.doc(`d${i}`), { i }).then(
        () => true,
        () => false,
      ),
    );
    await writer.close();
    expect((await Promise.all(ops)).every(Boolean)).toBe(true);
    expect((await col.count().get()).data().count).toBe(300);
  });
});

describe('document ids that are names of built-ins', () => {
  it('stores, reads, queries and lists ids like constructor, toString and hasOwnProperty', async () => {
    const col = db().collection(freshCollection('builtin-ids'));
    const ids = ['constructor', 'toString', 'valueOf', 'hasOwnProperty'];
    // `__proto__` matches Firestore's reserved `__.*__`: refused, as production does.
    expect(await codeOf(col.doc('__proto__').set({ id: '__proto__' }))).toBe(3);
    expect((await col.doc('constructor').get()).exists).toBe(false);
    await Promise.all(ids.map((id) => col.doc(id).set({ id })));
    for (const id of ids) expect((await col.doc(id).get()).get('id')).toBe(id);
    expect((await col.get()).docs.map((d) => d.id).sort()).toEqual([...ids].sort());
    expect((await col.listDocuments()).map((r) => r.id).sort()).toEqual([...ids].sort());
    await col.doc('toString').collection('sub').doc('valueOf').set({ ok: true });
    expect((await col.doc('toString').collection('sub').doc('valueOf').get()).get('ok')).toBe(true);
  });
});
