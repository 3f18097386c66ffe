import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { getApps } from 'firebase-admin/app';
import { DocumentReference, type Firestore, getFirestore } from 'firebase-admin/firestore';
import { getStorage } from 'firebase-admin/storage';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PayloadStore } from '../../src/adapters/storage/payload-store';
import { type Bucket, PayloadMissingError } from '../../src/adapters/storage/payload-store-types';
import {
  DEFAULT_TEMPORARY_MAX_AGE_MS,
  MAX_CONTENT_TYPE_BYTES,
  MAX_INLINE_BYTES,
  PAYLOADS_COLLECTION,
  PayloadIdError,
  payloadConfigSchema,
} from '../../src/core/storage/payloads';
import { testFirestore } from '../support/firestore';

// Firestore and Storage are the emulators the global setup started, reached only through the
// environment (FIRESTORE_EMULATOR_HOST, STORAGE_EMULATOR_HOST). firebase-admin's storage uses
// STORAGE_EMULATOR_HOST (with its scheme) as is; FIREBASE_STORAGE_EMULATOR_HOST is only read
// when that is unset, so nothing else needs setting.

let db: Firestore;
let close: () => Promise<void>;
let bucket: Bucket;
let store: PayloadStore;

/** The firebase-admin app testFirestore() created: getFirestore() caches one per app. */
function appOf(firestore: Firestore) {
  const app = getApps().find((a) => getFirestore(a) === firestore);
  if (!app) throw new Error('no app for this Firestore');
  return app;
}

function bucketFor(firestore: Firestore, name = `payloads-${randomUUID().slice(0, 8)}`): Bucket {
  return getStorage(appOf(firestore)).bucket(name);
}

beforeEach(() => {
  ({ db, close } = testFirestore());
  bucket = bucketFor(db);
  store = new PayloadStore(db, bucket);
});
afterEach(async () => {
  vi.restoreAllMocks();
  await close();
});

const doc = (id: string) => db.collection(PAYLOADS_COLLECTION).doc(id);
const objectNames = async (prefix = '') =>
  (await bucket.getFiles({ prefix }))[0].map((file) => file.name).sort();
const exists = async (name: string) => (await bucket.file(name).exists())[0];

describe('payload store: routing', () => {
  it('keeps a small payload inline in its metadata document', async () => {
    const json = JSON.stringify({ price: 12.5, title: 'Grüße' });
    const put = await store.put('small-1', json, { contentType: 'application/json' });
    expect(put).toMatchObject({
      id: 'small-1',
      location: 'inline',
      bytes: Buffer.byteLength(json),
      contentType: 'application/json',
      temporary: false,
      created: true,
    });
    expect(put.object).toBeUndefined();
    expect(Buffer.byteLength(json)).toBeGreaterThan(json.length); // bytes, not characters

    const stored = (await doc('small-1').get()).data()!;
    expect(stored.location).toBe('inline');
    expect(Buffer.from(stored.data).toString('utf8')).toBe(json);
    expect(stored.createdAt.toMillis()).toBe(put.createdAtMs);
    expect(await objectNames()).toEqual([]);

    const got = await store.get('small-1');
    expect(got!.data.toString('utf8')).toBe(json);
    expect(got).toMatchObject({
      location: 'inline',
      bytes: put.bytes,
      contentType: 'application/json',
    });
  });

  it('sends a payload above the threshold to Cloud Storage and reads it back byte for byte', async () => {
    const payload = randomBytes(1536 * 1024); // larger than any Firestore document
    const put = await store.put('large-1', payload, { contentType: 'application/octet-stream' });
    expect(put).toMatchObject({
      location: 'storage',
      bytes: payload.length,
      object: 'payloads/large-1',
      created: true,
    });

    const stored = (await doc('large-1').get()).data()!;
    expect(stored.data).toBeUndefined();
    expect(stored).toMatchObject({ location: 'storage', object: 'payloads/large-1' });
    expect(stored.generation).toBe(put.generation);
    const [metadata] = await bucket.file('payloads/large-1').getMetadata();
    expect(Number(metadata.size)).toBe(payload.length);
    expect(metadata.contentType).toBe('application/octet-stream');
    expect(metadata.metadata?.payloadId).toBe('large-1');

    const got = await store.get('large-1');
    expect(got!.data.equals(payload)).toBe(true);
    expect(got!.bytes).toBe(payload.length);
  });

  it('uploads very large payloads resumably', async () => {
    const payload = randomBytes(9 * 1024 * 1024);
    await store.put('huge', payload, { contentType: 'application/octet-stream' });
    expect((await store.get('huge'))!.data.equals(payload)).toBe(true);
  });

  it('routes at the configured threshold: up to it inline, one byte more to storage', async () => {
    const small = new PayloadStore(db, bucket, {
      config: payloadConfigSchema.parse({ inlineMaxBytes: 100 }),
    });
    expect((await small.put('at', 'x'.repeat(100), { contentType: 'text/plain' })).location).toBe(
      'inline',
    );
    expect(
      (await small.put('above', 'x'.repeat(101), { contentType: 'text/plain' })).location,
    ).toBe('storage');
    expect(await objectNames()).toEqual(['payloads/above']);
  });

  it('refuses a content type that could take the metadata document past 1 MiB, storing nothing', async () => {
    const contentType = `text/plain; note=${'n'.repeat(1100)}`;
    await expect(store.put('long-type', 'x'.repeat(300_000), { contentType })).rejects.toThrow(
      'payload long-type: contentType is 1117 bytes (at most 1024)',
    );
    expect((await doc('long-type').get()).exists).toBe(false);
    expect(await objectNames()).toEqual([]);
    // The largest inline payload with the longest content type still fits.
    const largest = new PayloadStore(db, bucket, {
      config: payloadConfigSchema.parse({ inlineMaxBytes: MAX_INLINE_BYTES }),
    });
    const id = 'i'.repeat(500);
    const put = await largest.put(id, Buffer.alloc(MAX_INLINE_BYTES), {
      contentType: 't'.repeat(MAX_CONTENT_TYPE_BYTES),
      temporary: true,
    });
    expect(put).toMatchObject({ location: 'inline', bytes: MAX_INLINE_BYTES, created: true });
  });

  it('returns undefined for an unknown payload and rejects unsafe ids', async () => {
    expect(await store.get('nothing')).toBeUndefined();
    expect(await store.delete('nothing')).toBe(false);
    await expect(store.put('a/b', 'x', { contentType: 'text/plain' })).rejects.toThrow(
      PayloadIdError,
    );
  });
});

describe('payload store: idempotency', () => {
  it('writes an inline payload once; a second put returns what is stored', async () => {
    const first = await store.put('dup', 'first', { contentType: 'text/plain' });
    const { updateTime } = await doc('dup').get();
    const second = await store.put('dup', 'second!', { contentType: 'text/plain' });
    expect(second).toEqual({ ...first, created: false });
    expect((await doc('dup').get()).updateTime!.isEqual(updateTime!)).toBe(true);
    expect((await store.get('dup'))!.data.toString()).toBe('first');
  });

  it('writes a storage payload once: same object generation, same document', async () => {
    const payload = randomBytes(300 * 1024);
    const first = await store.put('dup-large', payload, {
      contentType: 'application/octet-stream',
    });
    const { updateTime } = await doc('dup-large').get();
    const second = await store.put('dup-large', payload, {
      contentType: 'application/octet-stream',
    });
    expect(second).toEqual({ ...first, created: false });
    expect((await doc('dup-large').get()).updateTime!.isEqual(updateTime!)).toBe(true);
    const [metadata] = await bucket.file('payloads/dup-large').getMetadata();
    expect(String(metadata.generation)).toBe(first.generation);
  });

  it('lets exactly one of two concurrent puts create the payload', async () => {
    const payload = randomBytes(300 * 1024);
    const results = await Promise.all(
      [0, 1].map(() => store.put('race', payload, { contentType: 'application/octet-stream' })),
    );
    expect(results.map((r) => r.created).sort()).toEqual([false, true]);
    expect(results[0]!.generation).toBe(results[1]!.generation);
    expect(await objectNames()).toEqual(['payloads/race']);
    expect((await store.get('race'))!.data.equals(payload)).toBe(true);
  });

  it('completes a put that crashed after its upload, from the object as stored', async () => {
    const payload = randomBytes(300 * 1024);
    await bucket.file('payloads/crashed').save(payload, {
      contentType: 'application/x-test',
      resumable: false,
    });
    const [before] = await bucket.file('payloads/crashed').getMetadata();
    const put = await store.put('crashed', payload, { contentType: 'application/x-test' });
    expect(put).toMatchObject({ created: true, location: 'storage', bytes: payload.length });
    expect(put.generation).toBe(String(before.generation)); // not uploaded again
    expect((await store.get('crashed'))!.data.equals(payload)).toBe(true);
  });
});

describe('payload store: failures', () => {
  it('leaves no metadata when the upload fails', async () => {
    // The stand-in, like GCS, refuses to create a bucket with an invalid name.
    const broken = new PayloadStore(db, bucketFor(db, 'Not_A_Valid_Bucket'));
    await expect(
      broken.put('lost', randomBytes(300 * 1024), { contentType: 'application/octet-stream' }),
    ).rejects.toMatchObject({ code: 400 });
    expect((await doc('lost').get()).exists).toBe(false);
    expect(await broken.stats()).toMatchObject({ total: { count: 0, bytes: 0 } });
  });

  it('deletes its object when the metadata write fails, and a retry then succeeds', async () => {
    const unavailable = Object.assign(new Error('14 UNAVAILABLE: injected'), { code: 14 });
    vi.spyOn(DocumentReference.prototype, 'create').mockRejectedValueOnce(unavailable);
    const payload = randomBytes(300 * 1024);
    await expect(
      store.put('flaky', payload, { contentType: 'application/octet-stream' }),
    ).rejects.toBe(unavailable);
    expect((await doc('flaky').get()).exists).toBe(false);
    expect(await exists('payloads/flaky')).toBe(false);

    const put = await store.put('flaky', payload, { contentType: 'application/octet-stream' });
    expect(put.created).toBe(true);
    expect((await store.get('flaky'))!.data.equals(payload)).toBe(true);
  });

  it('keeps the object when the failed-looking metadata write did commit', async () => {
    // A timeout after the commit: the document is there, so the object must stay.
    const create = DocumentReference.prototype.create;
    vi.spyOn(DocumentReference.prototype, 'create').mockImplementationOnce(async function (
      this: DocumentReference,
      data,
    ) {
      await create.call(this, data);
      throw Object.assign(new Error('4 DEADLINE_EXCEEDED: injected'), { code: 4 });
    });
    const payload = randomBytes(300 * 1024);
    await expect(
      store.put('committed', payload, { contentType: 'application/octet-stream' }),
    ).rejects.toMatchObject({ code: 4 });
    expect((await store.get('committed'))!.data.equals(payload)).toBe(true);
  });

  it('reports a storage payload whose object vanished', async () => {
    await store.put('gone', randomBytes(300 * 1024), { contentType: 'application/octet-stream' });
    await bucket.file('payloads/gone').delete();
    await expect(store.get('gone')).rejects.toBeInstanceOf(PayloadMissingError);
  });
});

describe('payload store: delete, clean-up and stats', () => {
  it('deletes the document and the object', async () => {
    await store.put('del', randomBytes(300 * 1024), { contentType: 'application/octet-stream' });
    await store.put('del-inline', 'x', { contentType: 'text/plain' });
    expect(await store.delete('del')).toBe(true);
    expect(await store.delete('del-inline')).toBe(true);
    expect((await doc('del').get()).exists).toBe(false);
    expect(await exists('payloads/del')).toBe(false);
    expect(await store.get('del-inline')).toBeUndefined();
    expect(await store.delete('del')).toBe(false);
  });

  it('removes only temporary payloads older than the threshold', async () => {
    const large = () => randomBytes(300 * 1024);
    const bin = { contentType: 'application/octet-stream' };
    await store.put('old-tmp', large(), { ...bin, temporary: true });
    await store.put('old-tmp-inline', 'small', { contentType: 'text/plain', temporary: true });
    await store.put('old-keep', large(), bin);
    await store.put('old-keep-inline', 'small', { contentType: 'text/plain' });
    await bucket.file('tmp/orphan').save('left by a crashed put', { resumable: false });
    await sleep(30);
    const boundary = Date.now(); // everything above is older than this, everything below newer
    await sleep(30);
    await store.put('new-tmp', large(), { ...bin, temporary: true });
    await store.put('new-tmp-inline', 'small', { contentType: 'text/plain', temporary: true });
    expect(await objectNames('tmp/')).toEqual(['tmp/new-tmp', 'tmp/old-tmp', 'tmp/orphan']);

    // Nothing is a day old yet.
    expect(await store.cleanupTemporary(Date.now())).toEqual({ objects: 0, documents: 0 });

    // A day after the boundary the first batch is older than 24 hours, the second is not.
    const result = await store.cleanupTemporary(new Date(boundary + DEFAULT_TEMPORARY_MAX_AGE_MS));
    expect(result).toEqual({ objects: 2, documents: 2 });
    expect(await objectNames()).toEqual(['payloads/old-keep', 'tmp/new-tmp']);
    const ids = (await db.collection(PAYLOADS_COLLECTION).get()).docs.map((d) => d.id).sort();
    expect(ids).toEqual(['new-tmp', 'new-tmp-inline', 'old-keep', 'old-keep-inline']);

    // Permanent payloads never expire; the rest go once old enough (threshold as argument).
    const later = await store.cleanupTemporary(Date.now() + 60_000, 60_000 - 1);
    expect(later).toEqual({ objects: 1, documents: 2 });
    expect(await objectNames()).toEqual(['payloads/old-keep']);
    expect(await store.get('old-keep')).toBeDefined();
  });

  it('does not delete a permanent payload that shares its id with an old temporary object', async () => {
    await bucket.file('tmp/shared').save('orphaned temporary', { resumable: false });
    await store.put('shared', randomBytes(300 * 1024), { contentType: 'application/octet-stream' });
    const result = await store.cleanupTemporary(Date.now() + DEFAULT_TEMPORARY_MAX_AGE_MS + 1);
    expect(result).toEqual({ objects: 1, documents: 0 });
    expect((await store.get('shared'))!.object).toBe('payloads/shared');
  });

  it('pages through more temporary objects and documents than one page holds', async () => {
    const ids = Array.from({ length: 505 }, (_, i) => `t${String(i).padStart(4, '0')}`);
    for (let i = 0; i < ids.length; i += 100) {
      await Promise.all(
        ids.slice(i, i + 100).flatMap((id) => [
          store.put(id, id, { contentType: 'text/plain', temporary: true }), // inline
          bucket.file(`tmp/orphan-${id}`).save(id, { resumable: false }),
        ]),
      );
    }
    const result = await store.cleanupTemporary(Date.now() + DEFAULT_TEMPORARY_MAX_AGE_MS + 1);
    expect(result).toEqual({ objects: 505, documents: 505 });
    expect(await objectNames()).toEqual([]);
    expect((await store.stats()).total.count).toBe(0);
  });

  it('reports counts and bytes by location', async () => {
    expect(await store.stats()).toEqual({
      inline: { count: 0, bytes: 0 },
      storage: { count: 0, bytes: 0 },
      total: { count: 0, bytes: 0 },
    });
    await store.put('s1', 'abc', { contentType: 'text/plain' });
    await store.put('s2', 'defgh', { contentType: 'text/plain', temporary: true });
    await store.put('l1', randomBytes(300_000), { contentType: 'application/octet-stream' });
    await store.put('l2', randomBytes(400_000), { contentType: 'application/octet-stream' });
    await store.put('l2', randomBytes(10), { contentType: 'application/octet-stream' }); // no-op
    expect(await store.stats()).toEqual({
      inline: { count: 2, bytes: 8 },
      storage: { count: 2, bytes: 700_000 },
      total: { count: 4, bytes: 700_008 },
    });
    await store.delete('l1');
    expect((await store.stats()).storage).toEqual({ count: 1, bytes: 400_000 });
  });
});
