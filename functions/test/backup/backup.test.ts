import fc from 'fast-check';
import { FieldValue, type Firestore, GeoPoint, Timestamp } from 'firebase-admin/firestore';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BACKUP_COLLECTIONS, exportBackup, importBackup } from '../../src/adapters/backup';
import {
  BackupError,
  type BackupFile,
  backupChecksum,
  createBackup,
  serializeBackup,
} from '../../src/core/backup';
import { testFirestore } from '../support/firestore';
import { documentSets } from './arbitraries';

let db: Firestore;
let close: () => Promise<void>;
beforeAll(() => {
  ({ db, close } = testFirestore());
});
afterAll(() => close());

/** Every document in the database, however deep. */
async function allPaths(): Promise<string[]> {
  const paths: string[] = [];
  const walk = async (collections: FirebaseFirestore.CollectionReference[]) => {
    for (const collection of collections) {
      for (const ref of await collection.listDocuments()) {
        if ((await ref.get()).exists) paths.push(ref.path);
        await walk(await ref.listCollections());
      }
    }
  };
  await walk(await db.listCollections());
  return paths.sort();
}

/** Deletes every document (the embedded emulator's kindless queries, which recursiveDelete needs, find nothing). */
async function wipe(): Promise<void> {
  const paths = await allPaths();
  for (let i = 0; i < paths.length; i += 500) {
    const batch = db.batch();
    for (const path of paths.slice(i, i + 500)) batch.delete(db.doc(path));
    await batch.commit();
  }
  expect(await allPaths()).toEqual([]);
}

const AT = Timestamp.fromMillis(Date.UTC(2026, 0, 1, 12, 0, 0, 250));

async function seed(): Promise<void> {
  await Promise.all([
    db.doc('providers/keepa').set({
      displayName: 'Keepa product API',
      limits: [{ kind: 'tokenBucket', capacity: 300, refillPerSecond: 5, allowNegative: true }],
      cooldownSeconds: 300,
      settings: { domainId: 1, marketplaces: ['za', 'de'] },
    }),
    db.doc('categories/keepa-deals').set({ provider: 'keepa', sharePercent: 70, paused: false }),
    db.doc('config/flags').set({ maintenance: false, maxAwaitSeconds: 60 }),
    db.doc('config/pipeline').set({ health: { maxErrorRate: 0.2 } }),
    db.doc('collections/buckcheap').set({
      marketplaces: { takealot: { target: 800, collected: 12 } },
      phaseHistory: [{ phase: 1, sharePercent: 15, at: AT }],
      startedAt: AT,
      stalledAt: null,
    }),
    db.doc('cooldowns/keepa').set({
      until: new Timestamp(1_767_268_800, 123_456_000),
      startedAt: AT,
      hits: 2,
      ratio: 0.25,
      negativeZero: -0,
      notANumber: Number.NaN,
      huge: 1e300,
      unsafe: 2 ** 60,
      where: new GeoPoint(-33.92, 18.42),
      provider: db.doc('providers/keepa'),
      raw: Buffer.from([0, 1, 254, 255]),
      embedding: FieldValue.vector([0.5, -1, 2]),
      empty: {},
      emptyList: [],
      $tagLike: { $timestamp: 'not a timestamp' },
    }),
    db.doc('quotaAllocations/keepa').set({ shares: { 'keepa-deals': 70 }, effectiveAt: AT }),
    db.doc('autosync/spapi-vendor-sales').set({ watermarkMs: 1_767_225_600_000, completed: [] }),
    db.doc('autosync/spapi-vendor-sales/lease/current').set({ until: AT }),
    db.doc('ingest/deals').set({ counts: { peek: 2, done: 1 } }),
    db.doc('ingest/deals/items/B000000001').set({ key: 'B000000001', stage: 'peek', queue: 'p' }),
    db.doc('ingest/deals/items/~a2V5').set({ key: 'key', stage: 'done', queue: null }),
    db.doc('ingest/deals/lease/current').set({ until: AT }),
    // Items whose parent document was never written.
    db.doc('ingest/orphan/items/X1').set({ key: 'X1', stage: 'peek' }),
    db.doc('auditLog/0001').set({ at: AT, by: 'admin@example.com', action: 'clearCooldown' }),
    // Not configuration or state: left out.
    db.doc('quotaBlocks/keepa~1').set({ start: 0, end: 20 }),
    db.doc('usageStats/keepa~deals~202601011200').set({ granted: 5 }),
  ]);
}

describe('backup export and import (emulator)', () => {
  beforeEach(wipe);

  it('round-trips configuration and state: export, wipe, import, same data', async () => {
    await seed();
    const backup = await exportBackup(db, { now: () => Date.UTC(2026, 0, 2) });
    expect(Object.keys(backup.documents).sort()).toEqual([
      'auditLog/0001',
      'autosync/spapi-vendor-sales',
      'categories/keepa-deals',
      'collections/buckcheap',
      'config/flags',
      'config/pipeline',
      'cooldowns/keepa',
      'ingest/deals',
      'ingest/deals/items/B000000001',
      'ingest/deals/items/~a2V5',
      'ingest/orphan/items/X1',
      'providers/keepa',
      'quotaAllocations/keepa',
    ]);
    expect(backup.createdAt).toBe('2026-01-02T00:00:00.000Z');
    expect(backup.documents['cooldowns/keepa']).toMatchObject({
      until: { $timestamp: '2026-01-01T12:00:00.123456000Z' },
      negativeZero: { $double: '-0' },
      notANumber: { $double: 'NaN' },
      raw: { $bytes: 'AAH+/w==' },
      provider: { $ref: 'providers/keepa' },
      where: { $geopoint: { latitude: -33.92, longitude: 18.42 } },
      embedding: { $vector: [0.5, -1, 2] },
      $tagLike: { $map: { $timestamp: 'not a timestamp' } },
    });
    const text = serializeBackup(backup);

    await wipe();
    const result = await importBackup(db, text);
    expect(result).toMatchObject({
      dryRun: false,
      documents: 13,
      written: 13,
      byCollection: { ingest: 4, config: 2, providers: 1 },
    });

    const again = await exportBackup(db, { now: () => Date.UTC(2026, 0, 2) });
    expect(again.documents).toEqual(backup.documents);
    expect(again.checksum).toBe(backup.checksum);
    const cooldown = (await db.doc('cooldowns/keepa').get()).data()!;
    expect(cooldown.until).toBeInstanceOf(Timestamp);
    expect((cooldown.until as Timestamp).isEqual(new Timestamp(1_767_268_800, 123_456_000))).toBe(
      true,
    );
    expect(Object.is(cooldown.negativeZero, -0)).toBe(true);
    expect(cooldown.notANumber).toBeNaN();
    expect(cooldown.where).toBeInstanceOf(GeoPoint);
    expect(cooldown.provider.path).toBe('providers/keepa');
    expect(Buffer.from(cooldown.raw)).toEqual(Buffer.from([0, 1, 254, 255]));
    expect(
      (await db.doc('collections/buckcheap').get()).get('phaseHistory')[0].at.isEqual(AT),
    ).toBe(true);
  });

  it('exports only the collections asked for', async () => {
    await seed();
    const backup = await exportBackup(db, { collections: ['providers', 'quotaBlocks'] });
    expect(Object.keys(backup.documents).sort()).toEqual([
      'providers/keepa',
      'quotaBlocks/keepa~1',
    ]);
    expect(BACKUP_COLLECTIONS).not.toContain('quotaBlocks');
  });

  it('a dry run verifies and counts, and writes nothing', async () => {
    await seed();
    const text = serializeBackup(await exportBackup(db));
    await wipe();
    const result = await importBackup(db, text, { dryRun: true });
    expect(result).toMatchObject({ dryRun: true, documents: 13, written: 0, batches: 0 });
    expect(await allPaths()).toEqual([]);
  });

  it('writes in batches', async () => {
    await Promise.all(
      Array.from({ length: 12 }, (_, i) => db.doc(`auditLog/${i}`).set({ i, at: AT })),
    );
    const text = serializeBackup(await exportBackup(db));
    await wipe();
    const result = await importBackup(db, text, { batchSize: 5 });
    expect(result).toMatchObject({ written: 12, batches: 3 });
    expect((await allPaths()).length).toBe(12);
  });

  it('bounds the document paths per batch (each audited commit lists them)', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `${i}`.padStart(1000, 'x'));
    await Promise.all(ids.map((id) => db.doc(`auditLog/${id}`).set({ at: AT })));
    const text = serializeBackup(await exportBackup(db));
    await wipe();
    // A path here is 1,009 bytes: two fit in 3,000 bytes, three do not.
    const result = await importBackup(db, text, { batchPathBytes: 3000 });
    expect(result).toMatchObject({ written: 12, batches: 6 });
  });

  describe('refuses a damaged backup and writes nothing', () => {
    let good: string;
    let file: BackupFile;
    beforeEach(async () => {
      await seed();
      file = await exportBackup(db);
      good = serializeBackup(file);
      await wipe();
    });

    async function expectRefused(input: unknown, kinds: string[]) {
      const error = await importBackup(db, input).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(BackupError);
      expect(kinds).toContain((error as BackupError).kind);
      expect(await allPaths()).toEqual([]);
      return error as BackupError;
    }

    it('a corrupted byte', async () => {
      const bytes = Buffer.from(good);
      // Inside a document's values, then on the JSON structure, then not UTF-8 at all.
      const inValue = bytes.indexOf('Keepa product API');
      const a = Buffer.from(bytes);
      a[inValue] = 'k'.charCodeAt(0);
      expect((await expectRefused(a, ['checksum'])).message).toMatch(/checksum/);
      const b = Buffer.from(bytes);
      b[bytes.indexOf(':')] = '#'.charCodeAt(0);
      await expectRefused(b, ['corrupt']);
      const c = Buffer.from(bytes);
      c[Math.floor(bytes.length / 2)] = 0xff;
      await expectRefused(c, ['corrupt']);
    });

    it('a truncated file', async () => {
      for (const length of [0, 100, good.length - 3]) {
        await expectRefused(good.slice(0, length), ['truncated']);
      }
      await expectRefused(Buffer.from(good).subarray(0, good.length / 2), ['truncated']);
    });

    it('a wrong checksum', async () => {
      const last = file.checksum.at(-1) === '0' ? '1' : '0';
      const wrong = { ...file, checksum: file.checksum.slice(0, -1) + last };
      await expectRefused(serializeBackup(wrong), ['checksum']);
      await expectRefused(wrong, ['checksum']);
    });

    it('a tampered document', async () => {
      const tampered = structuredClone(file);
      tampered.documents['config/flags'] = { maintenance: true, maxAwaitSeconds: 60 };
      await expectRefused(serializeBackup(tampered), ['checksum']);
      const added = structuredClone(file);
      added.documents['providers/evil'] = { limits: [] };
      await expectRefused(added, ['checksum']);
      const removed = structuredClone(file);
      delete removed.documents['providers/keepa'];
      await expectRefused(serializeBackup(removed), ['checksum']);
    });

    it('something that is not a backup', async () => {
      await expectRefused('{"hello":"world"}', ['shape']);
      await expectRefused({ ...file, version: 2 }, ['version']);
    });

    it('documents Firestore would refuse half way: named up front, nothing written', async () => {
      // A file with a valid checksum (hand-made or from another tool) that production would
      // refuse on the batch holding the bad document, after earlier batches were written.
      const documents: BackupFile['documents'] = {
        ...file.documents,
        'providers/__keepa__': { limits: [] },
        'auditLog/huge': { note: 'n'.repeat(600_000), more: 'm'.repeat(600_000) },
        'auditLog/deep': { ['a'.repeat(800)]: { ['b'.repeat(800)]: 1 } },
        'auditLog/long': { note: 'x'.repeat(1_048_488) },
      };
      const content = { ...file, documents };
      const error = await expectRefused({ ...content, checksum: backupChecksum(content) }, [
        'shape',
      ]);
      expect(error.issues).toEqual([
        expect.stringMatching(/^documents\["providers\/__keepa__"\]: id "__keepa__" is reserved/),
        expect.stringMatching(
          /^documents\["auditLog\/huge"\]: document is 1,200,0\d\d bytes \(Firestore takes at most 1,048,576\)$/,
        ),
        expect.stringMatching(
          /^documents\["auditLog\/deep"\]\.a{800}\.b{800}: field path is 1601 bytes/,
        ),
        expect.stringMatching(/^documents\["auditLog\/long"\]\.note: value is 1,048,488 bytes/),
      ]);
      // Without the check, Firestore itself refuses: proof the emulator would stop a restore.
      const direct = await db
        .doc('auditLog/huge')
        .set({ note: 'n'.repeat(600_000), more: 'm'.repeat(600_000) })
        .then(
          () => 0,
          (e: { code?: number }) => e.code,
        );
      expect(direct).toBe(3);
    });
  });

  it('random document sets round-trip through Firestore (property)', async () => {
    await fc.assert(
      fc.asyncProperty(documentSets({ sdk: true }), async (documents) => {
        await wipe();
        const collections = [...new Set(Object.keys(documents).map((p) => p.split('/')[0]!))];
        const original = createBackup({ createdAt: 0, projectId: 'p', documents });
        await importBackup(db, serializeBackup(original));
        // Reading back sees every document; nested ones appear through their parents only
        // one level down, so compare exactly the documents an export of this shape covers.
        const exported = await exportBackup(db, { collections, now: () => 0, projectId: 'p' });
        const reachable = Object.fromEntries(
          Object.entries(original.documents).filter(([p]) => p.split('/').length <= 4),
        );
        expect(exported.documents).toEqual(reachable);
      }),
      { numRuns: 15 },
    );
  });
});
