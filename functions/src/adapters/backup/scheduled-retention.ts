import { randomBytes } from 'node:crypto';
import { BackupError } from '../../core/backup/backup-file';
import { BACKUP_ID } from '../../core/backup/backup-schedule';
import {
  HOLDS_FOLDER,
  MANIFEST_NAME,
  projectBackupsFolder,
  RESTORE_HOLD_MS,
  restoreHoldName,
  restoreHoldsPrefix,
  SLOTS_FOLDER,
  scheduledBackupTimeMs,
} from '../../core/backup/scheduled-layout';
import type { ScheduledManifest } from '../../core/backup/scheduled-manifest';
import { expiredBackups, type ListedBackup } from '../../core/backup/scheduled-retention';
import { mapLimit } from '../../core/map-limit';
import { logger } from '../../log';
import { type BackupStorage, deleteQuietly } from './backup-storage';
import { OBJECT_CONCURRENCY, readManifest, scheduledFolder } from './scheduled-folder';
import { expireSlotClaims } from './scheduled-slots';

/**
 * The scheduled backups of a project as they stand in Cloud Storage: listed (complete,
 * incomplete or corrupt), deleted, kept or deleted by the retention, and held against the
 * retention while a restore reads them.
 */

// ---- Listing and retention -----------------------------------------------------------------

export interface ScheduledBackupListing extends ListedBackup {
  folder: string;
  /** For complete backups. */
  manifest?: ScheduledManifest;
  /** Why a backup is corrupt. */
  problem?: string;
}

/**
 * Every scheduled backup of `projectId` in `storage` (its folder only: other projects sharing
 * the bucket are never read), oldest first, with whether it is complete. Future-dated backups
 * are listed; the due check and the retention ignore them (core/backup/scheduled-layout.ts).
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
 * The retention of `projectId`'s backups as of `nowMs` (core/backup/scheduled-layout.ts
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
