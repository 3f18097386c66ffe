import { createHash, randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Firestore, Query, QueryDocumentSnapshot } from 'firebase-admin/firestore';
import {
  BackupBuilder,
  BackupError,
  type BackupMap,
  documentChecksum,
  topLevelCollection,
} from '../../core/backup/backup';
import {
  RESTORABLE_SUBCOLLECTIONS,
  restorablePathProblem,
  SCHEDULED_BACKUP_COLLECTIONS,
} from '../../core/backup/backup-scope';
import {
  ABANDONED_AFTER_MS,
  BACKUP_ID,
  type BackupScheduleConfig,
  backupDue,
  backupSlotMs,
  createManifest,
  expiredBackups,
  HOLDS_FOLDER,
  type ListedBackup,
  MANIFEST_NAME,
  type ManifestPage,
  newestComplete,
  type ObjectEntry,
  objectCopyName,
  pageName,
  pageObjectsName,
  parseObjects,
  payloadDocumentProblem,
  projectBackupsFolder,
  RESTORE_HOLD_MS,
  restoreHoldName,
  restoreHoldsPrefix,
  type ScheduledManifest,
  SLOTS_FOLDER,
  scheduledBackupId,
  scheduledBackupTimeMs,
  serializeObjects,
  slotClaimName,
  slotOfClaim,
  TARGET_PAGE_BYTES,
  verifyManifest,
} from '../../core/backup/scheduled-backup';
import { mapLimit } from '../../core/map-limit';
import { documentSize } from '../../core/storage/firestore-limits';
import { PAYLOADS_COLLECTION } from '../../core/storage/payloads';
import { logger } from '../../log';
import type { Bucket } from '../storage/payload-store';
import { paceFirestoreWork } from '../storage/self-quota-runtime';
import {
  BackupImportError,
  checkConfiguration,
  fromFirestoreMap,
  type ImportOptions,
  importBackup,
  type PreparedWrite,
  prepareImport,
} from './backup';
import { type BackupStorage, deleteQuietly, httpStatus } from './backup-storage';
import { digestStream } from './digest-stream';

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
 */

/** Payload objects copied or checked at once. */
const OBJECT_CONCURRENCY = 8;
/** Above this size object copies are resumable uploads. */
const RESUMABLE_FROM_BYTES = 8 * 1024 * 1024;
/** The configuration a restore checks as a whole, across pages (adapters/backup/backup.ts). */
const CONFIGURATION_COLLECTIONS = new Set(['categories', 'collections', 'config', 'providers']);

/** The folder of `projectId`'s backup `id`: `{prefix}scheduled/{projectId}/{id}/`. */
export function scheduledFolder(storage: BackupStorage, projectId: string, id: string): string {
  return `${projectBackupsFolder(storage.prefix, projectId)}${id}/`;
}

// ---- Reading Firestore a page at a time ------------------------------------------------------

interface ReadDocument {
  path: string;
  data: BackupMap;
}

/** The largest document size a scheduled backup's read has seen (per run). */
interface SizeSeen {
  largest: number;
}

/**
 * The documents of `query`, a page at a time in document-name order (the cursor is the last
 * document read). Pages hold at most `pageSize` documents, fewer when documents are large: the
 * next page's limit aims at TARGET_PAGE_BYTES from the sizes just read, at most doubles from
 * page to page, and is at most TARGET_PAGE_BYTES / the largest document the run has seen.
 * A query cannot be limited by bytes: a run of large documents right after many small ones can
 * still make one answer (at most twice the previous page's count) larger than the target.
 * Each page is paced by the Firestore self-quota (adapters/storage/self-quota-runtime.ts).
 */
async function* queryPages(
  db: Firestore,
  query: Query,
  pageSize: number,
  seen: SizeSeen,
): AsyncGenerator<ReadDocument[]> {
  const cap = () => Math.floor(TARGET_PAGE_BYTES / Math.max(1, seen.largest));
  let limit = Math.max(1, Math.min(pageSize, 50, cap()));
  let last: QueryDocumentSnapshot | undefined;
  for (;;) {
    await paceFirestoreWork(db, 'backup');
    const page = last ? query.startAfter(last).limit(limit) : query.limit(limit);
    const snapshot = await page.get();
    if (snapshot.empty) return;
    let bytes = 0;
    const docs = snapshot.docs.map((doc) => {
      const data = doc.data();
      const size = documentSize(doc.ref.path, data);
      bytes += size;
      if (size > seen.largest) seen.largest = size;
      return { path: doc.ref.path, data: fromFirestoreMap(data, doc.ref.path) };
    });
    yield docs;
    if (snapshot.size < limit) return;
    last = snapshot.docs.at(-1)!;
    const fit = Math.floor((limit * TARGET_PAGE_BYTES) / Math.max(1, bytes));
    limit = Math.max(1, Math.min(pageSize, fit, limit * 2, cap()));
  }
}

/** A top-level collection's documents, then those of the subcollections a restore writes. */
async function* collectionPages(
  db: Firestore,
  collection: string,
  pageSize: number,
  seen: SizeSeen,
): AsyncGenerator<ReadDocument[]> {
  yield* queryPages(db, db.collection(collection), pageSize, seen);
  const subcollections = RESTORABLE_SUBCOLLECTIONS[collection] ?? [];
  if (subcollections.length === 0) return;
  // Parents without a document of their own still have their subcollections read.
  const parents = await db.collection(collection).listDocuments();
  for (const parent of parents) {
    for (const sub of subcollections) {
      yield* queryPages(db, parent.collection(sub), pageSize, seen);
    }
  }
}

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

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
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
      // A page file is in code-unit order of its paths (core/backup/backup.ts); Firestore's order is
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

// ---- Listing and retention -----------------------------------------------------------------

export interface ScheduledBackupListing extends ListedBackup {
  folder: string;
  /** For complete backups. */
  manifest?: ScheduledManifest;
  /** Why a backup is corrupt. */
  problem?: string;
}

/** A backup's manifest, verified to be of `projectId`'s backup `id`; undefined when missing. */
async function readManifest(
  storage: BackupStorage,
  projectId: string,
  id: string,
): Promise<ScheduledManifest | undefined> {
  let bytes: Buffer;
  try {
    [bytes] = await storage.bucket
      .file(`${scheduledFolder(storage, projectId, id)}${MANIFEST_NAME}`)
      .download();
  } catch (error) {
    if (httpStatus(error) === 404) return undefined;
    throw error;
  }
  const manifest = verifyManifest(bytes, id);
  if (manifest.projectId !== projectId) {
    throw new BackupError(
      'shape',
      `the manifest is of project ${manifest.projectId}, in ${projectId}'s folder`,
    );
  }
  return manifest;
}

/**
 * Every scheduled backup of `projectId` in `storage` (its folder only: other projects sharing
 * the bucket are never read), oldest first, with whether it is complete. Future-dated backups
 * are listed; the due check and the retention ignore them (core/backup/scheduled-backup.ts).
 */
export async function listScheduledBackups(
  storage: BackupStorage,
  projectId: string,
): Promise<ScheduledBackupListing[]> {
  const prefix = projectBackupsFolder(storage.prefix, projectId);
  const ids: string[] = [];
  let pageToken: string | undefined;
  do {
    const [, next, response] = await storage.bucket.getFiles({
      prefix,
      delimiter: '/',
      autoPaginate: false,
      maxResults: 1000,
      ...(pageToken ? { pageToken } : {}),
    });
    for (const folder of (response as { prefixes?: string[] } | undefined)?.prefixes ?? []) {
      const id = folder.slice(prefix.length, -1);
      if (`${id}/` === SLOTS_FOLDER || `${id}/` === HOLDS_FOLDER) continue;
      if (scheduledBackupTimeMs(id) === undefined) {
        logger.warn({ folder }, 'not a scheduled backup: left alone');
      } else ids.push(id);
    }
    pageToken = (next as { pageToken?: string } | null)?.pageToken;
  } while (pageToken);
  const listed = await mapLimit(ids.sort(), OBJECT_CONCURRENCY, async (id) => {
    const base = {
      id,
      createdAtMs: scheduledBackupTimeMs(id)!,
      folder: scheduledFolder(storage, projectId, id),
    };
    try {
      const manifest = await readManifest(storage, projectId, id);
      return manifest
        ? { ...base, slotMs: manifest.slotMs, state: 'complete' as const, manifest }
        : { ...base, state: 'incomplete' as const };
    } catch (error) {
      if (!(error instanceof BackupError)) throw error;
      return { ...base, state: 'corrupt' as const, problem: error.message };
    }
  });
  return listed;
}

/** Deletes a backup: its manifest first (it is incomplete from then on), then every object. */
export async function deleteScheduledBackup(
  storage: BackupStorage,
  projectId: string,
  id: string,
): Promise<void> {
  if (!BACKUP_ID.test(id)) throw new RangeError(`"${id}" is not a scheduled backup's id`);
  const folder = scheduledFolder(storage, projectId, id);
  await deleteQuietly(storage.bucket.file(`${folder}${MANIFEST_NAME}`));
  await storage.bucket.deleteFiles({ prefix: folder, force: true });
}

/**
 * The retention of `projectId`'s backups as of `nowMs` (core/backup/scheduled-backup.ts
 * expiredBackups): complete backups older than `retentionDays`, never the newest complete one,
 * abandoned incomplete ones; future-dated ones are left alone. Slot claims older than the
 * retention go too.
 *
 * A backup a restore holds (restoreHold) is kept, whatever its age: the hold is checked right
 * before the backup is deleted, and the deletion removes the manifest first, so a restore that
 * took its hold later finds the backup incomplete or confirms its manifest before writing.
 * Lapsed holds (a crashed restore's) go too.
 */
export async function applyRetention(
  storage: BackupStorage,
  projectId: string,
  nowMs: number,
  retentionDays: number,
): Promise<{ deleted: string[]; kept: string[]; held: string[] }> {
  const listed = await listScheduledBackups(storage, projectId);
  const deleted: string[] = [];
  const held: string[] = [];
  for (const id of expiredBackups(listed, nowMs, retentionDays)) {
    if (await isHeld(storage, projectId, id, nowMs)) {
      logger.info({ id }, 'scheduled backup past its retention kept: a restore holds it');
      held.push(id);
      continue;
    }
    await deleteScheduledBackup(storage, projectId, id);
    deleted.push(id);
  }
  await expireSlotClaims(storage, projectId, nowMs - retentionDays * 86_400_000);
  await expireHolds(storage, projectId, nowMs);
  const gone = new Set(deleted);
  return { deleted, held, kept: listed.filter((b) => !gone.has(b.id)).map((b) => b.id) };
}

// ---- Restore holds -------------------------------------------------------------------------

/** A restore's hold of one backup: renewed as pages go by, released at the end. */
export interface RestoreHold {
  /** Pushes the hold's end RESTORE_HOLD_MS past `nowMs` once half of it has gone by. */
  renew(nowMs: number): Promise<void>;
  release(): Promise<void>;
}

const holdUntil = (metadata: { metadata?: Record<string, unknown> } | undefined): number => {
  const until = Number(metadata?.metadata?.untilMs);
  return Number.isFinite(until) ? until : 0;
};

/**
 * Holds backup `id` against the retention until `nowMs + RESTORE_HOLD_MS` (an object of its
 * own per restore, so two restores of one backup never release each other's).
 */
export async function holdBackup(
  storage: BackupStorage,
  projectId: string,
  id: string,
  nowMs: number,
): Promise<RestoreHold> {
  const file = storage.bucket.file(
    `${projectBackupsFolder(storage.prefix, projectId)}${restoreHoldName(id, randomBytes(8).toString('hex'))}`,
  );
  let untilMs = 0;
  const save = async (at: number) => {
    untilMs = at + RESTORE_HOLD_MS;
    await file.save(`${JSON.stringify({ backup: id, until: new Date(untilMs).toISOString() })}\n`, {
      resumable: false,
      contentType: 'application/json',
      metadata: { metadata: { untilMs: String(untilMs) } },
    });
  };
  await save(nowMs);
  return {
    renew: async (at) => {
      if (untilMs - at < RESTORE_HOLD_MS / 2) await save(at);
    },
    release: () => deleteQuietly(file),
  };
}

async function holdFiles(storage: BackupStorage, projectId: string, prefix: string) {
  const folder = projectBackupsFolder(storage.prefix, projectId);
  const [files] = await storage.bucket.getFiles({ prefix: `${folder}${prefix}` });
  return files;
}

/** Whether a restore holds backup `id` at `nowMs`. */
async function isHeld(
  storage: BackupStorage,
  projectId: string,
  id: string,
  nowMs: number,
): Promise<boolean> {
  const files = await holdFiles(storage, projectId, restoreHoldsPrefix(id));
  return files.some((file) => holdUntil(file.metadata) > nowMs);
}

/** Deletes the holds that lapsed (restores that crashed or never released them). */
async function expireHolds(storage: BackupStorage, projectId: string, nowMs: number) {
  for (const file of await holdFiles(storage, projectId, HOLDS_FOLDER)) {
    if (holdUntil(file.metadata) <= nowMs) await deleteQuietly(file);
  }
}

// ---- Slot claims ---------------------------------------------------------------------------

interface SlotClaim {
  file: ReturnType<Bucket['file']>;
  generation: string;
}

function slotClaimFile(storage: BackupStorage, projectId: string, slotMs: number) {
  return storage.bucket.file(
    `${projectBackupsFolder(storage.prefix, projectId)}${slotClaimName(slotMs)}`,
  );
}

/** Creates the claim if absent: its generation, or undefined when it exists. */
async function createClaim(
  file: ReturnType<Bucket['file']>,
  slotMs: number,
  nowMs: number,
): Promise<SlotClaim | undefined> {
  const claimedAt = new Date(nowMs).toISOString();
  try {
    await file.save(`${JSON.stringify({ slot: new Date(slotMs).toISOString(), claimedAt })}\n`, {
      resumable: false,
      contentType: 'application/json',
      metadata: { metadata: { claimedAtMs: String(nowMs) } },
      preconditionOpts: { ifGenerationMatch: 0 },
    });
  } catch (error) {
    if (httpStatus(error) === 412) return undefined;
    throw error;
  }
  return { file, generation: String(file.metadata.generation) };
}

/**
 * Claims a slot for this run: created if absent; an existing claim older than
 * ABANDONED_AFTER_MS (a crashed run's) is taken over (deleted at its generation, then created).
 * Undefined: another run holds the slot.
 */
async function claimSlot(
  storage: BackupStorage,
  projectId: string,
  slotMs: number,
  nowMs: number,
): Promise<SlotClaim | undefined> {
  const file = slotClaimFile(storage, projectId, slotMs);
  const claim = await createClaim(file, slotMs, nowMs);
  if (claim) return claim;
  let held: { generation: string; claimedAtMs: number };
  try {
    const [metadata] = await file.getMetadata();
    const stamped = Number(metadata.metadata?.claimedAtMs);
    held = {
      generation: String(metadata.generation),
      claimedAtMs: Number.isFinite(stamped) ? stamped : Date.parse(String(metadata.timeCreated)),
    };
  } catch (error) {
    // Released in between: the next run claims it.
    if (httpStatus(error) === 404) return undefined;
    throw error;
  }
  if (!(nowMs - held.claimedAtMs > ABANDONED_AFTER_MS)) return undefined;
  try {
    await file.delete({ ifGenerationMatch: Number(held.generation) });
  } catch (error) {
    // Another run took it over first.
    if (httpStatus(error) === 404 || httpStatus(error) === 412) return undefined;
    throw error;
  }
  logger.warn(
    { slot: new Date(slotMs).toISOString(), claimedAt: new Date(held.claimedAtMs).toISOString() },
    'scheduled backup: abandoned slot claim taken over',
  );
  return createClaim(file, slotMs, nowMs);
}

/** A failed run gives its slot back (the next hourly run retries it). */
async function releaseSlot(claim: SlotClaim): Promise<void> {
  try {
    await claim.file.delete({ ifGenerationMatch: Number(claim.generation) });
  } catch (error) {
    logger.warn({ err: error, claim: claim.file.name }, 'slot claim not released');
  }
}

/** Deletes the claims of slots before `beforeMs`. */
async function expireSlotClaims(
  storage: BackupStorage,
  projectId: string,
  beforeMs: number,
): Promise<void> {
  const folder = projectBackupsFolder(storage.prefix, projectId);
  const [files] = await storage.bucket.getFiles({ prefix: `${folder}${SLOTS_FOLDER}` });
  for (const file of files) {
    const slot = slotOfClaim(file.name.slice(folder.length));
    if (slot !== undefined && slot < beforeMs) await deleteQuietly(file);
  }
}

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

// ---- Restoring -----------------------------------------------------------------------------

/** What restoring one page takes besides its bytes (see adapters/backup/backup.ts ImportOptions). */
export type PageImportOptions = Pick<
  ImportOptions,
  'collectedData' | 'checkConfiguration' | 'beforeWrite'
> & { source: { scheduled: string; page: string } };

export interface ScheduledRestoreOptions {
  /** Verify and count only; write nothing. */
  dryRun?: boolean;
  /** Writes one page (default: adapters/backup/backup.ts importBackup; the callable audits each batch). */
  importPage?: (
    bytes: Buffer,
    options: PageImportOptions,
  ) => Promise<{ written: number; auditIds?: string[] }>;
  /**
   * Only these top-level collections (of the backup's); the configuration is checked only when
   * one of categories, collections, config or providers is among them.
   */
  collections?: readonly string[];
  /** Start writing at this page (1-based, as RestoreDeadlineError.nextPage says); default 1. */
  fromPage?: number;
  /** No page is started at or after this time: RestoreDeadlineError says where to resume. */
  deadlineMs?: number;
  now?: () => number;
}

export interface ScheduledRestoreResult {
  id: string;
  dryRun: boolean;
  projectId: string;
  createdAt: string;
  checksum: string;
  /** Documents of the collections restored (all pages, also those before `fromPage`). */
  documents: number;
  byCollection: Record<string, number>;
  pages: number;
  objects: number;
  written: number;
  auditIds: string[];
}

/** A restore stopped before its deadline, between two pages: resume at `nextPage`. */
export class RestoreDeadlineError extends Error {
  constructor(
    readonly id: string,
    /** Documents this call wrote (0 when it stopped while verifying). */
    readonly written: number,
    /** Pages this call wrote completely. */
    readonly pagesWritten: number,
    /** The page (1-based) to resume at: `fromPage`. */
    readonly nextPage: number,
    /** The backup's pages. */
    readonly pages: number,
    verifying: boolean,
  ) {
    super(
      verifying
        ? `the restore of ${id} stopped before its deadline while verifying pages (nothing written); restore fewer collections at once`
        : `the restore of ${id} stopped before its deadline after ${pagesWritten} page(s) (${written} documents); restore again with fromPage ${nextPage} to resume`,
    );
    this.name = 'RestoreDeadlineError';
  }
}

/** Payloads not restored because a live object with other content has their object's name. */
export class PayloadConflictError extends Error {
  constructor(
    readonly written: number,
    readonly total: number,
    readonly payloads: readonly { payload: string; object: string }[],
  ) {
    super(
      `${payloads.length} payload(s) not restored, their objects exist with other content and a restore never overwrites a live object: ${payloads
        .slice(0, 5)
        .map((p) => `${p.payload} (${p.object})`)
        .join(', ')}; the other ${written} of ${total} documents were written`,
    );
    this.name = 'PayloadConflictError';
  }
}

/**
 * An object of the backup, checked against the manifest before it is used: missing is an
 * incomplete backup, shorter is truncated, any other difference a checksum mismatch. Read at
 * the generation whose size was checked, so what is read is what was measured.
 */
async function readChecked(
  bucket: Bucket,
  name: string,
  expected: { bytes: number; sha256: string },
): Promise<Buffer> {
  const file = bucket.file(name);
  let size: number;
  let generation: string;
  try {
    const [metadata] = await file.getMetadata();
    size = Number(metadata.size);
    generation = String(metadata.generation);
  } catch (error) {
    if (httpStatus(error) === 404) {
      throw new BackupError('incomplete', `${name} is missing from the backup`);
    }
    throw error;
  }
  if (size < expected.bytes) {
    throw new BackupError('truncated', `${name} holds ${size} of ${expected.bytes} bytes`);
  }
  if (size !== expected.bytes) {
    throw new BackupError('checksum', `${name} holds ${size} bytes, not ${expected.bytes}`);
  }
  const [bytes] = await bucket.file(name, { generation }).download();
  if (bytes.length !== expected.bytes || sha256(bytes) !== expected.sha256) {
    throw new BackupError('checksum', `${name} does not match its SHA-256 in the manifest`);
  }
  return bytes;
}

/** A copied payload object, streamed through its SHA-256 (and into `into`, when given). */
async function streamChecked(
  storage: BackupStorage,
  folder: string,
  entry: ObjectEntry,
  into?: ReturnType<Bucket['file']>,
  preconditionOpts?: { ifGenerationMatch: number },
): Promise<void> {
  const name = `${folder}${objectCopyName(entry.payload)}`;
  const check = digestStream(({ bytes, sha256 }) =>
    bytes === entry.bytes && sha256 === entry.sha256
      ? null
      : new BackupError(
          bytes < entry.bytes ? 'truncated' : 'checksum',
          `${name} does not match its SHA-256 in the objects list`,
        ),
  ).stream;
  const sink =
    into?.createWriteStream({
      resumable: entry.bytes >= RESUMABLE_FROM_BYTES,
      ...(entry.contentType ? { contentType: entry.contentType } : {}),
      metadata: { metadata: { payloadId: entry.payload } },
      ...(preconditionOpts ? { preconditionOpts } : {}),
    }) ??
    new Writable({
      write(_chunk, _encoding, done) {
        done();
      },
    });
  try {
    await pipeline(storage.bucket.file(name).createReadStream(), check, sink);
  } catch (error) {
    if (httpStatus(error) === 404) {
      throw new BackupError('incomplete', `${name} is missing from the backup`);
    }
    throw error;
  }
}

function pageError(page: ManifestPage, message: string, issues: string[] = []): BackupError {
  return new BackupError('shape', `${page.name}: ${message}`, issues);
}

/**
 * A page checked against its manifest entry (checksum, project, time, collection, count) and,
 * for payloads, its documents against the objects list; the object entries answered.
 */
async function checkPage(
  storage: BackupStorage,
  manifest: ScheduledManifest,
  folder: string,
  page: ManifestPage,
  prepared: Awaited<ReturnType<typeof prepareImport>>,
  verifyObjects: boolean,
): Promise<Map<string, ObjectEntry>> {
  const { verified, writes } = prepared;
  if (verified.checksum !== page.checksum) throw pageError(page, 'not the page the manifest lists');
  if (verified.projectId !== manifest.projectId || verified.createdAt !== manifest.createdAt) {
    throw pageError(page, 'of another backup');
  }
  if (writes.length !== page.documents) {
    throw pageError(page, `${writes.length} documents, the manifest says ${page.documents}`);
  }
  const outside = writes.filter((w) => topLevelCollection(w.path) !== page.collection);
  if (outside.length > 0) {
    throw pageError(page, `documents outside ${page.collection}: ${outside[0]!.path}`);
  }
  const entries = page.objects
    ? parseObjects(await readChecked(storage.bucket, `${folder}${page.objects.name}`, page.objects))
    : [];
  const byPayload = new Map(entries.map((e) => [e.payload, e]));
  if (page.collection !== PAYLOADS_COLLECTION) return byPayload;
  const issues: string[] = [];
  const inStorage = new Set<string>();
  for (const w of writes) {
    const id = w.path.split('/')[1]!;
    const problem = payloadDocumentProblem(id, w.value);
    if (problem) issues.push(`${w.path}: ${problem}`);
    else if (w.value.location === 'storage') {
      inStorage.add(id);
      if (byPayload.get(id)?.object !== w.value.object) {
        issues.push(`${w.path}: its object is not in the backup`);
      }
    }
  }
  if (byPayload.size !== entries.length || entries.some((e) => !inStorage.has(e.payload))) {
    issues.push('the objects list names objects of no payload on the page');
  }
  if (issues.length > 0) throw pageError(page, issues.slice(0, 5).join('; '), issues);
  if (inStorage.size > 0 && !storage.payloads) {
    throw new Error(
      'no payload bucket is configured: payloads in Cloud Storage cannot be restored',
    );
  }
  if (verifyObjects) {
    await mapLimit(entries, OBJECT_CONCURRENCY, (e) => streamChecked(storage, folder, e));
  }
  return byPayload;
}

/**
 * Restores a page's payload objects (before their documents: no document may point at a missing
 * object) and points each document at its object's generation. A restore never overwrites a
 * live object: a missing one is created (if-absent, `ifGenerationMatch: 0`); one stored with the
 * same content (MD5 and size, as Cloud Storage computed them) is kept; one with other content
 * is a conflict: that payload's document is not written either (`conflicts` hears it), so a
 * live payload keeps its object and its document, and a commit that fails later leaves no live
 * document pointing at a replaced generation.
 */
function restorePayloadObjects(
  storage: BackupStorage,
  folder: string,
  byPayload: ReadonlyMap<string, ObjectEntry>,
  conflicts: Array<{ payload: string; object: string }>,
): (writes: PreparedWrite[]) => Promise<PreparedWrite[]> {
  return async (writes) => {
    const restored = await mapLimit(writes, OBJECT_CONCURRENCY, async (w) => {
      if (w.value.location !== 'storage') return w;
      const entry = byPayload.get(w.path.split('/')[1]!)!;
      const payloads = storage.payloads!;
      const target = payloads.file(entry.object);
      const [copy] = await storage.bucket
        .file(`${folder}${objectCopyName(entry.payload)}`)
        .getMetadata();
      /** The live object's generation when it holds the copy's content; null: other content. */
      const live = async (): Promise<string | null | undefined> => {
        try {
          const [stored] = await target.getMetadata();
          const same =
            stored.md5Hash !== undefined &&
            stored.md5Hash === copy.md5Hash &&
            Number(stored.size) === entry.bytes;
          return same ? String(stored.generation) : null;
        } catch (error) {
          if (httpStatus(error) === 404) return undefined;
          throw error;
        }
      };
      let generation = await live();
      if (generation === undefined) {
        try {
          await streamChecked(storage, folder, entry, target, { ifGenerationMatch: 0 });
          generation = String(target.metadata.generation);
        } catch (error) {
          // Created by someone else in between: kept if it is the same.
          if (httpStatus(error) !== 412) throw error;
          generation = (await live()) ?? null;
        }
      }
      if (generation === null) {
        logger.warn(
          { payload: entry.payload, object: entry.object },
          'payload not restored: its object exists with other content',
        );
        conflicts.push({ payload: entry.payload, object: entry.object });
        return undefined;
      }
      const value: BackupMap = { ...w.value, generation };
      return {
        ...w,
        data: { ...w.data, generation },
        value,
        digest: documentChecksum(w.path, value),
      };
    });
    return restored.filter((w): w is PreparedWrite => w !== undefined);
  };
}

/**
 * Restores `projectId`'s scheduled backup `id` (another project's id to restore its backup,
 * e.g. into a new project) with the verification of a backup file, in two passes.
 * First every page and payload object is read and checked (manifest checksum, each object's
 * size and SHA-256, each page as a backup file: shape, values, Firestore's limits, the restore's
 * scope with collected data, payload documents against their objects) and the configuration of
 * all pages together (adapters/backup/backup.ts checkConfiguration); a missing manifest or object, a
 * truncated or changed one, or hostile content is a BackupError and nothing is written. Then
 * page by page, each read and checked again: payload objects, then the documents.
 *
 * What a restore does and does not do:
 * - Documents are set as they were in the backup: anything collected or changed since (a newer
 *   price, a newer sales row) is reverted to the backup's value; documents not in the backup are
 *   left alone. `collections` restores only some collections (e.g. the sales only).
 * - One configuration document the configuration check refuses (say a provider with invalid
 *   limits, stored in the console) refuses the whole restore; a restore whose `collections`
 *   leave out categories, collections, config and providers skips that check.
 * - Payload objects are only created where missing, never overwritten (restorePayloadObjects):
 *   a payload whose object exists with other content is not restored (PayloadConflictError at
 *   the end, after everything else is written).
 * - The backup is held against the retention while the restore runs (holdBackup): a backup past
 *   its retention is not deleted under a restore, and one deleted before the restore began is
 *   found incomplete before anything is written.
 * - With `deadlineMs`, no page starts after it: RestoreDeadlineError names the page to resume
 *   at (`fromPage`); pages before `fromPage` are still verified, but not their payload objects.
 *
 * Memory holds one page, the configuration documents and the pages' list. Objects changed
 * between the passes stop the restore part way (BackupImportError, as any failure there):
 * documents are only set, so restoring again finishes it.
 */
export async function restoreScheduledBackup(
  db: Firestore,
  storage: BackupStorage,
  projectId: string,
  id: string,
  options: ScheduledRestoreOptions = {},
): Promise<ScheduledRestoreResult> {
  if (!BACKUP_ID.test(id) || scheduledBackupTimeMs(id) === undefined) {
    throw new BackupError('shape', `"${id}" is not a scheduled backup's id`);
  }
  const now = options.now ?? Date.now;
  // Held before the manifest is read: the retention either deleted it already (the restore
  // finds it incomplete) or sees the hold and keeps the backup until the restore ends.
  const hold = await holdBackup(storage, projectId, id, now());
  try {
    return await restoreHeld(db, storage, projectId, id, options, hold);
  } finally {
    await hold.release();
  }
}

async function restoreHeld(
  db: Firestore,
  storage: BackupStorage,
  projectId: string,
  id: string,
  options: ScheduledRestoreOptions,
  hold: RestoreHold,
): Promise<ScheduledRestoreResult> {
  const now = options.now ?? Date.now;
  const folder = scheduledFolder(storage, projectId, id);
  const manifest = await readManifest(storage, projectId, id);
  if (!manifest) {
    throw new BackupError(
      'incomplete',
      `backup ${id} of ${projectId} has no manifest: it does not exist, or it was never completed`,
    );
  }
  const unknown = (options.collections ?? []).filter(
    (c) => !(manifest.collections as readonly string[]).includes(c),
  );
  if (unknown.length > 0) {
    throw new BackupError('shape', `backup ${id} holds no ${unknown.join(', ')}`);
  }
  const wanted = new Set<string>(options.collections ?? manifest.collections);
  const fromPage = options.fromPage ?? 1;
  if (!Number.isInteger(fromPage) || fromPage < 1 || fromPage > manifest.pages.length + 1) {
    throw new BackupError(
      'shape',
      `fromPage ${fromPage}: backup ${id} has pages 1 to ${manifest.pages.length}`,
    );
  }
  const selected = manifest.pages.flatMap((page, i) =>
    wanted.has(page.collection) ? [{ page, number: i + 1 }] : [],
  );
  const stopping = () => options.deadlineMs !== undefined && now() >= options.deadlineMs;
  const prepare = (bytes: Buffer) =>
    prepareImport(db, bytes, { collectedData: true, checkConfiguration: false });

  // Pass 1: everything, before anything is written.
  const configuration: PreparedWrite[] = [];
  for (const { page, number } of selected) {
    if (stopping()) {
      throw new RestoreDeadlineError(id, 0, 0, fromPage, manifest.pages.length, true);
    }
    await paceFirestoreWork(db, 'backup');
    await hold.renew(now());
    const prepared = await prepare(
      await readChecked(storage.bucket, `${folder}${page.name}`, page),
    );
    await checkPage(storage, manifest, folder, page, prepared, number >= fromPage);
    for (const w of prepared.writes) {
      if (CONFIGURATION_COLLECTIONS.has(topLevelCollection(w.path))) configuration.push(w);
    }
  }
  if ([...wanted].some((c) => CONFIGURATION_COLLECTIONS.has(c))) {
    await checkConfiguration(db, configuration);
  }
  const byCollection: Record<string, number> = {};
  for (const [c, n] of Object.entries(manifest.byCollection)) {
    if (wanted.has(c)) byCollection[c] = n;
  }
  const result: ScheduledRestoreResult = {
    id,
    dryRun: options.dryRun ?? false,
    projectId: manifest.projectId,
    createdAt: manifest.createdAt,
    checksum: manifest.checksum,
    documents: Object.values(byCollection).reduce((a, b) => a + b, 0),
    byCollection,
    pages: manifest.pages.length,
    objects: manifest.objects,
    written: 0,
    auditIds: [],
  };
  if (result.dryRun) return result;
  // Every page was read: the manifest still there says no retention run began deleting them.
  if (!(await readManifest(storage, projectId, id))) {
    throw new BackupError('incomplete', `backup ${id} of ${projectId} was deleted while read`);
  }

  // Pass 2: page by page.
  const importPage =
    options.importPage ??
    ((bytes: Buffer, o: PageImportOptions): Promise<{ written: number; auditIds?: string[] }> =>
      importBackup(db, bytes, o));
  const conflicts: Array<{ payload: string; object: string }> = [];
  let pagesWritten = 0;
  try {
    for (const { page, number } of selected) {
      if (number < fromPage) continue;
      if (stopping()) {
        throw new RestoreDeadlineError(
          id,
          result.written,
          pagesWritten,
          number,
          manifest.pages.length,
          false,
        );
      }
      await hold.renew(now());
      const bytes = await readChecked(storage.bucket, `${folder}${page.name}`, page);
      const byPayload = await checkPage(
        storage,
        manifest,
        folder,
        page,
        await prepare(bytes),
        false,
      );
      const written = await importPage(bytes, {
        collectedData: true,
        checkConfiguration: false,
        source: { scheduled: id, page: page.name },
        ...(page.collection === PAYLOADS_COLLECTION
          ? { beforeWrite: restorePayloadObjects(storage, folder, byPayload, conflicts) }
          : {}),
      });
      result.written += written.written;
      result.auditIds.push(...(written.auditIds ?? []));
      pagesWritten++;
    }
  } catch (error) {
    if (error instanceof RestoreDeadlineError) throw error;
    const partial = error instanceof BackupImportError ? error.written : 0;
    throw new BackupImportError(result.written + partial, result.documents, {
      cause: error instanceof BackupImportError ? error.cause : error,
    });
  }
  if (conflicts.length > 0) {
    throw new PayloadConflictError(result.written, result.documents, conflicts);
  }
  logger.info({ id, documents: result.written, pages: pagesWritten }, 'scheduled backup restored');
  return result;
}
