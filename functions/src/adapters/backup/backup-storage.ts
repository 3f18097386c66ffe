import { randomBytes } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import type { Firestore } from 'firebase-admin/firestore';
import { getStorage } from 'firebase-admin/storage';
import { DEFAULT_PAYLOAD_CONFIG, payloadBucketName } from '../../core/storage/payloads';
import { logger } from '../../log';
import { projectId } from '../firebase';
import type { Bucket } from '../storage/payload-store-types';
import {
  type BackupTarget,
  type ExportOptions,
  type StreamedBackup,
  streamBackup,
} from './backup-export';

/**
 * Backups in Cloud Storage: an export writes its file to `{prefix}{createdAt}-{checksum}.json`
 * in the payload bucket (or TOLLGATE_BACKUP_BUCKET), spooling the documents' text under the
 * payloads' temporary prefix while the checksum is computed (an orphaned spool goes with the
 * daily clean-up of temporary payloads).
 */

export const DEFAULT_BACKUP_PREFIX = 'backups/';
const FOLDER = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*\/$/;

export interface BackupStorage {
  bucket: Bucket;
  /** Where backup files are named (`backups/`). */
  prefix: string;
  /** Where spools are named: the payloads' temporary prefix, which the clean-up empties. */
  spoolPrefix: string;
  /**
   * The payload bucket, whose objects scheduled backups copy (scheduled-backup.ts) and restore
   * (scheduled-restore-objects.ts).
   * Absent, a scheduled backup leaves out payloads in Cloud Storage and a restore refuses them.
   */
  payloads?: Bucket;
}

/** A backup file written to Cloud Storage. */
export interface StoredBackup extends StreamedBackup {
  bucket: string;
  path: string;
}

/** TOLLGATE_BACKUP_PREFIX, checked: a folder outside the payloads' own prefixes. */
export function backupPrefix(configured: string | undefined): string {
  const prefix = configured?.trim() || DEFAULT_BACKUP_PREFIX;
  const { objectPrefix, temporaryPrefix } = DEFAULT_PAYLOAD_CONFIG;
  if (
    !FOLDER.test(prefix) ||
    prefix.startsWith(temporaryPrefix) ||
    prefix.startsWith(objectPrefix) ||
    temporaryPrefix.startsWith(prefix) ||
    objectPrefix.startsWith(prefix)
  ) {
    throw new Error(
      `TOLLGATE_BACKUP_PREFIX "${prefix}" must be a folder such as "backups/", apart from the payloads' "${objectPrefix}" and "${temporaryPrefix}"`,
    );
  }
  return prefix;
}

/** The instance's backup bucket: TOLLGATE_BACKUP_BUCKET, else the payload bucket. */
export function instanceBackupStorage(): BackupStorage {
  const storage = getStorage();
  const bucketNamed = (configured: string | undefined) =>
    storage.bucket(
      payloadBucketName({
        configured,
        appDefault: storage.app.options.storageBucket,
        project: projectId(),
      }),
    );
  return {
    bucket: bucketNamed(process.env.TOLLGATE_BACKUP_BUCKET || process.env.TOLLGATE_PAYLOAD_BUCKET),
    prefix: backupPrefix(process.env.TOLLGATE_BACKUP_PREFIX),
    spoolPrefix: DEFAULT_PAYLOAD_CONFIG.temporaryPrefix,
    payloads: bucketNamed(process.env.TOLLGATE_PAYLOAD_BUCKET),
  };
}

/** `2026-01-10T06:30:00.000Z` -> `20260110T063000000Z`: sortable, no characters to escape. */
function compactTime(iso: string): string {
  return iso.replace(/[-:.]/g, '');
}

export function httpStatus(error: unknown): number | undefined {
  const e = error as { code?: unknown; response?: { status?: unknown } };
  for (const v of [e?.code, e?.response?.status]) if (typeof v === 'number') return v;
  return undefined;
}

/** Deletes an object; one already gone is fine. */
export async function deleteQuietly(file: ReturnType<Bucket['file']>): Promise<void> {
  try {
    await file.delete();
  } catch (error) {
    if (httpStatus(error) !== 404) throw error;
  }
}

/**
 * Exports to an object of `storage` (see streamBackup): created only if absent, never
 * overwritten; on failure, the spool and any partial object are removed.
 */
export async function exportBackupToStorage(
  db: Firestore,
  storage: BackupStorage,
  options: ExportOptions,
): Promise<StoredBackup> {
  const id = randomBytes(6).toString('hex');
  const spool = storage.bucket.file(`${storage.spoolPrefix}backup-spool-${id}`);
  let file: ReturnType<Bucket['file']> | undefined;
  const upload = (checksum: string | undefined) => ({
    resumable: false,
    contentType: 'application/json',
    metadata: checksum ? { metadata: { backupChecksum: checksum } } : {},
    preconditionOpts: { ifGenerationMatch: 0 },
  });
  const target: BackupTarget = {
    openSpool: (): Writable => spool.createWriteStream(upload(undefined)),
    readSpool: (): Readable => spool.createReadStream(),
    openFile: (checksum, createdAt): Writable => {
      const hex = checksum.replace(/^sha256:/, '').slice(0, 16);
      file = storage.bucket.file(`${storage.prefix}${compactTime(createdAt)}-${hex}-${id}.json`);
      return file.createWriteStream(upload(checksum));
    },
    cleanup: async (failed) => {
      await deleteQuietly(spool).catch((error: unknown) =>
        logger.warn({ err: error, object: spool.name }, 'backup spool left behind'),
      );
      if (failed && file) await deleteQuietly(file);
    },
  };
  const streamed = await streamBackup(db, target, options);
  return { ...streamed, bucket: storage.bucket.name, path: file!.name };
}

/** Deletes a backup object (an export whose audit entry could not be written). */
export async function deleteStoredBackup(storage: BackupStorage, path: string): Promise<void> {
  await deleteQuietly(storage.bucket.file(path));
}
