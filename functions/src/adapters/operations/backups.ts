import type { DocumentData, Firestore } from 'firebase-admin/firestore';
import type { z } from 'zod';
import {
  ADMIN_ONLY_EXPORTS,
  type ExportableCollection,
  RESTORABLE_COLLECTIONS,
} from '../../core/backup/backup-scope';
import {
  type Actor,
  ApiError,
  type AuditRecord,
  auditFields,
  type ExportBackupResult,
  type exportBackupInput,
  failedPrecondition,
  hasRole,
  type ImportBackupResult,
  type importBackupInput,
  permissionDenied,
  type RelatedChange,
} from '../../core/operations';
import { documentLimitIssues } from '../../core/storage/firestore-limits';
import { utf8Length } from '../../core/storage/firestore-names';
import { documentSize } from '../../core/storage/firestore-storage-size';
import { isConfigurationPath } from '../backup/backup-configuration-check';
import { BackupTooLargeError, ExportDeadlineError } from '../backup/backup-export';
import {
  BackupImportError,
  type ImportResult,
  importBackup as importPrepared,
} from '../backup/backup-import';
import { deleteStoredBackup, exportBackupToStorage } from '../backup/backup-storage';
import { documentDigest, type PreparedWrite } from '../backup/backup-values';
import {
  type PageImportOptions,
  PayloadConflictError,
  RestoreDeadlineError,
  restoreScheduledBackup,
} from '../backup/scheduled-restore';
import { writeAudit } from './audit';
import type { OperationContext } from './context';

/** An export stops reading this long before the call's deadline, to clean up and answer. */
const EXPORT_DEADLINE_MARGIN_MS = 10_000;
/**
 * A scheduled restore starts no page this close to the call's deadline: a page (up to
 * `pageSize` documents, its payload objects, its audited batches) must finish before it.
 */
const RESTORE_DEADLINE_MARGIN_MS = 60_000;

/**
 * Configuration and state as one checksummed JSON file in Cloud Storage
 * (adapters/backup/backup-export.ts, backup-storage.ts), read a page at a time. Only the backed-up collections (the input schema
 * refuses any other); the audit log for admins only; at most MAX_BACKUP_DOCUMENTS documents.
 * Every export is audited: who took which collections to which object, with its checksum; an
 * export whose entry cannot be written is deleted.
 */
export async function exportBackup(
  ctx: OperationContext,
  input: z.output<typeof exportBackupInput>,
): Promise<ExportBackupResult> {
  const collections: ExportableCollection[] = input.collections ?? [...RESTORABLE_COLLECTIONS];
  const restricted = collections.filter((c) => ADMIN_ONLY_EXPORTS.includes(c));
  if (restricted.length > 0 && !hasRole(ctx.actor.role, 'admin')) {
    throw permissionDenied(`only admins may export ${restricted.join(', ')}`, {
      collections: restricted,
      required: 'admin',
    });
  }
  const storage = ctx.backups?.();
  if (!storage) throw failedPrecondition('no backup bucket is configured for exports');
  let stored: Awaited<ReturnType<typeof exportBackupToStorage>>;
  try {
    stored = await exportBackupToStorage(ctx.db, storage, {
      collections,
      projectId: ctx.projectId(),
      now: ctx.now,
      ...(ctx.deadlineMs === undefined
        ? {}
        : { deadlineMs: ctx.deadlineMs - EXPORT_DEADLINE_MARGIN_MS }),
    });
  } catch (error) {
    if (error instanceof BackupTooLargeError) {
      throw new ApiError('resource-exhausted', error.message, {
        collections: error.collections,
        maxDocuments: error.max,
      });
    }
    if (error instanceof ExportDeadlineError) {
      throw new ApiError(
        'deadline-exceeded',
        `${error.message}; export fewer collections at once`,
        {
          read: error.read,
          total: error.total,
        },
      );
    }
    throw error;
  }
  const location = { bucket: stored.bucket, path: stored.path };
  const summary = {
    ...location,
    sha256: stored.sha256,
    bytes: stored.bytes,
    checksum: stored.checksum,
    createdAt: stored.createdAt,
    collections: stored.collections,
    documents: stored.documents,
    byCollection: stored.byCollection,
  };
  const batch = ctx.db.batch();
  const auditId = writeAudit(ctx.db, batch, {
    who: ctx.actor,
    what: 'exportBackup',
    target: `gs://${stored.bucket}/${stored.path}`,
    before: null,
    after: summary,
    atMs: ctx.now(),
  });
  try {
    await batch.commit();
  } catch (error) {
    // No export without its entry.
    await deleteStoredBackup(storage, stored.path);
    throw error;
  }
  return { ...summary, auditId };
}

/** Bytes an import commit's audit entry may take: well within a document's 1 MiB. */
const AUDIT_ENTRY_BUDGET = 512 * 1024;
/** A configuration document larger than this is audited by digest only, not by value. */
const AUDITED_VALUE_BYTES = 64 * 1024;
/** What one listed document costs an entry besides its path: two digests, names, a flag. */
const LISTED_DOCUMENT_BYTES = 200;

/**
 * What a document adds to its commit's audit entry (see auditRecord): its path and digests,
 * and a configuration document's values, counted as twice what the restore writes (before and
 * after). A stored value larger than that can only make the entry fall back to digests.
 */
function auditWeight(write: PreparedWrite): number {
  let weight = utf8Length(write.path) + LISTED_DOCUMENT_BYTES;
  if (isConfigurationPath(write.path)) {
    const size = documentSize(write.path, write.data);
    if (size <= AUDITED_VALUE_BYTES) weight += 2 * size;
  }
  return weight;
}

export interface AuditedImportOptions extends Partial<PageImportOptions> {
  dryRun?: boolean;
  /** Hears how many documents will be written, once everything was checked. */
  onPrepared?: (documents: number) => void;
  /** Hears each batch's audit entry once its commit succeeded. */
  onAudit?: (auditId: string, documents: number) => void;
}

/**
 * A restore with one audit entry per batch, in the batch's commit: the backup it came from, and
 * for every document it set the digest of what was stored before (null: none) and of what it
 * wrote, with `changed`; configuration documents (providers, categories, config/*) also with
 * their values before and after, as `related` changes. The callable and the CLI both restore
 * through this.
 */
export async function importWithAudit(
  db: Firestore,
  who: { actor: Actor; now: () => number },
  backup: unknown,
  options: AuditedImportOptions = {},
): Promise<ImportResult & { auditIds: string[] }> {
  const auditIds: string[] = [];
  let pending: { id: string; documents: number } | undefined;
  const result = await importPrepared(db, backup, {
    dryRun: options.dryRun ?? false,
    ...(options.onPrepared ? { onPrepared: options.onPrepared } : {}),
    ...(options.collectedData === undefined ? {} : { collectedData: options.collectedData }),
    ...(options.checkConfiguration === undefined
      ? {}
      : { checkConfiguration: options.checkConfiguration }),
    ...(options.beforeWrite ? { beforeWrite: options.beforeWrite } : {}),
    ...(options.foldProducts === undefined ? {} : { foldProducts: options.foldProducts }),
    batchWeight: AUDIT_ENTRY_BUDGET,
    weight: auditWeight,
    beforeCommit: async (batch, writes, backup) => {
      const snapshots = await db.getAll(...writes.map((w) => w.ref));
      const before = new Map(
        snapshots.map((s) => [s.ref.path, s.exists ? (s.data() ?? {}) : undefined]),
      );
      const source = {
        checksum: backup.checksum,
        projectId: backup.projectId,
        createdAt: backup.createdAt,
        // A scheduled backup's id and page.
        ...options.source,
      };
      const record = auditRecord(who, source, writes, before);
      pending = { id: writeAudit(db, batch, record), documents: writes.length };
    },
    onCommitted: () => {
      if (!pending) return;
      auditIds.push(pending.id);
      options.onAudit?.(pending.id, pending.documents);
      pending = undefined;
    },
  });
  return { ...result, auditIds };
}

/** The entry of one import commit; digests only where values would not fit (see auditWeight). */
function auditRecord(
  who: { actor: Actor; now: () => number },
  source: { checksum: string; projectId: string; createdAt: string; scheduled?: string },
  writes: readonly PreparedWrite[],
  before: ReadonlyMap<string, DocumentData | undefined>,
): AuditRecord {
  const documents = writes.map((w) => {
    const stored = before.get(w.path);
    const digest = stored === undefined ? null : documentDigest(w.path, stored);
    return { path: w.path, before: digest, after: w.digest, changed: digest !== w.digest };
  });
  const related: RelatedChange[] = writes.flatMap((w) => {
    if (!isConfigurationPath(w.path)) return [];
    const stored = before.get(w.path);
    const small = (data: DocumentData | undefined) =>
      data === undefined || documentSize(w.path, data) <= AUDITED_VALUE_BYTES;
    if (!small(stored) || !small(w.data)) return [];
    return [{ path: w.path, before: stored ?? null, after: w.data }];
  });
  const record: AuditRecord = {
    who: who.actor,
    what: 'importBackup',
    target: source.scheduled
      ? `backups/scheduled/${source.scheduled}`
      : `backups/${source.checksum}`,
    before: null,
    after: { backup: source, documents },
    related,
    atMs: who.now(),
  };
  // Values nested in the entry sit three levels deeper than in their documents: one that would
  // be too deep (or too large) is kept as its digests only.
  if (documentLimitIssues('auditLog/entry', auditFields(record)).length > 0) {
    return { ...record, related: [] };
  }
  return record;
}

/**
 * Verifies the whole file, its documents and the configuration it would leave before writing
 * anything (a truncated, altered or hostile file is refused as invalid input, naming what is
 * wrong), then writes it; every batch carries its audit entry. A batch that still fails is
 * `aborted` with the count written (importing the same file again finishes it).
 *
 * A scheduled backup (adapters/backup/scheduled-restore.ts restoreScheduledBackup, which lists what a
 * restore reverts and refuses) starts no page within RESTORE_DEADLINE_MARGIN_MS of the call's
 * deadline: `deadline-exceeded` with the pages written and `fromPage` to call again with.
 */
export async function importBackup(
  ctx: OperationContext,
  input: z.output<typeof importBackupInput>,
): Promise<ImportBackupResult> {
  let result: Omit<ImportResult, 'batches'> & { auditIds: string[] };
  try {
    if (input.scheduled !== undefined) {
      const storage = ctx.backups?.();
      if (!storage) throw failedPrecondition('no backup bucket is configured for restores');
      result = await restoreScheduledBackup(
        ctx.db,
        storage,
        input.project ?? ctx.projectId(),
        input.scheduled,
        {
          dryRun: input.dryRun ?? false,
          importPage: (bytes, options) => importWithAudit(ctx.db, ctx, bytes, options),
          now: ctx.now,
          ...(input.collections ? { collections: input.collections } : {}),
          ...(input.fromPage === undefined ? {} : { fromPage: input.fromPage }),
          ...(ctx.deadlineMs === undefined
            ? {}
            : { deadlineMs: ctx.deadlineMs - RESTORE_DEADLINE_MARGIN_MS }),
        },
      );
    } else {
      result = await importWithAudit(ctx.db, ctx, input.backup, { dryRun: input.dryRun });
    }
  } catch (error) {
    if (error instanceof RestoreDeadlineError) {
      throw new ApiError('deadline-exceeded', error.message, {
        written: error.written,
        pagesWritten: error.pagesWritten,
        fromPage: error.nextPage,
        pages: error.pages,
      });
    }
    if (error instanceof PayloadConflictError) {
      throw new ApiError('failed-precondition', error.message, {
        written: error.written,
        total: error.total,
        payloads: error.payloads.slice(0, 100).map((p) => p.payload),
      });
    }
    if (!(error instanceof BackupImportError)) throw error;
    throw new ApiError(
      'aborted',
      `${error.message} (the earlier batches are written, each with its audit entry; importing the same file again finishes the restore)`,
      { written: error.written, total: error.total },
    );
  }
  return {
    dryRun: result.dryRun,
    projectId: result.projectId,
    createdAt: result.createdAt,
    checksum: result.checksum,
    documents: result.documents,
    byCollection: result.byCollection,
    written: result.written,
    auditId: result.auditIds[0] ?? null,
    auditIds: result.auditIds,
  };
}
