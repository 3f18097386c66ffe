import {
  type CollectionReference,
  type DocumentData,
  DocumentReference,
  FieldValue,
  type Firestore,
  GeoPoint,
  Timestamp,
} from 'firebase-admin/firestore';
import { AUDIT_LOG_COLLECTION } from '../core/api/audit';
import type { Audited, ImportBackupResult } from '../core/api/results';
import {
  BackupError,
  type BackupFile,
  BackupGeoPoint,
  type BackupMap,
  BackupReference,
  BackupTimestamp,
  type BackupValue,
  BackupVector,
  createBackup,
  topLevelCollection,
  verifyBackup,
} from '../core/backup';
import { mapLimit } from '../core/map-limit';
import { logger } from '../log';
import { AUTOSYNC_COLLECTION } from './autosync';
import { commitInBatches } from './batch-writes';
import { COLLECTIONS_PATH } from './collections-repository';
import { CONFIG_PATHS } from './config-repository';
import { projectId as envProjectId } from './firebase';
import { INGEST_COLLECTION } from './ingest';
import { firestoreOps } from './metrics';
import { QUOTA_COLLECTIONS } from './quota/collections';
import { MAX_BATCH_WRITES } from './write-buffer';

/**
 * What a backup holds by default: configuration and the state that would be costly or
 * impossible to rebuild (collection progress, cooldowns, allocations, auto-sync watermarks,
 * ingest queues with their items, the audit log). Left out: short-lived quota claims and
 * slots, per-minute statistics, write-batch markers, payloads and collected data (products),
 * which are either rebuilt on their own or too large for one file.
 */
export const BACKUP_COLLECTIONS: readonly string[] = [
  CONFIG_PATHS.providers,
  CONFIG_PATHS.categories,
  topLevelCollection(CONFIG_PATHS.flags), // config/flags, config/pipeline, ...
  COLLECTIONS_PATH,
  QUOTA_COLLECTIONS.cooldowns,
  QUOTA_COLLECTIONS.cooldownHistory,
  QUOTA_COLLECTIONS.allocations,
  AUTOSYNC_COLLECTION,
  INGEST_COLLECTION,
  AUDIT_LOG_COLLECTION,
];

/** Subcollections never backed up: leases belong to running work and expire on their own. */
export const SKIPPED_SUBCOLLECTIONS: readonly string[] = ['lease'];

/** Firestore's limit on writes per commit. */
/** Documents listed for subcollections at once. */
const LIST_CONCURRENCY = 16;

// ---- Admin SDK values <-> the backup's value model ------------------------------------------

function isVector(value: object): value is { toArray(): number[] } {
  return (
    value.constructor?.name === 'VectorValue' &&
    typeof (value as { toArray?: unknown }).toArray === 'function'
  );
}

function fromFirestore(value: unknown, where: string): BackupValue {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return value;
  if (value instanceof Timestamp) return new BackupTimestamp(value.seconds, value.nanoseconds);
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (value instanceof GeoPoint) return new BackupGeoPoint(value.latitude, value.longitude);
  if (value instanceof DocumentReference) return new BackupReference(value.path);
  if (Array.isArray(value)) return value.map((v, i) => fromFirestore(v, `${where}[${i}]`));
  if (typeof value === 'object') {
    if (isVector(value)) return new BackupVector(value.toArray());
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) {
      return fromFirestoreMap(value as DocumentData, where);
    }
  }
  throw new TypeError(`${where}: a value of an unsupported type (${String(value)})`);
}

function fromFirestoreMap(data: DocumentData, where: string): BackupMap {
  const out: BackupMap = {};
  for (const [key, v] of Object.entries(data)) {
    Object.defineProperty(out, key, {
      value: fromFirestore(v, `${where}.${key}`),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

function toFirestore(db: Firestore, value: BackupValue): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Uint8Array) return Buffer.from(value);
  if (value instanceof BackupTimestamp) return new Timestamp(value.seconds, value.nanoseconds);
  if (value instanceof BackupGeoPoint) return new GeoPoint(value.latitude, value.longitude);
  if (value instanceof BackupReference) return db.doc(value.path);
  if (value instanceof BackupVector) return FieldValue.vector([...value.values]);
  if (Array.isArray(value)) return value.map((v) => toFirestore(db, v));
  return toFirestoreMap(db, value);
}

function toFirestoreMap(db: Firestore, data: BackupMap): DocumentData {
  const out: DocumentData = {};
  for (const [key, v] of Object.entries(data)) {
    Object.defineProperty(out, key, {
      value: toFirestore(db, v),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

// ---- Export --------------------------------------------------------------------------------

export interface ExportOptions {
  /** Top-level collections to back up (default BACKUP_COLLECTIONS). */
  collections?: readonly string[];
  /** Recorded in the file (default the Firestore's project). */
  projectId?: string;
  now?: () => number;
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
 * Reads the given top-level collections with every document's subcollections (one level down,
 * e.g. `ingest/{collection}/items`; leases left out) into a backup. Documents that exist only
 * as parents of a subcollection are not documents and are not in the file; their
 * subcollections are. The reads are not one snapshot: for a consistent backup, stop the
 * pipeline first (config/flags maintenance).
 */
export async function exportBackup(
  db: Firestore,
  options: ExportOptions = {},
): Promise<BackupFile> {
  const collections = options.collections ?? BACKUP_COLLECTIONS;
  const documents: Record<string, BackupMap> = {};
  let reads = 0;
  const add = (path: string, data: DocumentData) => {
    documents[path] = fromFirestoreMap(data, path);
  };
  for (const name of collections) {
    const collection = db.collection(name);
    const [snapshot, refs] = await Promise.all([collection.get(), collection.listDocuments()]);
    reads += Math.max(1, snapshot.size) + Math.max(1, refs.length);
    for (const doc of snapshot.docs) add(doc.ref.path, doc.data());
    const subcollections = await mapLimit(refs, LIST_CONCURRENCY, (ref) => ref.listCollections());
    reads += refs.length;
    const wanted: CollectionReference[] = subcollections
      .flat()
      .filter((sub) => !SKIPPED_SUBCOLLECTIONS.includes(sub.id));
    const snapshots = await mapLimit(wanted, LIST_CONCURRENCY, (sub) => sub.get());
    for (const sub of snapshots) {
      reads += Math.max(1, sub.size);
      for (const doc of sub.docs) add(doc.ref.path, doc.data());
    }
  }
  firestoreOps.inc({ op: 'read' }, reads);
  const backup = createBackup({
    createdAt: (options.now ?? Date.now)(),
    projectId: options.projectId ?? firestoreProjectId(db) ?? envProjectId(),
    documents,
  });
  logger.info({ documents: Object.keys(documents).length, collections }, 'backup exported');
  return backup;
}

// ---- Import --------------------------------------------------------------------------------

export interface ImportOptions {
  /** Verify and count only; write nothing. */
  dryRun?: boolean;
  /** Writes per batch commit (at most 500). */
  batchSize?: number;
  /** Most bytes of document paths per batch (when each commit's audit entry lists them). */
  batchPathBytes?: number;
}

/** What importBackup answers, before its audit entry; and the write batches it took. */
export interface ImportResult extends Omit<ImportBackupResult, keyof Audited> {
  batches: number;
}

/** A verified backup whose writing stopped part way; importing it again is safe (sets only). */
export class BackupImportError extends Error {
  constructor(
    readonly written: number,
    readonly total: number,
    options: { cause: unknown },
  ) {
    super(
      `backup import stopped after ${written} of ${total} documents: ${(options.cause as Error)?.message}`,
      options,
    );
    this.name = 'BackupImportError';
  }
}

/**
 * Restores a backup (text, bytes or a parsed object). Everything is verified first (shape,
 * checksum, every value and path, Firestore's limits on ids, names, field paths and document
 * sizes, and the conversion to Firestore values); if anything is wrong a BackupError is thrown
 * naming each document and field, and nothing is written. Then every document is set
 * (overwritten) in batch commits of up to 500; documents not in the backup are left alone.
 * Batches commit one after another, so a failure part way leaves the earlier ones written
 * (BackupImportError says how many); running the import again finishes it.
 */
export async function importBackup(
  db: Firestore,
  backup: unknown,
  options: ImportOptions = {},
): Promise<ImportResult> {
  const verified = verifyBackup(backup);
  const writes: Array<{ ref: DocumentReference; data: DocumentData }> = [];
  for (const [path, data] of Object.entries(verified.documents)) {
    try {
      writes.push({ ref: db.doc(path), data: toFirestoreMap(db, data) });
    } catch (error) {
      throw new BackupError('shape', `documents["${path}"]: ${(error as Error).message}`);
    }
  }
  const batchSize = Math.min(MAX_BATCH_WRITES, Math.max(1, options.batchSize ?? MAX_BATCH_WRITES));
  const result: ImportResult = {
    dryRun: options.dryRun ?? false,
    projectId: verified.projectId,
    createdAt: verified.createdAt,
    checksum: verified.checksum,
    documents: writes.length,
    byCollection: verified.counts,
    written: 0,
    batches: 0,
  };
  if (result.dryRun) return result;
  try {
    await commitInBatches(db, writes, {
      size: batchSize,
      ...(options.batchPathBytes ? { maxPathBytes: options.batchPathBytes } : {}),
      onCommitted: (count) => {
        result.written += count;
        result.batches++;
        firestoreOps.inc({ op: 'write' }, count);
      },
    });
  } catch (error) {
    throw new BackupImportError(result.written, writes.length, { cause: error });
  }
  logger.info(
    { documents: result.written, from: result.projectId, createdAt: result.createdAt },
    'backup imported',
  );
  return result;
}
