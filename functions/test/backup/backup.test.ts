import fc from 'fast-check';
import { FieldValue, type Firestore, GeoPoint, Timestamp } from 'firebase-admin/firestore';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  BACKUP_COLLECTIONS,
  exportBackup,
  listBackupPaths,
} from '../../src/adapters/backup/backup-export';
import { BackupImportError, importBackup } from '../../src/adapters/backup/backup-import';
import { createBackup, serializeBackup } from '../../src/core/backup/backup-create';
import { BackupError, type BackupFile, backupChecksum } from '../../src/core/backup/backup-file';
import { testFirestore } from '../support/firestore';
import { restorableDocumentSets } from './arbitraries';

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

/** A map nested `depth` levels below its top-level field `k`. */
function nested(depth: number): BackupFile['documents'][string] {
  let value: BackupFile['documents'][string][string] = 1;
  for (let i = 0; i < depth; i++) value = { k: value };
  return { k: value };
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
    // The audit log, quota claims, statistics and leases are left out.
    expect(Object.keys(backup.documents).sort()).toEqual([
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
      documents: 12,
      written: 12,
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

  it('exports only the collections asked for, and only what a restore writes', async () => {
    await seed();
    await db.doc('config/unknown').set({ x: 1 });
    const backup = await exportBackup(db, {
      collections: ['providers', 'auditLog', 'config', 'quotaBlocks'],
    });
    expect(Object.keys(backup.documents).sort()).toEqual([
      'auditLog/0001',
      'config/flags',
      'config/pipeline',
      'providers/keepa',
    ]);
    expect(BACKUP_COLLECTIONS).not.toContain('quotaBlocks');
    expect(BACKUP_COLLECTIONS).not.toContain('auditLog');
  });

  it("lists a page of names at a time: every document once, in the file's order", async () => {
    const ids = Array.from({ length: 1205 }, (_, i) => `h-${i}`);
    for (let i = 0; i < ids.length; i += 500) {
      const batch = db.batch();
      for (const id of ids.slice(i, i + 500)) batch.set(db.doc(`cooldownHistory/${id}`), { n: 1 });
      await batch.commit();
    }
    const paths = await listBackupPaths(db, ['cooldownHistory']);
    expect(paths).toEqual(ids.map((id) => `cooldownHistory/${id}`).sort());
  });

  it('refuses an export over its document bound before reading any document', async () => {
    await seed();
    await expect(listBackupPaths(db, ['ingest'], 3)).rejects.toThrow(/more than 3 documents/);
    expect(await listBackupPaths(db, ['ingest'], 4)).toHaveLength(4);
  });

  it('a dry run verifies and counts, and writes nothing', async () => {
    await seed();
    const text = serializeBackup(await exportBackup(db));
    await wipe();
    const result = await importBackup(db, text, { dryRun: true });
    expect(result).toMatchObject({ dryRun: true, documents: 12, written: 0, batches: 0 });
    expect(await allPaths()).toEqual([]);
  });

  it('writes in batches', async () => {
    await Promise.all(
      Array.from({ length: 12 }, (_, i) => db.doc(`cooldownHistory/${i}`).set({ i, at: AT })),
    );
    const text = serializeBackup(await exportBackup(db));
    await wipe();
    const result = await importBackup(db, text, { batchSize: 5 });
    expect(result).toMatchObject({ written: 12, batches: 3 });
    expect((await allPaths()).length).toBe(12);
  });

  it('bounds the document paths per batch (each audited commit lists them)', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `${i}`.padStart(1000, 'x'));
    await Promise.all(ids.map((id) => db.doc(`cooldowns/${id}`).set({ at: AT })));
    const text = serializeBackup(await exportBackup(db));
    await wipe();
    // A path here is 1,010 bytes: two fit in 3,000 bytes, three do not.
    const result = await importBackup(db, text, {
      batchWeight: 3000,
      weight: (w) => Buffer.byteLength(w.path) + 1,
    });
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
        'cooldownHistory/huge': { note: 'n'.repeat(600_000), more: 'm'.repeat(600_000) },
        'cooldownHistory/deep': { ['a'.repeat(800)]: { ['b'.repeat(800)]: 1 } },
        'cooldownHistory/long': { note: 'x'.repeat(1_048_488) },
        'cooldownHistory/nested': nested(25),
      };
      const content = { ...file, documents };
      const error = await expectRefused({ ...content, checksum: backupChecksum(content) }, [
        'shape',
      ]);
      expect(error.issues).toEqual([
        expect.stringMatching(/^documents\["providers\/__keepa__"\]: id "__keepa__" is reserved/),
        expect.stringMatching(
          /^documents\["cooldownHistory\/huge"\]: document is 1,200,0\d\d bytes \(Firestore takes at most 1,048,576\)$/,
        ),
        expect.stringMatching(
          /^documents\["cooldownHistory\/deep"\]\.a{800}\.b{800}: field path is 1601 bytes/,
        ),
        expect.stringMatching(
          /^documents\["cooldownHistory\/long"\]\.note: value is 1,048,488 bytes/,
        ),
        expect.stringMatching(
          /^documents\["cooldownHistory\/nested"\]\.k(\.k){21}: nested more than 20 levels deep/,
        ),
      ]);
      // Without the check, Firestore itself refuses: proof the emulator would stop a restore.
      const direct = await db
        .doc('cooldownHistory/huge')
        .set({ note: 'n'.repeat(600_000), more: 'm'.repeat(600_000) })
        .then(
          () => 0,
          (e: { code?: number }) => e.code,
        );
      expect(direct).toBe(3);
    });
  });

  describe('restores only what it may, everything checked before the first write', () => {
    /** A correctly checksummed file holding exactly `documents` (encoded). */
    function signed(documents: BackupFile['documents']): string {
      const content = {
        format: 'tollgate-backup' as const,
        version: 1 as const,
        createdAt: '2026-01-02T00:00:00.000Z',
        projectId: 'demo-hostile',
        documents,
      };
      return serializeBackup({ ...content, checksum: backupChecksum(content) });
    }

    async function refusedWith(text: string, kind: string): Promise<BackupError> {
      const before = await allPaths();
      for (const dryRun of [true, false]) {
        const error = await importBackup(db, text, { dryRun }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(BackupError);
        expect((error as BackupError).kind).toBe(kind);
        if (!dryRun) {
          expect(await allPaths()).toEqual(before);
          return error as BackupError;
        }
      }
      throw new Error('unreachable');
    }

    it('never the audit log, quota claims, collected data, leases or unknown documents', async () => {
      const error = await refusedWith(
        signed({
          'providers/keepa': { limits: [{ kind: 'concurrency', max: 2 }] },
          'auditLog/forged': { what: 'setUserRole', who: { uid: 'x' } },
          'quotaBlocks/keepa~1': { start: 0, end: 20 },
          'sales/A~2026~B000000001': { orderedUnits: 1 },
          'writeBatches/marker': { done: true },
          'ingest/deals/lease/current': { until: 1 },
          'config/other': { x: 1 },
        }),
        'scope',
      );
      expect(error.issues).toEqual([
        expect.stringMatching(/^documents\["auditLog\/forged"\]: the audit log is never restored/),
        expect.stringMatching(
          /^documents\["config\/other"\]: config\/other is not a configuration/,
        ),
        expect.stringMatching(
          /^documents\["ingest\/deals\/lease\/current"\]: only ingest\/\{id\}\/items/,
        ),
        expect.stringMatching(
          /^documents\["quotaBlocks\/keepa~1"\]: "quotaBlocks" is not a backed-up/,
        ),
        expect.stringMatching(/^documents\["sales\/A~2026~B000000001"\]: "sales" is not/),
        expect.stringMatching(/^documents\["writeBatches\/marker"\]: "writeBatches" is not/),
      ]);
    });

    it('a document nested 25 levels deep in the second batch: refused up front, even on a dry run', async () => {
      const documents: BackupFile['documents'] = {};
      for (let i = 0; i < 601; i++) {
        documents[`cooldownHistory/h-${String(i).padStart(3, '0')}`] = { i };
      }
      documents['cooldownHistory/h-550'] = nested(25) as BackupFile['documents'][string];
      const error = await refusedWith(signed(documents), 'shape');
      expect(error.issues).toEqual([
        expect.stringMatching(
          /^documents\["cooldownHistory\/h-550"\]\.k(\.k){21}: nested more than 20/,
        ),
      ]);
      // 20 levels is what Firestore takes: written whole.
      documents['cooldownHistory/h-550'] = nested(20) as BackupFile['documents'][string];
      const result = await importBackup(db, signed(documents), { batchSize: 499 });
      expect(result).toMatchObject({ written: 601, batches: 2 });
    });

    it('configuration against its schema, naming document and field', async () => {
      const error = await refusedWith(
        signed({
          'providers/keepa': { limits: [{ kind: 'tokenBucket', capacity: 1, refillPerSecond: 5 }] },
          'categories/deals': { provider: 'keepa', sharePercent: 140 },
          'config/flags': { maxAwaitSeconds: 'soon' },
          'config/pipeline': { batching: { nope: true }, collections: { stalledAfterMinutes: -1 } },
        }),
        'config',
      );
      expect(error.issues).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^documents\["providers\/keepa"\]\.limits\[0\]\.capacity: /),
          expect.stringMatching(/^documents\["categories\/deals"\]\.sharePercent: /),
          expect.stringMatching(/^documents\["config\/flags"\]\.maxAwaitSeconds: /),
          expect.stringMatching(
            /^documents\["config\/pipeline"\]\.collections\.stalledAfterMinutes: /,
          ),
        ]),
      );
    });

    it('the configuration it would leave: a category at 100% next to stored ones is refused', async () => {
      await seed(); // keepa-deals at 70%
      await db.doc('categories/keepa-refresh').set({ provider: 'keepa', sharePercent: 30 });
      await db.doc('collections/buckcheap').delete();
      const text = signed({ 'categories/keepa-deals': { provider: 'keepa', sharePercent: 100 } });
      const error = await refusedWith(text, 'config');
      expect(error.issues).toEqual([
        expect.stringMatching(
          /^(documents\["categories\/keepa-deals"\]|categories\/keepa-refresh \(stored, not in the backup\))\.sharePercent: shares of provider "keepa" sum to 130%/,
        ),
      ]);
      const unknown = await refusedWith(
        signed({ 'categories/orphan': { provider: 'nobody', sharePercent: 1 } }),
        'config',
      );
      expect(unknown.issues).toEqual([
        'documents["categories/orphan"].provider: unknown provider "nobody"',
      ]);
    });

    it('a share that could not carry its work, where neither the project nor the file had that problem', async () => {
      await seed();
      await db.doc('collections/c1').set({
        provider: 'keepa',
        category: 'keepa-deals',
        status: 'running',
        phase: 1,
        phases: null,
      });
      const error = await refusedWith(
        signed({ 'categories/keepa-deals': { provider: 'keepa', sharePercent: 1.5 } }),
        'config',
      );
      expect(error.issues[0]).toMatch(
        /^documents\["categories\/keepa-deals"\]\.sharePercent: share 1\.5% of token bucket .* carries at most/,
      );
    });

    it('a batch that still fails stops the restore and says how many were written', async () => {
      const documents: BackupFile['documents'] = {};
      for (let i = 0; i < 12; i++)
        documents[`cooldownHistory/c-${String(i).padStart(2, '0')}`] = { i };
      let batches = 0;
      const error = await importBackup(db, signed(documents), {
        batchSize: 5,
        beforeCommit: () => {
          if (++batches === 2)
            throw Object.assign(new Error('10 ABORTED: contention'), { code: 10 });
        },
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(BackupImportError);
      expect(error).toMatchObject({ written: 5, total: 12 });
      expect(await allPaths()).toHaveLength(5);
    });
  });

  it('random document sets round-trip through Firestore (property)', async () => {
    await fc.assert(
      fc.asyncProperty(restorableDocumentSets({ sdk: true }), async (documents) => {
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
