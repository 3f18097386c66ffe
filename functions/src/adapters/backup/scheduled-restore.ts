import type { Firestore } from 'firebase-admin/firestore';
import { BackupError, topLevelCollection } from '../../core/backup/backup-file';
import { BACKUP_ID } from '../../core/backup/backup-schedule';
import { scheduledBackupTimeMs } from '../../core/backup/scheduled-layout';
import { PAYLOADS_COLLECTION } from '../../core/storage/payloads';
import { logger } from '../../log';
import { foldDuplicateProducts } from '../pipeline/product-fold';
import { paceFirestoreWork } from '../storage/self-quota-runtime';
import { checkConfiguration } from './backup-configuration-check';
import {
  BackupImportError,
  type ImportOptions,
  importBackup,
  prepareImport,
} from './backup-import';
import type { BackupStorage } from './backup-storage';
import type { PreparedWrite } from './backup-values';
import { readManifest, scheduledFolder } from './scheduled-folder';
import { checkPage, readChecked } from './scheduled-restore-checks';
import { restorePayloadObjects } from './scheduled-restore-objects';
import { holdBackup, type RestoreHold } from './scheduled-retention';

/**
 * Restoring a scheduled backup: verified as a whole before anything is written, then written
 * page by page (payload objects before their documents), held against the retention meanwhile;
 * what a restore answers, and how it stops (deadline, payload conflicts).
 */

/** The configuration a restore checks as a whole, across pages (backup-configuration-check.ts). */
const CONFIGURATION_COLLECTIONS = new Set(['categories', 'collections', 'config', 'providers']);

// ---- Restoring -----------------------------------------------------------------------------

/** What restoring one page takes besides its bytes (see adapters/backup/backup-import.ts ImportOptions). */
export type PageImportOptions = Pick<
  ImportOptions,
  'collectedData' | 'checkConfiguration' | 'beforeWrite' | 'foldProducts'
> & { source: { scheduled: string; page: string } };

export interface ScheduledRestoreOptions {
  /** Verify and count only; write nothing. */
  dryRun?: boolean;
  /** Writes one page (default: adapters/backup/backup-import.ts importBackup; the callable audits each batch). */
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
 * Restores `projectId`'s scheduled backup `id` (another project's id to restore its backup,
 * e.g. into a new project) with the verification of a backup file, in two passes.
 * First every page and payload object is read and checked (manifest checksum, each object's
 * size and SHA-256, each page as a backup file: shape, values, Firestore's limits, the restore's
 * scope with collected data, payload documents against their objects) and the configuration of
 * all pages together (adapters/backup/backup-configuration-check.ts checkConfiguration); a
 * missing manifest or object, a truncated or changed one, or hostile content is a BackupError
 * and nothing is written. Then page by page, each read and checked again: payload objects, then
 * the documents.
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
        foldProducts: false,
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
  // Pages written back may hold products that moved to newer pages since: one copy each.
  if (wanted.has('products')) await foldDuplicateProducts(db);
  logger.info({ id, documents: result.written, pages: pagesWritten }, 'scheduled backup restored');
  return result;
}
