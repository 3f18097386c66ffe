import { FieldPath, FieldValue } from 'firebase-admin/firestore';
import { describe, expect, it } from 'vitest';
import { databaseRoot, db, freshCollection } from './clients.ts';

/**
 * Production Firestore's limits (https://firebase.google.com/docs/firestore/quotas), refused with
 * INVALID_ARGUMENT and production's messages. The raw npm package accepts every one of these
 * writes, so a restore production would refuse half way used to pass every local test.
 */

const INVALID_ARGUMENT = 3;

/** The gRPC code and message of a rejected call; `resolved` when it was not rejected. */
async function refusal(promise: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await promise;
  } catch (err) {
    const e = err as { code?: number; details?: string; message?: string };
    return { code: e.code ?? -1, details: e.details ?? e.message ?? String(err) };
  }
  return { code: 0, details: 'resolved' };
}

function expectRefused(r: { code: number; details: string }, details: string | RegExp) {
  expect(r.code).toBe(INVALID_ARGUMENT);
  if (typeof details === 'string') expect(r.details).toBe(details);
  else expect(r.details).toMatch(details);
}

/**
 * Production answers "field name '__x__' is reserved." (a captured production error); Google's
 * emulator was measured to leave out the quotes and the period for a top-level field.
 */
const reservedField = (name: string) => new RegExp(`^field name '?${name}'? is reserved\\.?$`);

const MIB = 1_048_576;

/** Storage size of a document name below the root: each id as a string (bytes + 1), + 16. */
const nameSize = (path: string) =>
  path.split('/').reduce((n, id) => n + Buffer.byteLength(id) + 1, 0) + 16;

/**
 * Fields that make the document at `path` exactly `size` bytes by the storage-size rules:
 * name + fields (name + 1, string value + 1) + 32. Two strings, each under the 1,048,487-byte
 * value limit.
 */
function fieldsOfSize(path: string, size: number): { a: string; b: string } {
  const rest = size - nameSize(path) - 32 - 2 * (2 + 1); // two one-letter names, two strings
  const a = Math.floor(rest / 2);
  return { a: 'x'.repeat(a), b: 'y'.repeat(rest - a) };
}

describe('document and collection ids', () => {
  it('refuses a reserved document id (__x__), for writes and reads', async () => {
    const col = db().collection(freshCollection('lim-id'));
    const message = 'Resource id "__x__" is invalid because it is reserved.';
    expectRefused(await refusal(col.doc('__x__').set({ v: 1 })), message);
    expectRefused(await refusal(col.doc('__x__').create({ v: 1 })), message);
    expectRefused(await refusal(col.doc('__x__').get()), message);
    expectRefused(await refusal(db().getAll(col.doc('ok'), col.doc('__x__'))), message);
    expectRefused(await refusal(col.doc('ok').collection('s').doc('__x__').set({})), message);
    // Only the whole `__.*__` form is reserved.
    for (const id of ['__x', 'x__', '_x_', '__', '___', 'a__b__']) {
      await col.doc(id).set({ id });
      expect((await col.doc(id).get()).get('id')).toBe(id);
    }
  });

  it('refuses a reserved collection id for writes, gets, queries and listings', async () => {
    const message = 'Collection id "__c__" is invalid because it is reserved.';
    const reserved = db().collection('__c__');
    expectRefused(await refusal(reserved.doc('d').set({ v: 1 })), message);
    expectRefused(await refusal(reserved.add({ v: 1 })), message);
    expectRefused(await refusal(reserved.doc('d').get()), message);
    expectRefused(await refusal(reserved.get()), message);
    expectRefused(await refusal(reserved.listDocuments()), message);
    const parent = db().collection(freshCollection('lim-col')).doc('p');
    expectRefused(await refusal(parent.collection('__c__').doc('d').set({})), message);
  });

  it('takes an id of 1,500 bytes and refuses 1,501, counted in UTF-8', async () => {
    const col = db().collection(freshCollection('lim-idlen'));
    const message = 'The key path element name is longer than 1500 bytes.';
    await col.doc('i'.repeat(1500)).set({ v: 1 });
    expect((await col.doc('i'.repeat(1500)).get()).get('v')).toBe(1);
    expectRefused(await refusal(col.doc('i'.repeat(1501)).set({ v: 1 })), message);
    expectRefused(await refusal(col.doc('i'.repeat(1501)).get()), message);
    await col.doc('é'.repeat(750)).set({ v: 2 }); // 1,500 bytes in 750 characters
    expectRefused(await refusal(col.doc(`${'é'.repeat(750)}x`).set({ v: 1 })), message);
    expectRefused(await refusal(db().collection('c'.repeat(1501)).doc('d').set({})), message);
  });

  it('refuses the ids "." and ".."', async () => {
    const col = freshCollection('lim-dot');
    const root = databaseRoot();
    for (const id of ['.', '..']) {
      const r = await refusal(db().doc(`${col}/${id}`).set({ v: 1 }));
      expectRefused(
        r,
        `Document name "${root}/${col}/${id}" contains a resource id "${id}" at index ${root.length + col.length + 2}.`,
      );
    }
  });
});

describe('field names and field paths', () => {
  it('refuses a reserved field name at any depth, in maps inside arrays too', async () => {
    const ref = db().collection(freshCollection('lim-field')).doc('d');
    await ref.set({ keep: true });
    expectRefused(await refusal(ref.set({ __x__: 1 })), reservedField('__x__'));
    expectRefused(await refusal(ref.set({ m: { __y__: 1 } })), reservedField('__y__'));
    expectRefused(
      await refusal(ref.set({ list: [{ ok: 1 }, { __z__: 1 }] })),
      reservedField('__z__'),
    );
    expectRefused(
      await refusal(ref.set({ __x__: 1 }, { merge: true })),
      /^field name '__x__'|reserved name/,
    );
    expectRefused(await refusal(ref.update({ __x__: 1 })), /reserved/);
    expectRefused(await refusal(ref.update(new FieldPath('m', '__y__'), 1)), /reserved/);
    expect((await ref.get()).data()).toEqual({ keep: true });
    // `__x`, `x__` are ordinary names; a vector's `__type__` is Firestore's own.
    await ref.set({ __x: 1, x__: 2, v: FieldValue.vector([1, 2, 3]) });
    expect((await ref.get()).get('x__')).toBe(2);
  });

  it('refuses a reserved field path in a transform or a transform that adds a reserved name', async () => {
    const ref = db().collection(freshCollection('lim-transform')).doc('d');
    await ref.set({ n: 1 });
    expectRefused(
      await refusal(ref.update({ __n__: FieldValue.increment(1) })),
      /reserved name|field name '__n__' is reserved/,
    );
    expectRefused(
      await refusal(ref.set({ m: { __t__: FieldValue.serverTimestamp() } }, { merge: true })),
      /reserved/,
    );
    expectRefused(
      await refusal(ref.update({ tags: FieldValue.arrayUnion({ __x__: 1 }) })),
      reservedField('__x__'),
    );
    expect((await ref.get()).data()).toEqual({ n: 1 });
  });

  it('takes a field name of 1,500 bytes and refuses 1,501', async () => {
    const ref = db().collection(freshCollection('lim-name')).doc('d');
    await ref.set({ ['f'.repeat(1500)]: 1 });
    expectRefused(
      await refusal(ref.set({ ['f'.repeat(1501)]: 1 })),
      'The property.name is longer than 1500 bytes.',
    );
    expectRefused(
      await refusal(ref.set({ m: { ['é'.repeat(751)]: 1 } })),
      'The property.name is longer than 1500 bytes.',
    );
  });

  it('refuses a field path of 1,500 bytes or more (masks, transforms, nested fields)', async () => {
    const ref = db().collection(freshCollection('lim-path')).doc('d');
    const message = 'property path is longer than 1500 bytes.';
    await ref.set({});
    // a.b as a path: 750 + 1 + 748 = 1,499 bytes is taken, 1,500 is not.
    await ref.update(new FieldPath('a'.repeat(750), 'b'.repeat(748)), 1);
    await ref.set({ ['a'.repeat(750)]: { ['c'.repeat(748)]: 2 } }, { merge: true });
    expectRefused(
      await refusal(ref.update(new FieldPath('a'.repeat(750), 'b'.repeat(749)), 1)),
      message,
    );
    expectRefused(await refusal(ref.set({ ['a'.repeat(750)]: { ['b'.repeat(749)]: 1 } })), message);
    expectRefused(
      await refusal(
        ref.update(new FieldPath('a'.repeat(750), 'b'.repeat(749)), FieldValue.increment(1)),
      ),
      message,
    );
    expectRefused(await refusal(ref.update(new FieldPath('p'.repeat(1500)), 1)), message);
    const data = (await ref.get()).get('a'.repeat(750));
    expect(Object.keys(data).map((k) => k.length)).toEqual([748, 748]);
  });
});

describe('document size (1 MiB, by the storage-size rules)', () => {
  it('takes a document of exactly 1,048,576 bytes and refuses one of 1,048,577', async () => {
    const col = freshCollection('lim-size');
    const ref = db().collection(col).doc('d');
    await ref.set(fieldsOfSize(`${col}/d`, MIB));
    expect((await ref.get()).get('a')).toHaveLength(fieldsOfSize(`${col}/d`, MIB).a.length);

    const over = db().collection(col).doc('e');
    expectRefused(
      await refusal(over.set(fieldsOfSize(`${col}/e`, MIB + 1))),
      `Document '${databaseRoot()}/${col}/e' cannot be written because its size (1,048,577 bytes) exceeds the maximum allowed size of 1,048,576 bytes.`,
    );
    expect((await over.get()).exists).toBe(false);
  });

  it('counts the document name: the same fields fit under a short id and not under a longer one', async () => {
    const col = freshCollection('lim-sizename');
    const fields = fieldsOfSize(`${col}/d`, MIB);
    await db().collection(col).doc('d').set(fields);
    expectRefused(
      await refusal(db().collection(col).doc('dd').set(fields)),
      /size \(1,048,577 bytes\)/,
    );
  });

  it('refuses an update or a transform that takes a document over the limit, and keeps it', async () => {
    const col = freshCollection('lim-grow');
    const ref = db().collection(col).doc('d');
    const fields = fieldsOfSize(`${col}/d`, MIB - 10); // room for one more field of 10 bytes
    await ref.set(fields);
    // `n`: 2 (name) + 8 (integer) = 10 bytes: fits exactly.
    await ref.update({ n: FieldValue.increment(1) });
    expectRefused(await refusal(ref.update({ m: FieldValue.increment(1) })), /exceeds the maximum/);
    expectRefused(
      await refusal(ref.update({ t: FieldValue.serverTimestamp() })),
      /exceeds the maximum/,
    );
    expectRefused(await refusal(ref.update({ b: `${fields.b}!` })), /exceeds the maximum/);
    expectRefused(
      await refusal(ref.update({ n: FieldValue.arrayUnion(1, 2) })),
      /exceeds the maximum/,
    );
    const stored = (await ref.get()).data()!;
    expect(stored.n).toBe(1);
    expect(stored.b).toBe(fields.b);
  });

  it('counts every value type as production does (the document just fits)', async () => {
    const col = freshCollection('lim-types');
    const path = `${col}/d`;
    const other = db().doc(`${col}/ref`);
    const values = {
      z: null, // 1
      t: true, // 1
      i: 7, // 8
      f: 1.5, // 8
      d: new Date(0), // 8
      g: new (await import('firebase-admin/firestore')).GeoPoint(1, 2), // 16
      r: other, // reference: the name size of `${col}/ref`
      y: Buffer.from([1, 2, 3]), // 3
      s: 'é', // 2 + 1
      a: [1, 'ab'], // 8 + 3
      m: { k: 1 }, // (1 + 1) + 8
      v: FieldValue.vector([1, 2]), // 16
    };
    const valueBytes = 1 + 1 + 8 + 8 + 8 + 16 + nameSize(`${col}/ref`) + 3 + 3 + 11 + 10 + 16;
    const used = nameSize(path) + 32 + Object.keys(values).length * 2 + valueBytes;
    const pad = MIB - used - (2 + 1); // one more field `p` holding a string
    const ref = db().doc(path);
    await ref.set({ ...values, p: 'p'.repeat(pad) });
    expectRefused(
      await refusal(ref.set({ ...values, p: 'p'.repeat(pad + 1) })),
      /\(1,048,577 bytes\)/,
    );
  });

  it('refuses a string value over 1,048,487 bytes', async () => {
    const ref = db().collection(freshCollection('lim-string')).doc('d');
    await ref.set({ s: 's'.repeat(1_048_487) });
    expectRefused(
      await refusal(ref.set({ s: 's'.repeat(1_048_488) })),
      'The value of property "s" is longer than 1048487 bytes.',
    );
  });
});

describe('every write path refuses, and refuses atomically', () => {
  it('a batch with one refused write writes nothing', async () => {
    const col = db().collection(freshCollection('lim-batch'));
    const batch = db().batch();
    batch.set(col.doc('good'), { v: 1 });
    batch.set(col.doc('__bad__'), { v: 1 });
    expectRefused(await refusal(batch.commit()), /reserved/);
    expect((await col.doc('good').get()).exists).toBe(false);
  });

  it('a transaction that writes a reserved field name fails without retrying and writes nothing', async () => {
    const ref = db().collection(freshCollection('lim-tx')).doc('d');
    await ref.set({ v: 1 });
    let attempts = 0;
    const r = await refusal(
      db().runTransaction(async (tx) => {
        attempts++;
        const v = (await tx.get(ref)).get('v') as number;
        tx.update(ref, { v: v + 1 });
        tx.set(ref.parent.doc('other'), { __x__: 1 });
      }),
    );
    expectRefused(r, reservedField('__x__'));
    expect(attempts).toBe(1);
    expect((await ref.get()).get('v')).toBe(1);
  });

  it('BulkWriter (BatchWrite) refuses the bad writes one by one and keeps the good ones', async () => {
    const col = db().collection(freshCollection('lim-bulk'));
    const writer = db().bulkWriter();
    writer.onWriteError(() => false);
    const outcomes = await Promise.all([
      refusal(writer.set(col.doc('a'), { v: 1 })),
      refusal(writer.set(col.doc('__b__'), { v: 1 })),
      refusal(writer.set(col.doc('c'), { __c__: 1 })),
      refusal(writer.set(col.doc('d'), fieldsOfSize(`${col.id}/d`, MIB + 1))),
      writer.close().then(() => ({ code: 0, details: 'closed' })),
    ]);
    expect(outcomes.map((o) => o.code)).toEqual([0, 3, 3, 3, 0]);
    expect((await col.get()).docs.map((d) => d.id)).toEqual(['a']);
  });
});
