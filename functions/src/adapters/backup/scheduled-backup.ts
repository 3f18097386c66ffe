import { randomBytes } from 'node:crypto';
import type { Firestore } from 'firebase-admin/firestore';
import {
  restorablePathProblem,
  SCHEDULED_BACKUP_COLLECTIONS,
} from '../../core/backup/backup-scope';
import {
  MANIFEST_NAME,
  pageName,
  pageObjectsName,
  scheduledBackupId,
} from '../../core/backup/scheduled-layout';
import {
  createManifest,
  type ManifestPage,
  type ScheduledManifest,
} from '../../core/backup/scheduled-manifest';
import { type ObjectEntry, serializeObjects } from '../../core/backup/scheduled-objects';
import { PAYLOADS_COLLECTION } from '../../core/storage/payloads';
import { logger } from '../../log';
import type { BackupStorage } from './backup-storage';
import { scheduledFolder, sha256 } from './scheduled-folder';
import { collectionPages, type SizeSeen } from './scheduled-page-reads';
import { pageTexts, saveNew } from './scheduled-page-writes';
import { copyPayloadObjects } from './scheduled-payload-copies';

/**
 * Scheduled backups (core/backup/scheduled-layout.ts has the layout): configuration, state and
 * collected data, read a page at a time (a cursor by document name, at most `pageSize`
 * documents) and written as one object per page, each a tollgate-backup file with its checksum;
 * payload objects are copied next to them; the manifest, written last, lists every page with its
 * size and SHA-256. Memory holds one page of documents (and the pages' list).
 *
 * Payload objects are copied into the backup, not referenced: a payload's object is exactly what
 * a lost bucket, a deleted object or an operator's mistake takes away, and a metadata document
 * restored without its object would break the payload store's invariant (no document points at
 * a missing object). A restore writes the objects first, then the documents, pointing them at
 * the objects' new generations.
 *
 * The reads are not one snapshot: each document is as it was when its page was read.
 *
 * This module writes a backup; beside it, scheduled-run.ts runs the schedule,
 * scheduled-retention.ts lists, deletes and holds backups, scheduled-restore.ts restores them.
 */

export interface ScheduledBackupOptions {
  /** Documents per page, at most. */
  pageSize: number;
  /** Recorded in every page and the manifest; names the folder (`scheduled/{projectId}/`). */
  projectId: string;
  /** The schedule's slot, recorded in the manifest (default: the start time). */
  slotMs?: number;
  now?: () => number;
  /** Top-level collections (default SCHEDULED_BACKUP_COLLECTIONS). */
  collections?: readonly string[];
  /** Hears each page once written (tests stop a run here, as a crash would). */
  onPage?: (page: ManifestPage, documents: number) => void | Promise<void>;
}

export interface ScheduledBackupResult {
  id: string;
  bucket: string;
  folder: string;
  manifest: ScheduledManifest;
}

/**
 * Writes one backup of `collections` (see the file's comment). The manifest is written last and
 * only once every page and object is; a run that fails or dies before leaves an incomplete
 * folder (the retention removes it; a restore refuses it).
 */
export async function writeScheduledBackup(
  db: Firestore,
  storage: BackupStorage,
  options: ScheduledBackupOptions,
): Promise<ScheduledBackupResult> {
  const now = options.now ?? Date.now;
  const startedMs = now();
  const id = scheduledBackupId(startedMs, randomBytes(6).toString('hex'));
  const createdAt = new Date(startedMs).toISOString();
  const folder = scheduledFolder(storage, options.projectId, id);
  const header = { createdAt: startedMs, projectId: options.projectId };
  const seen: SizeSeen = { largest: 0 };
  const wanted = new Set(options.collections ?? SCHEDULED_BACKUP_COLLECTIONS);
  const collections = SCHEDULED_BACKUP_COLLECTIONS.filter((c) => wanted.has(c));
  const pages: ManifestPage[] = [];
  const byCollection: Record<string, number> = {};
  let documents = 0;
  let objects = 0;
  let skipped = 0;
  for (const collection of collections) {
    for await (const read of collectionPages(db, collection, options.pageSize, seen)) {
      // A page file is in code-unit order of its paths (core/backup/backup-create.ts); Firestore's order is
      // by UTF-8 bytes, segment by segment, so each page is sorted on its own.
      let docs = read
        .filter((d) => restorablePathProblem(d.path, { collectedData: true }) === undefined)
        .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      let entries: ObjectEntry[] = [];
      if (collection === PAYLOADS_COLLECTION) {
        const copied = await copyPayloadObjects(storage, folder, docs);
        docs = copied.kept;
        entries = copied.objects;
        skipped += copied.skipped;
      }
      const byPayload = new Map(entries.map((e) => [e.payload, e]));
      let offset = 0;
      for (const { text, checksum, documents: count } of pageTexts(docs, header)) {
        const index = pages.length + 1;
        const bytes = await saveNew(storage.bucket, `${folder}${pageName(index)}`, text);
        const page: ManifestPage = {
          name: pageName(index),
          collection: collection as ManifestPage['collection'],
          documents: count,
          bytes: bytes.length,
          sha256: sha256(bytes),
          checksum,
        };
        const own = docs
          .slice(offset, offset + count)
          .flatMap((d) => byPayload.get(d.path.split('/')[1]!) ?? []);
        offset += count;
        if (own.length > 0) {
          const list = await saveNew(
            storage.bucket,
            `${folder}${pageObjectsName(index)}`,
            serializeObjects(own),
          );
          page.objects = {
            name: pageObjectsName(index),
            count: own.length,
            bytes: list.length,
            sha256: sha256(list),
          };
          objects += own.length;
        }
        pages.push(page);
        documents += count;
        byCollection[collection] = (byCollection[collection] ?? 0) + count;
        await options.onPage?.(page, count);
      }
    }
  }
  const { manifest, text } = createManifest({
    id,
    createdAt,
    completedAt: new Date(now()).toISOString(),
    slotMs: options.slotMs ?? startedMs,
    projectId: options.projectId,
    collections: collections as ScheduledManifest['collections'],
    documents,
    byCollection,
    objects,
    skipped,
    pages,
  });
  await saveNew(storage.bucket, `${folder}${MANIFEST_NAME}`, text);
  logger.info(
    { id, documents, pages: pages.length, objects, skipped, byCollection },
    'scheduled backup written',
  );
  return { id, bucket: storage.bucket.name, folder, manifest };
}
