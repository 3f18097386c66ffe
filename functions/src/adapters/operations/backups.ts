import type { z } from 'zod';
import type {
  ExportBackupResult,
  exportBackupInput,
  ImportBackupResult,
  importBackupInput,
} from '../../core/api';
import { serializeBackup } from '../../core/backup';
import { exportBackup as readBackup, importBackup as writeBackup } from '../backup';
import { AUDITED_BATCH_WRITES, auditedFirestore } from './audit';
import type { OperationContext } from './context';

/** Bytes of document paths one import commit's audit entry lists, well within 1 MiB. */
const AUDITED_PATH_BYTES = 512 * 1024;

/** Configuration and state as one checksummed JSON file (see adapters/backup.ts). */
export async function exportBackup(
  ctx: OperationContext,
  input: z.output<typeof exportBackupInput>,
): Promise<ExportBackupResult> {
  const file = await readBackup(ctx.db, {
    collections: input.collections,
    projectId: ctx.projectId(),
    now: ctx.now,
  });
  return {
    backup: serializeBackup(file),
    checksum: file.checksum,
    createdAt: file.createdAt,
    documents: Object.keys(file.documents).length,
  };
}

/**
 * Verifies the whole file before writing anything (a truncated or altered file is refused as
 * invalid input, naming what is wrong), then writes it; every batch carries its audit entry.
 */
export async function importBackup(
  ctx: OperationContext,
  input: z.output<typeof importBackupInput>,
): Promise<ImportBackupResult> {
  const auditIds: string[] = [];
  const db = auditedFirestore(ctx.db, {
    actor: ctx.actor,
    what: 'importBackup',
    now: ctx.now,
    describe: (writes) => ({
      target: 'backup',
      before: null,
      after: { documents: writes.map((w) => w.path) },
    }),
    onAudit: (id) => auditIds.push(id),
  });
  const result = await writeBackup(db, input.backup, {
    dryRun: input.dryRun,
    batchSize: AUDITED_BATCH_WRITES,
    // Each entry lists its commit's paths: long ids (up to 1,500 bytes each) make fewer per
    // commit rather than an entry over Firestore's 1 MiB.
    batchPathBytes: AUDITED_PATH_BYTES,
  });
  return {
    dryRun: result.dryRun,
    projectId: result.projectId,
    createdAt: result.createdAt,
    checksum: result.checksum,
    documents: result.documents,
    byCollection: result.byCollection,
    written: result.written,
    auditId: auditIds[0] ?? null,
  };
}
