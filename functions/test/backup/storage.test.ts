import { createHash, randomUUID } from 'node:crypto';
import type { App } from 'firebase-admin/app';
import { type Firestore, Timestamp } from 'firebase-admin/firestore';
import { getStorage } from 'firebase-admin/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportBackup } from '../../src/adapters/backup/backup-export';
import {
  type BackupStorage,
  exportBackupToStorage,
} from '../../src/adapters/backup/backup-storage';
import { serializeBackup } from '../../src/core/backup/backup-create';
import { verifyBackup } from '../../src/core/backup/backup-verify';
import { testFirestore } from '../support/firestore';
import { quietLogger } from '../support/quiet-logger';

// Firestore and Storage are the emulators the global setup started (see payloads/store.test.ts).

quietLogger();

let db: Firestore;
let app: App;
let close: () => Promise<void>;
beforeAll(async () => {
  ({ db, app, close } = testFirestore());
  const at = Timestamp.fromMillis(Date.UTC(2026, 0, 1));
  const batch = db.batch();
  batch.set(db.doc('providers/keepa'), {
    limits: [{ kind: 'tokenBucket', capacity: 300, refillPerSecond: 5 }],
  });
  batch.set(db.doc('config/flags'), { maintenance: false });
  // Ids whose code-unit order differs from Firestore's (UTF-8, segment by segment): the file
  // is in code-unit order whatever order the reads come in.
  for (const id of ['a', 'a-b', 'a0', '\uFFFF', '😀', 'Z']) {
    batch.set(db.doc(`ingest/${id}`), { counts: { peek: 1 }, at });
    batch.set(db.doc(`ingest/${id}/items/x`), { key: 'x', stage: 'peek' });
  }
  for (let i = 0; i < 250; i++) {
    batch.set(db.doc(`cooldownHistory/h-${i}`), { i, note: 'é'.repeat(i % 7) });
  }
  batch.set(db.doc('auditLog/secret'), { who: { email: 'admin@example.com' } });
  batch.set(db.doc('products/p1'), { price: 1 });
  await batch.commit();
});
afterAll(() => close());

function storage(): BackupStorage {
  return {
    bucket: getStorage(app).bucket(`backups-${randomUUID().slice(0, 8)}`),
    prefix: 'backups/',
    spoolPrefix: 'tmp/',
  };
}

describe('exports to Cloud Storage', () => {
  it('writes the same file, byte for byte, as an export held in memory, a page at a time', async () => {
    const target = storage();
    const now = () => Date.UTC(2026, 0, 2, 3, 4, 5);
    const stored = await exportBackupToStorage(db, target, { projectId: 'demo-p', now });
    const [bytes] = await target.bucket.file(stored.path).download();
    const expected = serializeBackup(await exportBackup(db, { projectId: 'demo-p', now }));
    expect(bytes.toString('utf8')).toBe(expected);
    expect(stored.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(stored.bytes).toBe(bytes.length);
    expect(stored.path).toMatch(/^backups\/20260102T030405000Z-[0-9a-f]{16}-[0-9a-f]{12}\.json$/);
    expect(stored).toMatchObject({
      bucket: target.bucket.name,
      createdAt: '2026-01-02T03:04:05.000Z',
      documents: 2 + 12 + 250,
      byCollection: { providers: 1, config: 1, ingest: 12, cooldownHistory: 250 },
    });
    const verified = verifyBackup(bytes);
    expect(verified.checksum).toBe(stored.checksum);
    // Not the audit log (unless asked), nothing outside the backed-up collections.
    expect(Object.keys(verified.documents).some((p) => /^(auditLog|products)\//.test(p))).toBe(
      false,
    );
    // The spool is gone; only the backup is left.
    const [files] = await target.bucket.getFiles();
    expect(files.map((f) => f.name)).toEqual([stored.path]);
  });

  it('removes the spool and the partial object when the export fails', async () => {
    const target = storage();
    const error = await exportBackupToStorage(db, target, {
      now: () => 0,
      // Past the deadline before the first page: listed, then stopped.
      deadlineMs: -1,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as Error).name).toBe('ExportDeadlineError');
    const [files] = await target.bucket.getFiles();
    expect(files).toEqual([]);
  });

  it('refuses more documents than its bound before reading any', async () => {
    const target = storage();
    await expect(
      exportBackupToStorage(db, target, { collections: ['cooldownHistory'], maxDocuments: 100 }),
    ).rejects.toMatchObject({ name: 'BackupTooLargeError', max: 100 });
    const [files] = await target.bucket.getFiles();
    expect(files).toEqual([]);
  });
});
