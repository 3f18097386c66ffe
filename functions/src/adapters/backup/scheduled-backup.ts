import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Firestore } from 'firebase-admin/firestore';
import { BackupBuilder } from '../../core/backup/backup';
import {
  restorablePathProblem,
  SCHEDULED_BACKUP_COLLECTIONS,
} from '../../core/backup/backup-scope';
import {
  type BackupScheduleConfig,
  backupDue,
  backupSlotMs,
  createManifest,
  MANIFEST_NAME,
  type ManifestPage,
  newestComplete,
  type ObjectEntry,
  objectCopyName,
  pageName,
  pageObjectsName,
  payloadDocumentProblem,
  type ScheduledManifest,
  scheduledBackupId,
  serializeObjects,
  TARGET_PAGE_BYTES,
} from '../../core/backup/scheduled-backup';
import { mapLimit } from '../../core/map-limit';
import { PAYLOADS_COLLECTION } from '../../core/storage/payloads';
import { logger } from '../../log';
import type { Bucket } from '../storage/payload-store';
import { type BackupStorage, deleteQuietly, httpStatus } from './backup-storage';
import { digestStream } from './digest-stream';
import {
  OBJECT_CONCURRENCY,
  RESUMABLE_FROM_BYTES,
  scheduledFolder,
  sha256,
} from './scheduled-folder';
import { collectionPages, type ReadDocument, type SizeSeen } from './scheduled-page-reads';
import { applyRetention, listScheduledBackups } from './scheduled-retention';
import { claimSlot, releaseSlot } from './scheduled-slots';

/**
 * Scheduled backups (core/backup/scheduled-backup.ts has the layout): configuration, state and
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
 * This module writes a backup and runs the schedule; beside it, scheduled-retention.ts lists,
 * deletes and holds backups, scheduled-restore.ts restores them.
 */

// ---- Writing a backup ----------------------------------------------------------------------

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

async function saveNew(bucket: Bucket, name: string, text: string): Promise<Buffer> {
  const bytes = Buffer.from(text, 'utf8');
  await bucket.file(name).save(bytes, {
    resumable: false,
    contentType: 'application/json',
    preconditionOpts: { ifGenerationMatch: 0 },
  });
  return bytes;
}

/** Splits documents (sorted) into page texts of at most TARGET_PAGE_BYTES (one document more). */
function* pageTexts(
  docs: readonly ReadDocument[],
  header: { createdAt: number; projectId: string },
): Generator<{ text: string; checksum: string; documents: number }> {
  let builder = new BackupBuilder(header);
  let body = '';
  const finish = () => {
    const { head, tail, checksum } = builder.finish();
    return { text: head + body + tail, checksum, documents: builder.documents };
  };
  for (const { path, data } of docs) {
    body += builder.document(path, data);
    if (body.length >= TARGET_PAGE_BYTES) {
      yield finish();
      builder = new BackupBuilder(header);
      body = '';
    }
  }
  if (builder.documents > 0) yield finish();
}

/**
 * Copies a page's payload objects into the backup (streamed, with their SHA-256), and answers
 * the documents to keep: a payload whose object is gone, or whose document names an object that
 * is not its own, is left out (a restore would refuse it), and so is one in Cloud Storage when no
 * payload bucket is known.
 */
async function copyPayloadObjects(
  storage: BackupStorage,
  folder: string,
  docs: readonly ReadDocument[],
): Promise<{ kept: ReadDocument[]; objects: ObjectEntry[]; skipped: number }> {
  const results = await mapLimit([...docs], OBJECT_CONCURRENCY, async (doc) => {
    const id = doc.path.split('/')[1]!;
    const problem = payloadDocumentProblem(id, doc.data);
    if (problem) {
      logger.warn({ path: doc.path, problem }, 'payload left out of the backup');
      return undefined;
    }
    if (doc.data.location !== 'storage') return { doc };
    if (!storage.payloads) {
      logger.warn({ path: doc.path }, 'no payload bucket: payload left out of the backup');
      return undefined;
    }
    const object = doc.data.object as string;
    const generation = typeof doc.data.generation === 'string' ? doc.data.generation : undefined;
    const source = storage.payloads.file(object, generation ? { generation } : {});
    const measure = digestStream();
    const contentType = typeof doc.data.contentType === 'string' ? doc.data.contentType : undefined;
    const target = storage.bucket.file(`${folder}${objectCopyName(id)}`);
    try {
      await pipeline(
        source.createReadStream(),
        measure.stream,
        target.createWriteStream({
          resumable: typeof doc.data.bytes === 'number' && doc.data.bytes >= RESUMABLE_FROM_BYTES,
          ...(contentType ? { contentType } : {}),
          preconditionOpts: { ifGenerationMatch: 0 },
        }),
      );
    } catch (error) {
      if (httpStatus(error) !== 404) throw error;
      logger.warn({ path: doc.path, object }, 'payload object missing: left out of the backup');
      await deleteQuietly(target);
      return undefined;
    }
    const entry: ObjectEntry = {
      payload: id,
      object,
      ...measure.digest(),
      ...(contentType ? { contentType } : {}),
    };
    return { doc, entry };
  });
  const kept: ReadDocument[] = [];
  const objects: ObjectEntry[] = [];
  for (const r of results) {
    if (!r) continue;
    kept.push(r.doc);
    if (r.entry) objects.push(r.entry);
  }
  return { kept, objects, skipped: docs.length - kept.length };
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

// ---- One run of the schedule ---------------------------------------------------------------

export interface ScheduledRunResult {
  /** The backup written, if one was due. */
  backup?: ScheduledBackupResult;
  /** Backups the retention deleted. */
  deleted: string[];
  /** The slot was due but another run holds its claim: this run did not back up. */
  claimedElsewhere?: boolean;
}

/**
 * One run of the schedule as of `asOfMs` (its slot): a backup when no complete backup of this
 * project is of the slot yet and this run claims the slot, then the retention (also after a
 * failed backup; the failure is then thrown). Nothing when backups are disabled.
 */
export async function runScheduledBackup(input: {
  db: Firestore;
  storage: BackupStorage;
  config: BackupScheduleConfig;
  projectId: string;
  asOfMs: number;
  now?: () => number;
}): Promise<ScheduledRunResult> {
  const { config, storage, projectId } = input;
  const now = input.now ?? Date.now;
  if (!config.enabled) return { deleted: [] };
  const newest = newestComplete(await listScheduledBackups(storage, projectId), now());
  let backup: ScheduledBackupResult | undefined;
  let failure: unknown;
  let claimedElsewhere = false;
  if (backupDue(input.asOfMs, config, newest?.slotMs)) {
    const slotMs = backupSlotMs(input.asOfMs, config);
    const claim = await claimSlot(storage, projectId, slotMs, now());
    if (!claim) {
      claimedElsewhere = true;
      logger.info({ slot: new Date(slotMs).toISOString() }, 'slot claimed by another run');
    } else {
      try {
        backup = await writeScheduledBackup(input.db, storage, {
          pageSize: config.pageSize,
          projectId,
          slotMs,
          now,
        });
      } catch (error) {
        logger.error({ err: error }, 'scheduled backup failed');
        failure = error;
        await releaseSlot(claim);
      }
    }
  }
  const { deleted } = await applyRetention(storage, projectId, now(), config.retentionDays);
  if (failure !== undefined) throw failure;
  return {
    ...(backup ? { backup } : {}),
    deleted,
    ...(claimedElsewhere ? { claimedElsewhere } : {}),
  };
}
