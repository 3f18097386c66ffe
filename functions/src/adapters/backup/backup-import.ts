import type { Firestore, WriteBatch } from 'firebase-admin/firestore';
import { documentChecksum } from '../../core/backup/backup-create';
import { BackupError, type VerifiedBackup } from '../../core/backup/backup-file';
import { restorablePathProblem } from '../../core/backup/backup-scope';
import { verifyBackup } from '../../core/backup/backup-verify';
import type { ImportBackupResult } from '../../core/operations/results';
import { planBatches } from '../../core/storage/batch-plan';
import { utf8Length } from '../../core/storage/firestore-names';
import { logger } from '../../log';
import { foldDuplicateProducts } from '../pipeline/product-fold';
import { commitCapacity } from '../storage/batch-writes';
import { paceFirestoreWork } from '../storage/self-quota-runtime';
import { checkConfiguration, where } from './backup-configuration-check';
import { type PreparedWrite, toFirestoreMap } from './backup-values';

/**
 * Importing (restoring) a backup file: everything checked first (prepareImport), then every
 * document set in batch commits (importBackup).
 */

// ---- Import --------------------------------------------------------------------------------

/** A backup checked against everything a restore could fail on, ready to write. */
export interface PreparedImport {
  verified: VerifiedBackup;
  writes: PreparedWrite[];
}

/**
 * Checks a backup for everything a restore could fail on, before anything is written: shape,
 * checksum, every value and path, Firestore's limits (ids, names, field paths, nesting depth,
 * document sizes), only documents a restore writes (never the audit log, quota claims or
 * collected data: core/backup/backup-scope.ts), what the Admin SDK itself would refuse, every
 * configuration document against its schema and the merged configuration against the rules
 * between documents. A BackupError names each document and field; nothing is written.
 */
export async function prepareImport(
  db: Firestore,
  backup: unknown,
  options: PrepareOptions = {},
): Promise<PreparedImport> {
  const verified = verifyBackup(backup);
  const scope: string[] = [];
  for (const path of Object.keys(verified.documents)) {
    const problem = restorablePathProblem(path, { collectedData: options.collectedData ?? false });
    if (problem) scope.push(`${where(path)}: ${problem}`);
  }
  if (scope.length > 0) {
    throw new BackupError(
      'scope',
      `${scope.length} document(s) a restore never writes: ${scope.slice(0, 5).join('; ')}`,
      scope,
    );
  }
  const writes: PreparedWrite[] = [];
  const issues: string[] = [];
  // The Admin SDK validates a write when it is added to a batch (depth, cycles, values): a
  // batch that is never committed finds what it would refuse part way through the restore.
  const probe = db.batch();
  for (const [path, value] of Object.entries(verified.documents)) {
    try {
      const ref = db.doc(path);
      const data = toFirestoreMap(db, value);
      probe.set(ref, data);
      writes.push({ path, ref, data, value, digest: documentChecksum(path, value) });
    } catch (error) {
      issues.push(`${where(path)}: ${(error as Error).message}`);
    }
  }
  if (issues.length > 0) {
    throw new BackupError(
      'shape',
      `${issues.length} invalid document(s): ${issues.slice(0, 5).join('; ')}`,
      issues,
    );
  }
  if (options.checkConfiguration ?? true) await checkConfiguration(db, writes);
  return { verified, writes };
}

export interface PrepareOptions {
  /**
   * Collected data (products, sales, payloads) may be restored too: a page of a scheduled
   * backup (scheduled-restore.ts). Default: configuration and state only.
   */
  collectedData?: boolean;
  /**
   * Checks the configuration the file would leave (default). False only where the caller
   * checked the configuration of every file of the restore together (checkConfiguration):
   * a scheduled backup's pages, whose categories and providers are on different pages.
   */
  checkConfiguration?: boolean;
}

export interface ImportOptions extends PrepareOptions {
  /** Verify and count only; write nothing. */
  dryRun?: boolean;
  /**
   * After products were written, fold products stored twice (default true; a restore of many
   * pages folds once, after its last).
   */
  foldProducts?: boolean;
  /** Writes per batch commit (at most what the Firestore's commits hold). */
  batchSize?: number;
  /** With `weight`, the most a batch's writes may weigh (an audit entry that lists them). */
  batchWeight?: number;
  weight?: (write: PreparedWrite) => number;
  /** Adds to each batch before it commits (its audit entry); the batch holds `writes`. */
  beforeCommit?: (
    batch: WriteBatch,
    writes: readonly PreparedWrite[],
    backup: VerifiedBackup,
  ) => Promise<void> | void;
  /** Hears each batch that committed. */
  onCommitted?: (writes: readonly PreparedWrite[]) => void;
  /** Hears how many documents will be written, once everything was checked. */
  onPrepared?: (documents: number) => void;
  /**
   * Runs once everything was checked, before the first batch (not on a dry run), and answers
   * the writes to make: a scheduled backup's payloads restore their objects here and point
   * their documents at the objects' new generations.
   */
  beforeWrite?: (writes: PreparedWrite[]) => Promise<PreparedWrite[]>;
}

/** What importBackup answers, before its audit entry; and the write batches it took. */
export interface ImportResult extends Omit<ImportBackupResult, 'auditId' | 'auditIds'> {
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
 * Restores a backup (text, bytes or a parsed object). Everything is checked first
 * (prepareImport); if anything is wrong a BackupError names each document and field and nothing
 * is written. Then every document is set (overwritten) in batch commits; documents not in the
 * backup are left alone. Batches commit one after another, so a failure part way leaves the
 * earlier ones written (BackupImportError says how many); running the import again finishes it.
 */
export async function importBackup(
  db: Firestore,
  backup: unknown,
  options: ImportOptions = {},
): Promise<ImportResult> {
  const prepared = await prepareImport(db, backup, options);
  const { verified } = prepared;
  let { writes } = prepared;
  const capacity = commitCapacity(db) - (options.beforeCommit ? 1 : 0);
  const batchSize = Math.min(capacity, Math.max(1, options.batchSize ?? capacity));
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
  if (options.beforeWrite) writes = await options.beforeWrite(writes);
  options.onPrepared?.(writes.length);
  const chunks = planBatches(
    writes,
    batchSize,
    options.batchWeight ?? Number.POSITIVE_INFINITY,
    options.weight ?? ((w) => utf8Length(w.path) + 1),
  );
  try {
    for (const chunk of chunks) {
      const batch = db.batch();
      for (const { ref, data } of chunk) batch.set(ref, data);
      await options.beforeCommit?.(batch, chunk, verified);
      // A restore is heavy work: it slows near Firestore's quota (adapters/storage/self-quota-runtime.ts).
      await paceFirestoreWork(db, 'backup');
      await batch.commit();
      result.written += chunk.length;
      result.batches++;
      options.onCommitted?.(chunk);
    }
  } catch (error) {
    throw new BackupImportError(result.written, writes.length, { cause: error });
  }
  logger.info(
    { documents: result.written, from: result.projectId, createdAt: result.createdAt },
    'backup imported',
  );
  // Pages written back may hold products that moved to newer pages since: one copy each.
  if (options.foldProducts !== false && (verified.counts.products ?? 0) > 0) {
    await foldDuplicateProducts(db);
  }
  return result;
}
