import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Firestore, Query, QueryDocumentSnapshot } from 'firebase-admin/firestore';
import { BackupBuilder, createBackup } from '../../core/backup/backup-create';
import { type BackupFile, topLevelCollection } from '../../core/backup/backup-file';
import {
  exportablePath,
  MAX_BACKUP_DOCUMENTS,
  RESTORABLE_COLLECTIONS,
  RESTORABLE_SUBCOLLECTIONS,
} from '../../core/backup/backup-scope';
import type { BackupMap } from '../../core/backup/backup-value-model';
import { mapLimit } from '../../core/map-limit';
import { logger } from '../../log';
import { projectId as envProjectId } from '../firebase';
import { paceFirestoreWork } from '../storage/self-quota-runtime';
import { fromFirestoreMap } from './backup-values';
import { digestStream } from './digest-stream';

/**
 * Exporting a backup: the paths of the documents it holds, listed a page of names at a time,
 * then the documents read a page at a time, into a backup held in memory (exportBackup) or
 * streamed to a target through a spool (streamBackup).
 */

/**
 * What a backup holds by default, and all a restore writes: configuration and the state that
 * would be costly or impossible to rebuild (collection progress, cooldowns, allocations,
 * auto-sync watermarks, ingest queues with their items). core/backup/backup-scope.ts says why the
 * rest is left out; the audit log is exported only when an admin asks for it, and never
 * restored.
 */
export const BACKUP_COLLECTIONS: readonly string[] = RESTORABLE_COLLECTIONS;

/** Documents listed or read at once. */
const LIST_CONCURRENCY = 16;
const LIST_PAGE = 1000;
/** Documents read per getAll while exporting: a page of documents is all an export holds. */
const READ_PAGE = 100;

// ---- Export: listing and paged reads --------------------------------------------------------

export interface ExportOptions {
  /** Top-level collections to back up (default BACKUP_COLLECTIONS). */
  collections?: readonly string[];
  /** Recorded in the file (default the Firestore's project). */
  projectId?: string;
  now?: () => number;
  /** More documents than this are refused before any is read (default MAX_BACKUP_DOCUMENTS). */
  maxDocuments?: number;
  /** No page is read after this instant (on `now`): ExportDeadlineError. */
  deadlineMs?: number;
  /** Hears the documents found (once listed) and each page read. */
  onListed?: (documents: number) => void;
  onPage?: (documents: number) => void;
}

/** The export would read more documents than one export may. Nothing was read or written. */
export class BackupTooLargeError extends Error {
  constructor(
    readonly collections: readonly string[],
    readonly max: number,
  ) {
    super(
      `the backup of ${collections.join(', ')} holds more than ${max.toLocaleString('en-US')} documents; export fewer collections at once`,
    );
    this.name = 'BackupTooLargeError';
  }
}

/** The export ran out of time before it read everything; nothing was kept. */
export class ExportDeadlineError extends Error {
  constructor(
    readonly read: number,
    readonly total: number,
  ) {
    super(`the export ran out of time after reading ${read} of ${total} documents`);
    this.name = 'ExportDeadlineError';
  }
}

function firestoreProjectId(db: Firestore): string | undefined {
  try {
    // Not in the public typings, but set on every initialized Firestore.
    const id = (db as unknown as { projectId?: unknown }).projectId;
    return typeof id === 'string' && id !== '' ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Ids of a collection's documents, a page at a time (names only, no data). A query without an
 * order runs in document-name order, which the cursor continues (no index involved).
 */
async function pagedPaths(query: Query, into: string[], max: number, fail: () => Error) {
  let page = query.select().limit(LIST_PAGE);
  for (;;) {
    const snapshot = await page.get();
    for (const doc of snapshot.docs) into.push(doc.ref.path);
    if (into.length > max) throw fail();
    if (snapshot.size < LIST_PAGE) break;
    page = page.startAfter(snapshot.docs.at(-1) as QueryDocumentSnapshot);
  }
}

/**
 * The paths of every document an export of `collections` holds, sorted in code-unit order (the
 * file's order): each collection's documents, a page of names at a time, and one level of the
 * subcollections a restore writes (`ingest/{id}/items`, also under parents that are not
 * documents themselves); leases and anything else a restore would refuse are left out, so an
 * export always imports. Only paths are held: at most `max` of them.
 */
export async function listBackupPaths(
  db: Firestore,
  collections: readonly string[],
  max = MAX_BACKUP_DOCUMENTS,
): Promise<string[]> {
  const paths: string[] = [];
  const fail = () => new BackupTooLargeError(collections, max);
  for (const name of new Set(collections)) {
    await pagedPaths(db.collection(name), paths, max, fail);
    const subcollections = RESTORABLE_SUBCOLLECTIONS[name] ?? [];
    if (subcollections.length === 0) continue;
    // Parents without a document of their own still have their subcollections listed.
    const parents = await db.collection(name).listDocuments();
    for (const sub of subcollections) {
      const found = await mapLimit(parents, LIST_CONCURRENCY, async (parent) => {
        const own: string[] = [];
        await pagedPaths(parent.collection(sub), own, max, fail);
        return own;
      });
      for (const own of found) {
        for (const path of own) paths.push(path);
        if (paths.length > max) throw fail();
      }
    }
  }
  return paths.filter(exportablePath).sort();
}

/** The documents at `paths` (sorted), a page at a time; documents gone since are skipped. */
async function* readPages(
  db: Firestore,
  paths: readonly string[],
  options: ExportOptions,
): AsyncGenerator<Array<{ path: string; data: BackupMap }>> {
  const now = options.now ?? Date.now;
  for (let i = 0; i < paths.length; i += READ_PAGE) {
    if (options.deadlineMs !== undefined && now() > options.deadlineMs) {
      throw new ExportDeadlineError(i, paths.length);
    }
    await paceFirestoreWork(db, 'backup');
    const refs = paths.slice(i, i + READ_PAGE).map((path) => db.doc(path));
    const snapshots = await db.getAll(...refs);
    yield snapshots.flatMap((snapshot) =>
      snapshot.exists
        ? [{ path: snapshot.ref.path, data: fromFirestoreMap(snapshot.data()!, snapshot.ref.path) }]
        : [],
    );
    options.onPage?.(refs.length);
  }
}

/**
 * Reads the given top-level collections (see listBackupPaths) into a backup held in memory:
 * for tests and small exports. The reads are not one snapshot: for a consistent backup, stop
 * the pipeline first (config/flags maintenance). Exports of a whole project go through
 * streamBackup, which holds one page of documents at a time.
 */
export async function exportBackup(
  db: Firestore,
  options: ExportOptions = {},
): Promise<BackupFile> {
  const collections = options.collections ?? BACKUP_COLLECTIONS;
  const paths = await listBackupPaths(db, collections, options.maxDocuments);
  options.onListed?.(paths.length);
  const documents: Record<string, BackupMap> = {};
  for await (const page of readPages(db, paths, options)) {
    for (const { path, data } of page) documents[path] = data;
  }
  const backup = createBackup({
    createdAt: (options.now ?? Date.now)(),
    projectId: options.projectId ?? firestoreProjectId(db) ?? envProjectId(),
    documents,
  });
  logger.info({ documents: Object.keys(documents).length, collections }, 'backup exported');
  return backup;
}

// ---- Export: streamed ----------------------------------------------------------------------

/**
 * Where a streamed backup goes. The file starts with its checksum, which is known only once
 * every document has been read, so the documents' text goes to a spool first (a temporary
 * object or file), and the file is then written as its head, the spool's text and its tail.
 */
export interface BackupTarget {
  /** Opens the spool for writing. */
  openSpool(): Writable | Promise<Writable>;
  /** Reads the spool back. */
  readSpool(): Readable;
  /** Opens the backup file for writing (named after its checksum, if the target likes). */
  openFile(checksum: string, createdAt: string): Writable | Promise<Writable>;
  /** Removes the spool; after a failure, also whatever was written of the file. */
  cleanup(failed: boolean): Promise<void>;
}

export interface StreamedBackup {
  checksum: string;
  createdAt: string;
  projectId: string;
  collections: string[];
  documents: number;
  byCollection: Record<string, number>;
  /** The file's size and the SHA-256 (hex) of its bytes. */
  bytes: number;
  sha256: string;
}

/**
 * An export of `collections` written to `target` a page at a time: the same file (byte for
 * byte) as serializeBackup(exportBackup(...)), holding in memory only the documents' paths and
 * one page of documents. Errors remove the spool and the partial file.
 */
export async function streamBackup(
  db: Firestore,
  target: BackupTarget,
  options: ExportOptions = {},
): Promise<StreamedBackup> {
  const collections = [...new Set(options.collections ?? BACKUP_COLLECTIONS)];
  const now = options.now ?? Date.now;
  const builder = new BackupBuilder({
    createdAt: now(),
    projectId: options.projectId ?? firestoreProjectId(db) ?? envProjectId(),
  });
  const byCollection: Record<string, number> = {};
  let failed = true;
  try {
    const paths = await listBackupPaths(db, collections, options.maxDocuments);
    options.onListed?.(paths.length);
    async function* documents() {
      for await (const page of readPages(db, paths, options)) {
        let text = '';
        for (const { path, data } of page) {
          const collection = topLevelCollection(path);
          byCollection[collection] = (byCollection[collection] ?? 0) + 1;
          text += builder.document(path, data);
        }
        if (text) yield Buffer.from(text, 'utf8');
      }
    }
    await pipeline(Readable.from(documents()), await target.openSpool());
    const { checksum, head, tail } = builder.finish();
    const measure = digestStream();
    async function* file() {
      yield Buffer.from(head, 'utf8');
      for await (const chunk of target.readSpool()) yield chunk as Buffer;
      yield Buffer.from(tail, 'utf8');
    }
    await pipeline(
      Readable.from(file()),
      measure.stream,
      await target.openFile(checksum, builder.createdAt),
    );
    const { bytes, sha256 } = measure.digest();
    failed = false;
    logger.info({ documents: builder.documents, collections, bytes }, 'backup exported');
    return {
      checksum,
      createdAt: builder.createdAt,
      projectId: builder.projectId,
      collections,
      documents: builder.documents,
      byCollection,
      bytes,
      sha256,
    };
  } finally {
    await target.cleanup(failed).catch((error: unknown) => {
      logger.warn({ err: error }, 'backup spool clean-up failed');
    });
  }
}
