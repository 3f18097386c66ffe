import { createHash } from 'node:crypto';
import fc from 'fast-check';
import type { App } from 'firebase-admin/app';
import { type Firestore, Query } from 'firebase-admin/firestore';
import { getStorage } from 'firebase-admin/storage';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { importBackup } from '../../src/adapters/backup/backup-import';
import type { BackupStorage } from '../../src/adapters/backup/backup-storage';
import { documentDigest } from '../../src/adapters/backup/backup-values';
import { writeScheduledBackup } from '../../src/adapters/backup/scheduled-backup';
import { scheduledFolder } from '../../src/adapters/backup/scheduled-folder';
import { restoreScheduledBackup } from '../../src/adapters/backup/scheduled-restore';
import {
  applyRetention,
  listScheduledBackups,
} from '../../src/adapters/backup/scheduled-retention';
import { runScheduledBackup } from '../../src/adapters/backup/scheduled-run';
import { importBackup as importOperation } from '../../src/adapters/operations/backups';
import type { OperationContext } from '../../src/adapters/operations/context';
import { PRODUCTS_PATH } from '../../src/adapters/pipeline/product-documents';
import { SALES_COLLECTION } from '../../src/adapters/pipeline/sales-repository';
import { QUOTA_COLLECTIONS } from '../../src/adapters/quota/collections';
import { PayloadStore } from '../../src/adapters/storage/payload-store';
import type { Bucket } from '../../src/adapters/storage/payload-store-types';
import { createBackup, serializeBackup } from '../../src/core/backup/backup-create';
import { BackupError } from '../../src/core/backup/backup-file';
import type { BackupScheduleConfig } from '../../src/core/backup/backup-schedule';
import {
  COLLECTED_DATA_COLLECTIONS,
  RESTORABLE_COLLECTIONS,
  restorablePathProblem,
  SCHEDULED_BACKUP_COLLECTIONS,
} from '../../src/core/backup/backup-scope';
import { type BackupMap, BackupTimestamp } from '../../src/core/backup/backup-value-model';
import { verifyBackup } from '../../src/core/backup/backup-verify';
import { backupDue, DEFAULT_BACKUP_SCHEDULE } from '../../src/core/backup/scheduled-due';
import { ABANDONED_AFTER_MS, MANIFEST_NAME } from '../../src/core/backup/scheduled-layout';
import {
  createManifest,
  type ScheduledManifest,
  verifyManifest,
} from '../../src/core/backup/scheduled-manifest';
import { expiredBackups, type ListedBackup } from '../../src/core/backup/scheduled-retention';
import { AUDIT_LOG_COLLECTION, importBackupInput } from '../../src/core/operations';
import { pipelineConfigSchema } from '../../src/core/pipeline/config';
import {
  isPayloadId,
  PAYLOADS_COLLECTION,
  payloadConfigSchema,
} from '../../src/core/storage/payloads';
import { quietLogger } from '../support/quiet-logger';
import { fieldName, segment, values } from './arbitraries';
import {
  ACTOR,
  closeFirestores,
  DAY,
  firestore,
  HOUR,
  storageFor,
  T0,
  unique,
} from './scheduled-support';

quietLogger();

afterAll(closeFirestores);

/** Payloads over 64 bytes go to Cloud Storage. */
function payloadStore(db: Firestore, bucket: Bucket): PayloadStore {
  return new PayloadStore(db, bucket, {
    config: payloadConfigSchema.parse({ inlineMaxBytes: 64 }),
    now: () => T0 - HOUR,
  });
}

/** Every document, however deep, by its canonical digest. */
async function dump(db: Firestore): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (collections: FirebaseFirestore.CollectionReference[]) => {
    for (const collection of collections) {
      for (const ref of await collection.listDocuments()) {
        const snapshot = await ref.get();
        if (snapshot.exists) out[ref.path] = documentDigest(ref.path, snapshot.data()!);
        await walk(await ref.listCollections());
      }
    }
  };
  await walk(await db.listCollections());
  return out;
}

/** Every object of a bucket with its generation and MD5 (none in a bucket never written). */
async function objects(bucket: Bucket, prefix = ''): Promise<Record<string, string>> {
  let files: Array<ReturnType<Bucket['file']>>;
  try {
    [files] = await bucket.getFiles({ prefix });
  } catch (error) {
    if ((error as { code?: number }).code === 404) return {};
    throw error;
  }
  return Object.fromEntries(
    files.map((f) => [f.name, `${f.metadata.generation}:${f.metadata.md5Hash}`]),
  );
}

/** Writes documents (collected data included) as a restore would. */
async function seed(db: Firestore, documents: Record<string, BackupMap>): Promise<void> {
  await importBackup(db, createBackup({ createdAt: T0, projectId: 'demo-seed', documents }), {
    collectedData: true,
  });
}

const CONFIGURATION: Record<string, BackupMap> = {
  'providers/keepa': {
    limits: [{ kind: 'tokenBucket', capacity: 300, refillPerSecond: 5 }],
  },
  'config/flags': { maintenance: false },
};

function products(n: number): Record<string, BackupMap> {
  const out: Record<string, BackupMap> = {};
  for (let i = 0; i < n; i++) {
    out[`${PRODUCTS_PATH}/de~${String(i).padStart(5, '0')}`] = {
      marketplace: 'de',
      key: `B${String(i).padStart(9, '0')}`,
      price: i * 1.5,
      title: `product ${i} ${'é'.repeat(i % 5)}`,
      updatedAt: BackupTimestamp.fromMillis(T0 - i * 1000),
    };
  }
  return out;
}

function sales(n: number): Record<string, BackupMap> {
  const out: Record<string, BackupMap> = {};
  for (let i = 0; i < n; i++) {
    out[`${SALES_COLLECTION}/A1PM~2026-01-0${1 + (i % 9)}T00~B${i}`] = {
      units: i,
      revenue: { amount: i * 2.25, currency: 'EUR' },
    };
  }
  return out;
}

const bytesOf = (seedByte: number, length: number) =>
  Buffer.from(Array.from({ length }, (_, i) => (seedByte * 31 + i * 7) % 256));

describe('what a scheduled backup holds', () => {
  it('adds products, sales and payloads, never quota claims or the audit log', () => {
    expect([...COLLECTED_DATA_COLLECTIONS].sort()).toEqual(
      [PRODUCTS_PATH, SALES_COLLECTION, PAYLOADS_COLLECTION].sort(),
    );
    expect(SCHEDULED_BACKUP_COLLECTIONS).toEqual(
      [...RESTORABLE_COLLECTIONS, ...COLLECTED_DATA_COLLECTIONS].sort(),
    );
    for (const never of [
      AUDIT_LOG_COLLECTION,
      QUOTA_COLLECTIONS.blocks,
      QUOTA_COLLECTIONS.slots,
      QUOTA_COLLECTIONS.meters,
      QUOTA_COLLECTIONS.returns,
    ]) {
      expect(SCHEDULED_BACKUP_COLLECTIONS).not.toContain(never);
      expect(restorablePathProblem(`${never}/x`, { collectedData: true })).toBeDefined();
    }
    // Collected data only from a scheduled backup, and no deeper than its documents.
    expect(restorablePathProblem('products/de~1')).toMatch(/scheduled backup/);
    expect(restorablePathProblem('products/de~1', { collectedData: true })).toBeUndefined();
    expect(restorablePathProblem('payloads/p/x/y', { collectedData: true })).toBeDefined();
  });

  it('is configured in config/pipeline, within bounds', () => {
    expect(pipelineConfigSchema.parse({}).backups).toEqual({
      enabled: true,
      intervalHours: 24,
      atHourUtc: 3,
      retentionDays: 14,
      pageSize: 500,
    });
    for (const backups of [
      { retentionDays: 0 },
      { retentionDays: 366 },
      { pageSize: 9 },
      { pageSize: 100_000 },
      { intervalHours: 0 },
      { atHourUtc: 24 },
      { retentionDays: 1.5 },
    ]) {
      expect(pipelineConfigSchema.safeParse({ backups }).success, JSON.stringify(backups)).toBe(
        false,
      );
    }
  });

  it('is due once per slot: daily at 03:00 UTC by default, retried until one completes', () => {
    const config = DEFAULT_BACKUP_SCHEDULE;
    expect(backupDue(T0, config, undefined)).toBe(true);
    expect(backupDue(T0 + HOUR, config, T0 + 5_000)).toBe(false);
    expect(backupDue(T0 + 23 * HOUR, config, T0 + 5_000)).toBe(false);
    expect(backupDue(T0 + DAY, config, T0 + 5_000)).toBe(true);
    // The 03:00 run failed: the 04:00 run takes the slot.
    expect(backupDue(T0 + HOUR, config, T0 - DAY + 5_000)).toBe(true);
    expect(backupDue(T0, { ...config, enabled: false }, undefined)).toBe(false);
    const sixHourly: BackupScheduleConfig = { ...config, intervalHours: 6 };
    expect(backupDue(T0 + 6 * HOUR, sixHourly, T0 + 5_000)).toBe(true);
  });

  it('restores by id only: the callable input refuses both, neither, and names that are not ids', () => {
    const id = '20260110T030000000Z-0123456789ab';
    expect(importBackupInput.safeParse({ scheduled: id }).success).toBe(true);
    expect(importBackupInput.safeParse({ backup: 'x' }).success).toBe(true);
    for (const input of [{}, { backup: 'x', scheduled: id }, { scheduled: '../x' }]) {
      expect(importBackupInput.safeParse(input).success).toBe(false);
    }
  });
});

describe('a large collection', () => {
  it('is read and written in pages of at most pageSize documents, each a verified backup file', async () => {
    const { db, app } = firestore();
    const storage = storageFor(app);
    await seed(db, { ...CONFIGURATION, ...products(257) });
    await db.doc('quotaBlocks/x').set({ tokens: 5 });
    await db.doc('auditLog/x').set({ what: 'setFlags' });

    // Every query the backup makes answers at most pageSize documents: the whole collection is
    // never in memory at once.
    const sizes: number[] = [];
    const get = Query.prototype.get;
    const spy = vi.spyOn(Query.prototype, 'get').mockImplementation(async function (this: Query) {
      const snapshot = await get.call(this);
      sizes.push(snapshot.size);
      return snapshot;
    });
    let result: Awaited<ReturnType<typeof writeScheduledBackup>>;
    try {
      result = await writeScheduledBackup(db, storage, {
        pageSize: 10,
        projectId: 'demo-p',
        now: () => T0,
      });
    } finally {
      spy.mockRestore();
    }
    expect(Math.max(...sizes)).toBeLessThanOrEqual(10);
    const { manifest, folder } = result;
    const productPages = manifest.pages.filter((p) => p.collection === 'products');
    expect(productPages.length).toBeGreaterThanOrEqual(26);
    expect(manifest.pages.every((p) => p.documents <= 10)).toBe(true);
    expect(manifest.byCollection).toEqual({ config: 1, products: 257, providers: 1 });
    expect(manifest.documents).toBe(259);

    const seen = new Set<string>();
    for (const page of manifest.pages) {
      const [bytes] = await storage.bucket.file(`${folder}${page.name}`).download();
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(page.sha256);
      const verified = verifyBackup(bytes);
      expect(verified.checksum).toBe(page.checksum);
      for (const path of Object.keys(verified.documents)) {
        expect(seen.has(path)).toBe(false);
        seen.add(path);
      }
    }
    expect(seen.size).toBe(259);
    expect([...seen].some((p) => /^(quotaBlocks|auditLog)\//.test(p))).toBe(false);
    const [manifestBytes] = await storage.bucket.file(`${folder}${MANIFEST_NAME}`).download();
    expect(verifyManifest(manifestBytes, result.id)).toEqual(manifest);
  });
});

describe('a round trip', () => {
  const productDocs = fc.dictionary(
    segment,
    fc.dictionary(fieldName, values({ sdk: true }), { maxKeys: 4 }) as fc.Arbitrary<BackupMap>,
    { minKeys: 1, maxKeys: 25 },
  );
  const payloadSet = fc.uniqueArray(
    fc.record({
      id: fc.stringMatching(/^[A-Za-z0-9_.:=-]{1,12}$/).filter(isPayloadId),
      bytes: fc.uint8Array({ minLength: 0, maxLength: 300 }),
      temporary: fc.boolean(),
    }),
    { selector: (p) => p.id, maxLength: 12 },
  );

  it('of products, sales and payloads restores equal data, objects included', async () => {
    await fc.assert(
      fc.asyncProperty(productDocs, productDocs, payloadSet, async (prods, sold, pays) => {
        const { db, app } = firestore();
        const storage = storageFor(app);
        const documents: Record<string, BackupMap> = { ...CONFIGURATION };
        for (const [id, data] of Object.entries(prods)) documents[`products/${id}`] = data;
        for (const [id, data] of Object.entries(sold)) documents[`sales/${id}`] = data;
        await seed(db, documents);
        const store = payloadStore(db, storage.payloads!);
        for (const p of pays) {
          await store.put(p.id, p.bytes, { contentType: 'text/csv', temporary: p.temporary });
        }
        const before = await dump(db);

        const { id, manifest } = await writeScheduledBackup(db, storage, {
          pageSize: 10,
          projectId: 'demo-p',
          now: () => T0,
        });
        const inStorage = pays.filter((p) => p.bytes.length > 64).length;
        expect(manifest.objects).toBe(inStorage);

        // Everything lost: a new database, and the payload objects deleted.
        await storage.payloads!.deleteFiles({ force: true });
        const target = firestore().db;
        const restored = await restoreScheduledBackup(target, storage, 'demo-p', id);
        expect(restored.written).toBe(Object.keys(before).length);

        const after = await dump(target);
        const withoutPayloads = (d: Record<string, string>) =>
          Object.fromEntries(Object.entries(d).filter(([p]) => !p.startsWith('payloads/')));
        expect(withoutPayloads(after)).toEqual(withoutPayloads(before));
        expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
        // Each payload reads back byte for byte: its object restored and its document pointing
        // at the object's new generation; the rest of the metadata as it was.
        const restoredStore = payloadStore(target, storage.payloads!);
        for (const p of pays) {
          const got = await restoredStore.get(p.id);
          expect(Buffer.from(got!.data).equals(Buffer.from(p.bytes))).toBe(true);
          const original = await store.metadata(p.id);
          const { generation: _a, ...was } = original!;
          const { generation: _b, data: _d, ...is } = got!;
          expect(is).toEqual(was);
        }
      }),
      { numRuns: 4 },
    );
  });

  it('through the importBackup callable, each batch audited with the scheduled backup it came from', async () => {
    const { db, app } = firestore();
    const storage = storageFor(app);
    await seed(db, { ...CONFIGURATION, ...products(12), ...sales(7) });
    const { id } = await writeScheduledBackup(db, storage, {
      pageSize: 10,
      projectId: 'demo-p',
      now: () => T0,
    });
    const target = firestore().db;
    const ctx = {
      db: target,
      now: () => T0 + DAY,
      actor: ACTOR,
      projectId: () => 'demo-target',
      backups: () => storage,
    } as unknown as OperationContext;
    const dry = await importOperation(ctx, { scheduled: id, project: 'demo-p', dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, documents: 21, written: 0 });
    expect(await dump(target)).toEqual({});
    const result = await importOperation(ctx, { scheduled: id, project: 'demo-p' });
    expect(result).toMatchObject({ documents: 21, written: 21 });
    expect(result.auditIds.length).toBeGreaterThanOrEqual(3);
    const audits = await target.collection(AUDIT_LOG_COLLECTION).get();
    expect(audits.size).toBe(result.auditIds.length);
    for (const entry of audits.docs) {
      expect(entry.get('target')).toBe(`backups/scheduled/${id}`);
      expect(entry.get('what')).toBe('importBackup');
    }
  });
});

describe('a crash between pages', () => {
  it('leaves an incomplete backup that restore refuses and the retention removes', async () => {
    const { db, app } = firestore();
    const storage = storageFor(app);
    await seed(db, { ...CONFIGURATION, ...products(60) });
    let pages = 0;
    const crash = new Error('instance stopped');
    await expect(
      writeScheduledBackup(db, storage, {
        pageSize: 10,
        projectId: 'demo-p',
        now: () => T0,
        onPage: () => {
          if (++pages === 3) throw crash;
        },
      }),
    ).rejects.toBe(crash);

    const [listed] = await listScheduledBackups(storage, 'demo-p');
    expect(listed).toMatchObject({ state: 'incomplete', createdAtMs: T0 });
    expect(Object.keys(await objects(storage.bucket, listed!.folder))).toHaveLength(3);

    const target = firestore().db;
    const error = await restoreScheduledBackup(target, storage, 'demo-p', listed!.id).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(BackupError);
    expect(error.kind).toBe('incomplete');
    expect(await dump(target)).toEqual({});

    // A run may still be writing it: kept. Abandoned: removed, every object with it.
    expect((await applyRetention(storage, 'demo-p', T0 + 10 * 60_000, 14)).deleted).toEqual([]);
    const later = T0 + ABANDONED_AFTER_MS + 1;
    expect((await applyRetention(storage, 'demo-p', later, 14)).deleted).toEqual([listed!.id]);
    expect(await objects(storage.bucket, listed!.folder)).toEqual({});
  });
});

describe('a changed backup', () => {
  let db: Firestore;
  let app: App;
  let storage: BackupStorage;
  let id: string;
  let manifest: ScheduledManifest;
  let folder: string;
  let names: string[];

  beforeAll(async () => {
    ({ db, app } = firestore());
    storage = storageFor(app);
    await seed(db, { ...CONFIGURATION, ...products(35), ...sales(25) });
    const store = payloadStore(db, storage.payloads!);
    for (let i = 0; i < 14; i++) {
      await store.put(`raw-${i}`, bytesOf(i, i % 2 ? 40 : 200 + i), {
        contentType: 'application/json',
        temporary: i % 3 === 0,
      });
    }
    ({ id, manifest, folder } = await writeScheduledBackup(db, storage, {
      pageSize: 10,
      projectId: 'demo-p',
      now: () => T0,
    }));
    names = Object.keys(await objects(storage.bucket, folder)).sort();
    expect(manifest.pages.length).toBeGreaterThan(8);
    expect(manifest.objects).toBe(7);
    expect(names.some((n) => n.includes('/objects/'))).toBe(true);
  });

  /** Restores into an empty database and payload bucket; answers the error, and what changed. */
  async function attempt() {
    const target = firestore().db;
    const payloads = getStorage(app).bucket(unique('restored'));
    const error = await restoreScheduledBackup(target, { ...storage, payloads }, 'demo-p', id).then(
      () => undefined,
      (e: unknown) => e,
    );
    return { error, documents: await dump(target), objects: await objects(payloads) };
  }

  it('restores as it was written (the control for the cases below)', async () => {
    const target = firestore().db;
    const result = await restoreScheduledBackup(target, storage, 'demo-p', id, { dryRun: true });
    expect(result).toMatchObject({ documents: manifest.documents, written: 0 });
    expect(await dump(target)).toEqual({});
  });

  it('byte flipped, cut short, grown or missing anywhere: refused, nothing written', async () => {
    const mutation = fc.oneof(
      fc.record({
        kind: fc.constant('flip' as const),
        at: fc.nat(),
        xor: fc.integer({ min: 1, max: 255 }),
      }),
      fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat() }),
      fc.record({
        kind: fc.constant('append' as const),
        extra: fc.uint8Array({ minLength: 1, maxLength: 4 }),
      }),
      fc.record({ kind: fc.constant('delete' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.nat(), mutation, async (which, change) => {
        const name = names[which % names.length]!;
        const file = storage.bucket.file(name);
        const [original] = await file.download();
        let changed: Buffer | undefined;
        if (change.kind === 'flip' && original.length > 0) {
          changed = Buffer.from(original);
          const at = change.at % changed.length;
          changed[at] = changed[at]! ^ change.xor;
        } else if (change.kind === 'truncate') {
          changed = original.subarray(0, change.keep % Math.max(1, original.length));
        } else if (change.kind === 'append') {
          changed = Buffer.concat([original, Buffer.from(change.extra)]);
        }
        if (changed) await file.save(changed, { resumable: false });
        else await file.delete();
        try {
          const { error, documents, objects: written } = await attempt();
          expect(error, `${change.kind} ${name}`).toBeInstanceOf(BackupError);
          expect([
            'checksum',
            'truncated',
            'incomplete',
            'corrupt',
            'noncanonical',
            'shape',
          ]).toContain((error as BackupError).kind);
          expect(documents).toEqual({});
          expect(written).toEqual({});
        } finally {
          await file.save(original, { resumable: false });
        }
      }),
      { numRuns: 25 },
    );
  });

  /**
   * Replaces page `index`'s documents with `edit`'s, re-signed (page checksum, its SHA-256 in the
   * manifest, the manifest's checksum): what only someone with write access to the bucket could
   * do. Answers the restore's outcome; puts the originals back.
   */
  async function forged(
    index: number,
    edit: (documents: Record<string, BackupMap>) => void,
    editManifest: (m: ScheduledManifest) => void = () => {},
  ) {
    const page = manifest.pages[index]!;
    const pageFile = storage.bucket.file(`${folder}${page.name}`);
    const manifestFile = storage.bucket.file(`${folder}${MANIFEST_NAME}`);
    const [originalPage] = await pageFile.download();
    const [originalManifest] = await manifestFile.download();
    const documents = verifyBackup(originalPage).documents;
    edit(documents);
    const text = serializeBackup(
      createBackup({ createdAt: T0, projectId: manifest.projectId, documents }),
    );
    const bytes = Buffer.from(text, 'utf8');
    await pageFile.save(bytes, { resumable: false });
    const { checksum: _c, format: _f, version: _v, ...body } = structuredClone(manifest);
    const entry = body.pages[index]!;
    const count = Object.keys(documents).length;
    body.documents += count - entry.documents;
    body.byCollection[entry.collection] =
      body.byCollection[entry.collection]! + count - entry.documents;
    entry.documents = count;
    entry.bytes = bytes.length;
    entry.sha256 = createHash('sha256').update(bytes).digest('hex');
    entry.checksum = verifyBackup(bytes).checksum;
    editManifest(body as ScheduledManifest);
    await manifestFile.save(createManifest(body).text, { resumable: false });
    try {
      return await attempt();
    } finally {
      await pageFile.save(originalPage, { resumable: false });
      await manifestFile.save(originalManifest, { resumable: false });
    }
  }

  const pageOf = (collection: string, last = false) => {
    const indexes = manifest.pages.flatMap((p, i) => (p.collection === collection ? [i] : []));
    return last ? indexes.at(-1)! : indexes[0]!;
  };
  const firstPath = (documents: Record<string, BackupMap>) => Object.keys(documents)[0]!;

  it('re-signed with hostile content: refused as a whole, nothing written', async () => {
    const cases: Array<[string, Awaited<ReturnType<typeof forged>>]> = [
      [
        'an audit entry in the last page of sales',
        await forged(pageOf('sales', true), (d) => {
          d['auditLog/forged'] = { what: 'setUserRole' };
        }),
      ],
      [
        'a quota claim',
        await forged(pageOf('sales', true), (d) => {
          d['quotaBlocks/k~0'] = { tokens: 1_000_000 };
        }),
      ],
      [
        'a product under another collection label',
        await forged(pageOf('sales', true), (d) => {
          d['products/zz'] = { price: 0 };
        }),
      ],
      [
        'a payload pointing its object at the backup itself',
        await forged(pageOf('payloads', true), (d) => {
          const path = Object.keys(d).find((p) => d[p]!.location === 'storage')!;
          d[path] = { ...d[path]!, object: `backups/scheduled/demo-p/${id}/${MANIFEST_NAME}` };
        }),
      ],
      [
        'a provider that is not valid configuration',
        await forged(pageOf('providers'), (d) => {
          d[firstPath(d)] = { limits: [] };
        }),
      ],
      [
        'a page of another project',
        await forged(
          pageOf('products', true),
          () => {},
          (m) => {
            m.projectId = 'demo-other';
          },
        ),
      ],
    ];
    for (const [what, { error, documents, objects: written }] of cases) {
      expect(error, what).toBeInstanceOf(BackupError);
      expect(documents, what).toEqual({});
      expect(written, what).toEqual({});
    }
    // And with the originals back, the backup restores.
    expect((await attempt()).error).toBeUndefined();
  });
});

describe('retention', () => {
  it('deletes what is older than retentionDays and abandoned runs, never the newest complete one', () => {
    const backup = fc.record({
      id: fc.uuid(),
      createdAtMs: fc.integer({ min: T0 - 60 * DAY, max: T0 }),
      state: fc.constantFrom('complete' as const, 'incomplete' as const, 'corrupt' as const),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(backup, { selector: (b) => b.id, maxLength: 12 }),
        fc.integer({ min: 1, max: 365 }),
        (backups: ListedBackup[], days) => {
          const deleted = new Set(expiredBackups(backups, T0, days));
          const complete = backups.filter((b) => b.state === 'complete');
          const newest = complete.reduce<ListedBackup | undefined>(
            (n, b) => (!n || b.createdAtMs > n.createdAtMs ? b : n),
            undefined,
          );
          if (newest) expect(deleted.has(newest.id)).toBe(false);
          for (const b of backups) {
            if (b === newest) continue;
            const expected =
              b.state === 'incomplete'
                ? T0 - b.createdAtMs > ABANDONED_AFTER_MS
                : b.createdAtMs < T0 - days * DAY;
            expect(deleted.has(b.id), JSON.stringify(b)).toBe(expected);
          }
        },
      ),
    );
  });

  it('in Cloud Storage: old and abandoned backups go with their objects; the newest complete one stays', async () => {
    const { db, app } = firestore();
    const storage = storageFor(app);
    await seed(db, { ...CONFIGURATION, ...products(15) });
    const write = (at: number) =>
      writeScheduledBackup(db, storage, { pageSize: 10, projectId: 'demo-p', now: () => at });
    const old = await write(T0 - 30 * DAY);
    const newestComplete = await write(T0 - 20 * DAY);
    const corrupt = await write(T0 - 15 * DAY);
    // Its manifest changed: not a complete backup, kept only until it is old enough.
    await storage.bucket
      .file(`${corrupt.folder}${MANIFEST_NAME}`)
      .save(`${JSON.stringify(corrupt.manifest)}\n`, { resumable: false });
    // Runs that never wrote their manifest: one long abandoned, one maybe still running.
    const crashed = await write(T0 - 10 * HOUR);
    await storage.bucket.file(`${crashed.folder}${MANIFEST_NAME}`).delete();
    const running = await write(T0 - 10 * 60_000);
    await storage.bucket.file(`${running.folder}${MANIFEST_NAME}`).delete();

    const listed = await listScheduledBackups(storage, 'demo-p');
    expect(listed.map((b) => b.state)).toEqual([
      'complete',
      'complete',
      'corrupt',
      'incomplete',
      'incomplete',
    ]);
    const { deleted, kept } = await applyRetention(storage, 'demo-p', T0, 14);
    expect(deleted.sort()).toEqual([old.id, corrupt.id, crashed.id].sort());
    expect(kept.sort()).toEqual([newestComplete.id, running.id].sort());
    for (const gone of [old, corrupt, crashed]) {
      expect(await objects(storage.bucket, gone.folder)).toEqual({});
    }
    // Old as it is, the newest complete backup still restores.
    const target = firestore().db;
    const restored = await restoreScheduledBackup(target, storage, 'demo-p', newestComplete.id);
    expect(restored.written).toBe(17);
    expect(await dump(target)).toEqual(await dump(db));
    expect(scheduledFolder(storage, 'demo-p', newestComplete.id)).toBe(newestComplete.folder);
  });

  it('runs on the schedule: once per slot, then the retention', async () => {
    const { db, app } = firestore();
    const storage = storageFor(app);
    await seed(db, CONFIGURATION);
    const run = (asOfMs: number, config: BackupScheduleConfig = DEFAULT_BACKUP_SCHEDULE) =>
      runScheduledBackup({
        db,
        storage,
        config,
        projectId: 'demo-p',
        asOfMs,
        now: () => asOfMs + 5_000,
      });
    const first = await run(T0);
    expect(first.backup).toBeDefined();
    expect((await run(T0 + HOUR)).backup).toBeUndefined();
    expect(
      (await run(T0 + DAY, { ...DEFAULT_BACKUP_SCHEDULE, enabled: false })).backup,
    ).toBeUndefined();
    const second = await run(T0 + DAY);
    expect(second.backup).toBeDefined();
    // Two days after the second, with a retention of one day: the first goes, the newest stays.
    const third = await run(T0 + 3 * DAY, { ...DEFAULT_BACKUP_SCHEDULE, retentionDays: 1 });
    expect(third.deleted.sort()).toEqual([first.backup!.id, second.backup!.id].sort());
    const left = await listScheduledBackups(storage, 'demo-p');
    expect(left.map((b) => b.id)).toEqual([third.backup!.id]);
  });
});
