import { type Firestore, Query } from 'firebase-admin/firestore';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { importBackup } from '../../src/adapters/backup/backup-import';
import type { BackupStorage } from '../../src/adapters/backup/backup-storage';
import { writeScheduledBackup } from '../../src/adapters/backup/scheduled-backup';
import {
  PayloadConflictError,
  RestoreDeadlineError,
  restoreScheduledBackup,
} from '../../src/adapters/backup/scheduled-restore';
import {
  applyRetention,
  holdBackup,
  listScheduledBackups,
} from '../../src/adapters/backup/scheduled-retention';
import { runScheduledBackup } from '../../src/adapters/backup/scheduled-run';
import { importBackup as importOperation } from '../../src/adapters/operations/backups';
import type { OperationContext } from '../../src/adapters/operations/context';
import { PayloadStore } from '../../src/adapters/storage/payload-store';
import type { Bucket } from '../../src/adapters/storage/payload-store-types';
import * as selfQuota from '../../src/adapters/storage/self-quota-runtime';
import { createBackup } from '../../src/core/backup/backup-create';
import { BackupError } from '../../src/core/backup/backup-file';
import { type BackupMap, BackupTimestamp } from '../../src/core/backup/backup-value-model';
import { DEFAULT_BACKUP_SCHEDULE } from '../../src/core/backup/scheduled-due';
import {
  projectBackupsFolder,
  RESTORE_HOLD_MS,
  slotClaimName,
  TARGET_PAGE_BYTES,
} from '../../src/core/backup/scheduled-layout';
import { importBackupInput } from '../../src/core/operations';
import { documentSize } from '../../src/core/storage/firestore-storage-size';
import { payloadConfigSchema } from '../../src/core/storage/payloads';
import { TIMEOUT_SECONDS } from '../../src/entry/operations/define';
import { quietLogger } from '../support/quiet-logger';
import { ACTOR, closeFirestores, DAY, firestore, HOUR, storageFor, T0 } from './scheduled-support';

/**
 * Findings of the hostile review of the scheduled backups, fixed (the review's numbers):
 * #3 projects sharing a bucket, future-dated backups; #4 restore never overwrites a live payload
 * object; #6 the restore's timeout, deadline and resume; #7 pacing; #8 page sizing; #9 one run
 * per slot; #10 due by slot, not start time. Also the `collections` filter of a restore.
 */

// Every page and restore paces itself: recorded, and passed through to the real pacing.
vi.mock('../../src/adapters/storage/self-quota-runtime', async (original) => {
  const actual =
    await original<typeof import('../../src/adapters/storage/self-quota-runtime.js')>();
  return { ...actual, paceFirestoreWork: vi.fn(actual.paceFirestoreWork) };
});

quietLogger();

afterAll(closeFirestores);

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

function products(n: number, prefix = 'de~'): Record<string, BackupMap> {
  const out: Record<string, BackupMap> = {};
  for (let i = 0; i < n; i++) {
    out[`products/${prefix}${String(i).padStart(5, '0')}`] = {
      marketplace: 'de',
      key: `B${String(i).padStart(9, '0')}`,
      price: i * 1.5,
      updatedAt: BackupTimestamp.fromMillis(T0 - i * 1000),
    };
  }
  return out;
}

const run = (
  db: Firestore,
  storage: BackupStorage,
  projectId: string,
  asOfMs: number,
  nowMs = asOfMs + 5_000,
) =>
  runScheduledBackup({
    db,
    storage,
    config: DEFAULT_BACKUP_SCHEDULE,
    projectId,
    asOfMs,
    now: () => nowMs,
  });

describe('#3 projects sharing a backup bucket (same prefix)', () => {
  it("another project's backup in the slot does not stop this project's backup", async () => {
    const a = firestore();
    const b = firestore();
    const storage = storageFor(a.app);
    await seed(a.db, { ...CONFIGURATION, ...products(3) });
    await seed(b.db, CONFIGURATION);
    await writeScheduledBackup(b.db, storage, {
      pageSize: 10,
      projectId: 'demo-b',
      now: () => T0 + 1_000,
    });
    const result = await run(a.db, storage, 'demo-a', T0);
    expect(result.backup?.manifest.projectId).toBe('demo-a');
    expect(result.backup?.folder).toBe(`backups/scheduled/demo-a/${result.backup?.id}/`);
  });

  it("the retention neither counts nor deletes another project's backups", async () => {
    const a = firestore();
    const b = firestore();
    const storage = storageFor(a.app);
    await seed(a.db, { ...CONFIGURATION, ...products(3) });
    await seed(b.db, CONFIGURATION);
    const own = await writeScheduledBackup(a.db, storage, {
      pageSize: 10,
      projectId: 'demo-a',
      now: () => T0 - 20 * DAY,
    });
    const other = await writeScheduledBackup(b.db, storage, {
      pageSize: 10,
      projectId: 'demo-b',
      now: () => T0 - 30 * DAY,
    });
    // Backups disabled: the retention alone, as of today.
    const { deleted } = await applyRetention(storage, 'demo-a', T0, 14);
    expect(deleted).toEqual([]);
    expect((await listScheduledBackups(storage, 'demo-a')).map((l) => l.id)).toEqual([own.id]);
    expect((await listScheduledBackups(storage, 'demo-b')).map((l) => l.id)).toEqual([other.id]);
    // A manifest of another project moved into this project's folder is not this project's.
    const [bytes] = await storage.bucket.file(`${other.folder}manifest.json`).download();
    const moved = `${projectBackupsFolder('backups/', 'demo-a')}${other.id}/manifest.json`;
    await storage.bucket.file(moved).save(bytes, { resumable: false });
    const listed = await listScheduledBackups(storage, 'demo-a');
    expect(listed.find((l) => l.id === other.id)?.state).toBe('corrupt');
    const error = await restoreScheduledBackup(a.db, storage, 'demo-a', other.id).catch((e) => e);
    expect(error).toBeInstanceOf(BackupError);
  });

  it('a complete backup dated in the future neither stops backups nor makes the retention delete a real one', async () => {
    const { db, app } = firestore();
    const storage = storageFor(app);
    await seed(db, CONFIGURATION);
    const real = await writeScheduledBackup(db, storage, {
      pageSize: 10,
      projectId: 'demo-p',
      now: () => T0 - 20 * DAY,
    });
    // A clock far ahead (or an object someone else wrote): complete, dated in 30 days.
    await writeScheduledBackup(db, storage, {
      pageSize: 10,
      projectId: 'demo-p',
      now: () => T0 + 30 * DAY,
    });
    expect((await applyRetention(storage, 'demo-p', T0, 14)).deleted).toEqual([]);
    const result = await run(db, storage, 'demo-p', T0);
    expect(result.backup).toBeDefined();
    // With a real newer backup, the old one goes; the future one is left alone.
    expect(result.deleted).toEqual([real.id]);
  });
});

describe('#4 a restore over live payloads', () => {
  async function setup() {
    const { db, app } = firestore();
    const storage = storageFor(app);
    const config = payloadConfigSchema.parse({ inlineMaxBytes: 64 });
    const store = new PayloadStore(db, storage.payloads as Bucket, { config, now: () => T0 });
    await seed(db, CONFIGURATION);
    await store.put('report-1', Buffer.alloc(200, 1), { contentType: 'text/csv' });
    await store.put('report-2', Buffer.alloc(200, 3), { contentType: 'text/csv' });
    const { id } = await writeScheduledBackup(db, storage, {
      pageSize: 10,
      projectId: 'demo-p',
      now: () => T0,
    });
    // Since the backup: report-1 removed and stored again with other content; report-2 lost.
    await store.delete('report-1');
    await store.put('report-1', Buffer.alloc(300, 2), { contentType: 'text/csv' });
    await store.delete('report-2');
    return { db, storage, store, id };
  }

  it('a failed commit after the objects were written leaves every live payload readable', async () => {
    const { db, storage, store, id } = await setup();
    const error = await restoreScheduledBackup(db, storage, 'demo-p', id, {
      importPage: (bytes, options) =>
        importBackup(db, bytes, {
          ...options,
          beforeCommit: () => {
            if (options.beforeWrite) throw new Error('commit failed');
          },
        }),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((await store.get('report-1'))?.data.length).toBe(300);
  });

  it('restores missing objects, keeps identical ones and refuses, never overwrites, a changed one', async () => {
    const { db, storage, store, id } = await setup();
    const error = await restoreScheduledBackup(db, storage, 'demo-p', id).catch((e) => e);
    expect(error).toBeInstanceOf(PayloadConflictError);
    expect((error as PayloadConflictError).payloads).toEqual([
      { payload: 'report-1', object: expect.stringContaining('report-1') },
    ]);
    expect((error as PayloadConflictError).message).toMatch(/never overwrites a live object/);
    // The live payload as it was; the lost one back; the rest written.
    expect(Buffer.from((await store.get('report-1'))!.data)).toEqual(Buffer.alloc(300, 2));
    expect(Buffer.from((await store.get('report-2'))!.data)).toEqual(Buffer.alloc(200, 3));
    expect((error as PayloadConflictError).written).toBe(3);
    // Restoring again: report-2's object is now identical, kept; report-1 still refused.
    const again = await restoreScheduledBackup(db, storage, 'demo-p', id).catch((e) => e);
    expect(again).toBeInstanceOf(PayloadConflictError);
    expect(Buffer.from((await store.get('report-1'))!.data)).toEqual(Buffer.alloc(300, 2));
    expect(Buffer.from((await store.get('report-2'))!.data)).toEqual(Buffer.alloc(200, 3));
    // Through the callable: failed-precondition naming the payload.
    const ctx = {
      db,
      now: () => T0 + DAY,
      actor: ACTOR,
      projectId: () => 'demo-p',
      backups: () => storage,
    } as unknown as OperationContext;
    const refused = await importOperation(ctx, { scheduled: id }).catch((e) => e);
    expect(refused).toMatchObject({
      code: 'failed-precondition',
      details: { payloads: ['report-1'] },
    });
  });
});

describe('#6 restoring a large backup through the importBackup callable', () => {
  it('has the long callable timeout (540 s, as exportBackup)', () => {
    expect(TIMEOUT_SECONDS.importBackup).toBe(540);
  });

  async function backup(n: number) {
    const { db, app } = firestore();
    const storage = storageFor(app);
    await seed(db, { ...CONFIGURATION, ...products(n) });
    const { id, manifest } = await writeScheduledBackup(db, storage, {
      pageSize: 10,
      projectId: 'demo-p',
      now: () => T0,
    });
    return { storage, id, manifest };
  }

  it("stops before the call's deadline with the page to resume at", async () => {
    const { storage, id, manifest } = await backup(40);
    const target = firestore().db;
    const ctx = {
      db: target,
      now: () => T0 + DAY,
      actor: ACTOR,
      projectId: () => 'demo-p',
      backups: () => storage,
      // The call has already used up its time.
      deadlineMs: T0 + DAY - 1,
    } as unknown as OperationContext;
    const outcome = await importOperation(ctx, { scheduled: id }).then(
      (r) => `completed ${r.written}`,
      (e: { code?: string; details?: unknown }) => e,
    );
    expect(outcome).toMatchObject({
      code: 'deadline-exceeded',
      details: { written: 0, fromPage: 1, pages: manifest.pages.length },
    });
  });

  it('resumes from the page a stopped restore names, and the two calls restore everything', async () => {
    const { storage, id, manifest } = await backup(40);
    const target = firestore().db;
    let clock = T0;
    let pages = 0;
    const first = await restoreScheduledBackup(target, storage, 'demo-p', id, {
      now: () => clock,
      deadlineMs: T0 + 1_000,
      importPage: async (bytes, options) => {
        if (++pages === 2) clock += 2_000;
        return importBackup(target, bytes, options);
      },
    }).catch((e) => e);
    expect(first).toBeInstanceOf(RestoreDeadlineError);
    const stopped = first as RestoreDeadlineError;
    expect(stopped).toMatchObject({ pagesWritten: 2, nextPage: 3 });
    expect(stopped.message).toMatch(/fromPage 3/);
    // The callable with fromPage (and a deadline far enough).
    const ctx = {
      db: target,
      now: () => T0,
      actor: ACTOR,
      projectId: () => 'demo-p',
      backups: () => storage,
      deadlineMs: T0 + 540_000,
    } as unknown as OperationContext;
    const rest = await importOperation(ctx, { scheduled: id, fromPage: stopped.nextPage });
    expect(stopped.written + rest.written).toBe(manifest.documents);
    expect((await target.collection('products').count().get()).data().count).toBe(40);
    expect(importBackupInput.safeParse({ backup: 'x', fromPage: 2 }).success).toBe(false);
  });
});

describe('#7 Firestore self-quota during a scheduled backup and its restore', () => {
  const pace = vi.mocked(selfQuota.paceFirestoreWork);
  beforeEach(() => {
    pace.mockClear();
  });

  it('the backup paces once per page read, the restore once per page verified', async () => {
    const { db, app } = firestore();
    const storage = storageFor(app);
    await seed(db, { ...CONFIGURATION, ...products(60) });
    const { id, manifest } = await writeScheduledBackup(db, storage, {
      pageSize: 10,
      projectId: 'demo-p',
      now: () => T0,
    });
    const paced = pace.mock.calls.filter(([d, work]) => d === db && work === 'backup');
    expect(paced.length).toBeGreaterThanOrEqual(manifest.pages.length);
    const target = firestore().db;
    pace.mockClear();
    await restoreScheduledBackup(target, storage, 'demo-p', id, { dryRun: true });
    const verified = pace.mock.calls.filter(([d, work]) => d === target && work === 'backup');
    expect(verified.length).toBe(manifest.pages.length);
  });
});

describe('#8 page sizing', () => {
  async function answers(db: Firestore, storage: BackupStorage, pageSize: number) {
    const answered: Array<{ documents: number; bytes: number }> = [];
    const get = Query.prototype.get;
    const spy = vi.spyOn(Query.prototype, 'get').mockImplementation(async function (this: Query) {
      const snapshot = await get.call(this);
      let bytes = 0;
      for (const d of snapshot.docs) bytes += documentSize(d.ref.path, d.data());
      answered.push({ documents: snapshot.size, bytes });
      return snapshot;
    });
    try {
      await writeScheduledBackup(db, storage, {
        pageSize,
        projectId: 'demo-p',
        now: () => T0,
        collections: ['products'],
      });
    } finally {
      spy.mockRestore();
    }
    return answered;
  }

  it('grows at most twofold from page to page', async () => {
    const { db, app } = firestore();
    await seed(db, products(700));
    const answered = await answers(db, storageFor(app), 2000);
    expect(answered.map((a) => a.documents)).toEqual([50, 100, 200, 350]);
  });

  it('is capped by the largest document seen: no answer far above the 8 MiB target', async () => {
    const { db, app } = firestore();
    const big = 'x'.repeat(200_000);
    await db.doc('products/a~big').set({ blob: big });
    await seed(db, products(1100, 'b~'));
    // 120 documents of ~200 kB after the small ones (batches of 10: an 8 MB commit hangs the
    // embedded emulator).
    for (let i = 0; i < 120; i += 10) {
      const batch = db.batch();
      for (let j = i; j < i + 10; j++) {
        batch.set(db.doc(`products/c~${String(j).padStart(5, '0')}`), { blob: big, j });
      }
      await batch.commit();
    }
    const answered = await answers(db, storageFor(app), 2000);
    expect(Math.max(...answered.map((a) => a.bytes))).toBeLessThanOrEqual(2 * TARGET_PAGE_BYTES);
  }, 120_000);
});

describe('#9 two runs of the same slot', () => {
  it('write one backup, not two full copies of every collection', async () => {
    const { db, app } = firestore();
    const storage = storageFor(app);
    await seed(db, { ...CONFIGURATION, ...products(30) });
    const [one, two] = await Promise.all([
      run(db, storage, 'demo-p', T0),
      run(db, storage, 'demo-p', T0),
    ]);
    expect([one.backup, two.backup].filter(Boolean)).toHaveLength(1);
    expect([one.claimedElsewhere, two.claimedElsewhere].filter(Boolean)).toHaveLength(1);
    expect(await listScheduledBackups(storage, 'demo-p')).toHaveLength(1);
  });

  it("a crashed run's claim holds the slot until it is abandoned (2 h), then is taken over", async () => {
    const { db, app } = firestore();
    const storage = storageFor(app);
    await seed(db, CONFIGURATION);
    const claim = `${projectBackupsFolder('backups/', 'demo-p')}${slotClaimName(T0)}`;
    await storage.bucket.file(claim).save('{}\n', {
      resumable: false,
      metadata: { metadata: { claimedAtMs: String(T0 + 5_000) } },
    });
    const held = await run(db, storage, 'demo-p', T0 + HOUR);
    expect(held).toMatchObject({ claimedElsewhere: true });
    expect(held.backup).toBeUndefined();
    const taken = await run(db, storage, 'demo-p', T0 + 3 * HOUR);
    expect(taken.backup?.manifest.slotMs).toBe(T0);
  });

  it('a failed run gives its slot back: the next hourly run retries it', async () => {
    const { db, app } = firestore();
    const storage = storageFor(app);
    await seed(db, CONFIGURATION);
    const spy = vi
      .spyOn(Query.prototype, 'get')
      .mockRejectedValueOnce(new Error('Firestore unavailable'));
    try {
      await expect(run(db, storage, 'demo-p', T0)).rejects.toThrow('Firestore unavailable');
    } finally {
      spy.mockRestore();
    }
    expect((await run(db, storage, 'demo-p', T0 + HOUR)).backup).toBeDefined();
  });

  it('old slot claims go with the retention', async () => {
    const { db, app } = firestore();
    const storage = storageFor(app);
    await seed(db, CONFIGURATION);
    await run(db, storage, 'demo-p', T0 - 20 * DAY);
    await run(db, storage, 'demo-p', T0);
    const [claims] = await storage.bucket.getFiles({ prefix: 'backups/scheduled/demo-p/slots/' });
    expect(claims.map((f) => f.name)).toEqual([`backups/scheduled/demo-p/${slotClaimName(T0)}`]);
  });
});

describe('#10 clock skew', () => {
  it('an instance clock a few ms behind the schedule time does not back up twice per day', async () => {
    const { db, app } = firestore();
    const storage = storageFor(app);
    await seed(db, CONFIGURATION);
    const first = await run(db, storage, 'demo-p', T0, T0 - 20);
    expect(first.backup?.manifest.slotMs).toBe(T0);
    // The 04:00 run of the same daily slot.
    expect((await run(db, storage, 'demo-p', T0 + HOUR, T0 + HOUR + 1_000)).backup).toBeUndefined();
  });

  it('is due by the slot a backup records, not by when it started (no slot claim needed)', async () => {
    const { db, app } = firestore();
    const storage = storageFor(app);
    await seed(db, CONFIGURATION);
    // The 03:00 slot's backup, started 20 ms before 03:00 by its instance's clock.
    await writeScheduledBackup(db, storage, {
      pageSize: 10,
      projectId: 'demo-p',
      slotMs: T0,
      now: () => T0 - 20,
    });
    expect((await run(db, storage, 'demo-p', T0 + HOUR)).backup).toBeUndefined();
    expect((await run(db, storage, 'demo-p', T0 + DAY)).backup?.manifest.slotMs).toBe(T0 + DAY);
  });
});

describe('restoring some collections only', () => {
  it('restores only them, and without configuration skips its check', async () => {
    const { db, app } = firestore();
    const storage = storageFor(app);
    await seed(db, { ...CONFIGURATION, ...products(20) });
    // An operator's typo in the console: the configuration check refuses the whole restore.
    await db.doc('providers/typo').set({ limits: 'oops' });
    const { id } = await writeScheduledBackup(db, storage, {
      pageSize: 10,
      projectId: 'demo-p',
      now: () => T0,
    });
    const whole = await restoreScheduledBackup(firestore().db, storage, 'demo-p', id).catch(
      (e) => e,
    );
    expect(whole).toMatchObject({ kind: 'config' });
    const target = firestore().db;
    const some = await restoreScheduledBackup(target, storage, 'demo-p', id, {
      collections: ['products'],
    });
    expect(some).toMatchObject({ written: 20, documents: 20, byCollection: { products: 20 } });
    expect((await target.doc('config/flags').get()).exists).toBe(false);
    // Backed up (empty): nothing to write. Not in the backup: refused.
    const sales = await restoreScheduledBackup(target, storage, 'demo-p', id, {
      collections: ['sales'],
    });
    expect(sales).toMatchObject({ written: 0, documents: 0 });
    const none = await restoreScheduledBackup(target, storage, 'demo-p', id, {
      collections: ['nothing'],
    }).catch((e) => e);
    expect(none).toMatchObject({ kind: 'shape' });
    expect(
      importBackupInput.safeParse({ scheduled: id, collections: ['products', 'sales'] }).success,
    ).toBe(true);
    for (const input of [
      { scheduled: id, collections: ['auditLog'] },
      { scheduled: id, collections: [] },
      { backup: 'x', collections: ['products'] },
      { scheduled: id, project: '../x' },
    ]) {
      expect(importBackupInput.safeParse(input).success, JSON.stringify(input)).toBe(false);
    }
  });
});

describe('a restore racing the retention', () => {
  /** Two backups: an old one past a 14-day retention (not the newest), and today's. */
  async function twoBackups() {
    const { db, app } = firestore();
    const storage = storageFor(app);
    await seed(db, { ...CONFIGURATION, ...products(30) });
    const old = await writeScheduledBackup(db, storage, {
      pageSize: 10,
      projectId: 'demo-p',
      now: () => T0 - 20 * DAY,
    });
    await writeScheduledBackup(db, storage, { pageSize: 10, projectId: 'demo-p', now: () => T0 });
    return { storage, old };
  }

  it('the hourly retention keeps a backup while it is being restored, and the restore completes', async () => {
    const { storage, old } = await twoBackups();
    const target = firestore().db;
    let pages = 0;
    const retentions: Array<Awaited<ReturnType<typeof applyRetention>>> = [];
    const restored = await restoreScheduledBackup(target, storage, 'demo-p', old.id, {
      now: () => T0,
      importPage: async (bytes, options) => {
        // The hourly run comes between two pages.
        if (++pages === 2) retentions.push(await applyRetention(storage, 'demo-p', T0, 14));
        return importBackup(target, bytes, options);
      },
    });
    expect(retentions[0]).toMatchObject({ deleted: [], held: [old.id] });
    expect(restored.written).toBe(old.manifest.documents);
    expect((await target.collection('products').count().get()).data().count).toBe(30);
    // Released at the end: the next run deletes it.
    expect((await applyRetention(storage, 'demo-p', T0, 14)).deleted).toEqual([old.id]);
  });

  it("a crashed restore's hold lapses: the backup goes at the first run after it", async () => {
    const { storage, old } = await twoBackups();
    await holdBackup(storage, 'demo-p', old.id, T0); // never released
    expect((await applyRetention(storage, 'demo-p', T0 + RESTORE_HOLD_MS - 1, 14)).held).toEqual([
      old.id,
    ]);
    const later = await applyRetention(storage, 'demo-p', T0 + RESTORE_HOLD_MS, 14);
    expect(later).toMatchObject({ deleted: [old.id], held: [] });
    const [holds] = await storage.bucket.getFiles({
      prefix: `${projectBackupsFolder('backups/', 'demo-p')}holds/`,
    });
    expect(holds).toEqual([]);
  });

  it('a backup the retention deleted first is refused before anything is written', async () => {
    const { storage, old } = await twoBackups();
    await applyRetention(storage, 'demo-p', T0, 14);
    const target = firestore().db;
    const error = await restoreScheduledBackup(target, storage, 'demo-p', old.id).catch((e) => e);
    expect(error).toMatchObject({ kind: 'incomplete' });
    expect((await target.collection('products').count().get()).data().count).toBe(0);
  });

  it('a manifest gone once the pages were read stops the restore before its first write', async () => {
    const { storage, old } = await twoBackups();
    const target = firestore().db;
    const pace = vi.mocked(selfQuota.paceFirestoreWork);
    const actual = pace.getMockImplementation()!;
    let calls = 0;
    // The last page of the reading pass: a retention that missed the hold deletes the backup.
    pace.mockImplementation(async (db, work) => {
      if (++calls === old.manifest.pages.length) {
        await storage.bucket.file(`${old.folder}manifest.json`).delete();
      }
      return actual(db, work);
    });
    try {
      const error = await restoreScheduledBackup(target, storage, 'demo-p', old.id).catch((e) => e);
      expect(error).toMatchObject({ kind: 'incomplete' });
      expect((await target.collection('products').count().get()).data().count).toBe(0);
    } finally {
      pace.mockImplementation(actual);
    }
  });
});
