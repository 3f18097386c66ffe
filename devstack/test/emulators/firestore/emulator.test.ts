import {
  type DocumentData,
  FieldValue,
  Firestore,
  GeoPoint,
  Timestamp,
} from 'firebase-admin/firestore';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type FirestoreEmulator,
  type FirestoreExport,
  startFirestore,
} from '../../../src/emulators/firestore/index.ts';
import { call, rawClient } from './clients.ts';

/**
 * The startFirestore API itself, on instances of its own (not the shared one from the global
 * setup): export/import, clear, and staying up after requests it does not support.
 */
const PROJECT = 'demo-export';
const started: FirestoreEmulator[] = [];
const clients: Firestore[] = [];

async function start(seed?: FirestoreExport) {
  const emulator = await startFirestore({ seed });
  started.push(emulator);
  // FIRESTORE_EMULATOR_HOST (the shared instance) would override an explicit host.
  const shared = process.env.FIRESTORE_EMULATOR_HOST;
  delete process.env.FIRESTORE_EMULATOR_HOST;
  try {
    const db = new Firestore({ projectId: PROJECT, host: emulator.hostPort, ssl: false });
    clients.push(db);
    return { emulator, db };
  } finally {
    if (shared !== undefined) process.env.FIRESTORE_EMULATOR_HOST = shared;
  }
}

afterAll(async () => {
  await Promise.all(clients.map((c) => c.terminate()));
  await Promise.all(started.map((e) => e.stop()));
});

describe('startFirestore', () => {
  it('exports every document as JSON with types preserved and imports it back', async () => {
    const { emulator, db } = await start();
    const data = {
      int: 42,
      double: 1.5,
      negative: -7,
      big: 2 ** 40,
      nan: Number.NaN,
      text: 'héllo ✓',
      flag: false,
      nothing: null,
      when: new Timestamp(1_700_000_000, 123_456_000),
      bytes: Buffer.from([0, 1, 254, 255]),
      ref: db.doc('other/doc'),
      geo: new GeoPoint(52.52, 13.405),
      list: [1, 'two', { three: 3 }, [4]],
      map: { nested: { deeper: 1.25, empty: {} }, arr: [] },
    };
    await db.doc('typed/one').set(data);
    await db.doc('typed/one/children/kid').set({ n: FieldValue.increment(2) });
    await db.doc('plain/two').set({});

    const exported = emulator.exportJson();
    const json = JSON.parse(JSON.stringify(exported)) as FirestoreExport;
    expect(json).toEqual(exported);
    const docs = json.databases.find((d) => d.project === PROJECT)!.documents;
    expect(docs.map((d) => d.path)).toEqual(['plain/two', 'typed/one', 'typed/one/children/kid']);
    const fields = docs[1]!.fields;
    expect(fields.int).toEqual({ integerValue: '42' });
    expect(fields.double).toEqual({ doubleValue: 1.5 });
    expect(fields.nan).toEqual({ doubleValue: 'NaN' });
    expect(fields.when).toEqual({ timestampValue: '2023-11-14T22:13:20.123456000Z' });
    expect(fields.bytes).toEqual({ bytesValue: 'AAH+/w==' });
    expect(fields.nothing).toEqual({ nullValue: null });

    // A fresh instance seeded with the export serves the same documents and times.
    const copy = await start(json);
    expect(copy.emulator.exportJson()).toEqual(exported);
    const original = await db.doc('typed/one').get();
    const restored = await copy.db.doc('typed/one').get();
    // References carry their Firestore instance, so compare them by path.
    const comparable = (d: DocumentData) => ({ ...d, ref: d.ref.path });
    expect(comparable(restored.data()!)).toEqual(comparable(original.data()!));
    expect(restored.get('nan')).toBeNaN();
    expect(restored.updateTime!.isEqual(original.updateTime!)).toBe(true);
    expect((await copy.db.doc('typed/one/children/kid').get()).get('n')).toBe(2);

    // Writes after an import get later update times than anything imported.
    const write = await copy.db.doc('typed/one').update({ int: 43 });
    expect(write.writeTime.toMillis()).toBeGreaterThan(original.updateTime!.toMillis());

    // importJson() on a running, cleared instance gives the same result.
    copy.emulator.clear();
    expect(copy.emulator.exportJson()).toEqual({ version: 1, databases: [] });
    copy.emulator.importJson(json);
    expect(copy.emulator.exportJson()).toEqual(exported);
  });

  it('answers unsupported or malformed requests with a gRPC error and keeps serving', async () => {
    const { emulator, db } = await start();
    const client = rawClient(emulator.hostPort);
    const root = `projects/${PROJECT}/databases/(default)/documents`;
    await expect(
      call(client, 'PartitionQuery', { parent: root, partition_count: 2 }),
    ).rejects.toMatchObject({ code: 12 });
    await expect(call(client, 'GetDocument', { name: `${root}/odd` })).rejects.toMatchObject({
      code: 3,
    });
    await expect(call(client, 'GetDocument', { name: 'nonsense' })).rejects.toMatchObject({
      code: 3,
    });
    await expect(call(client, 'GetDocument', { name: `${root}/c/missing` })).rejects.toMatchObject({
      code: 5,
    });
    client.close();
    await db.doc('still/up').set({ ok: true });
    expect((await db.doc('still/up').get()).get('ok')).toBe(true);
  });
});
