import { BACKUP_ID, BACKUP_PROJECT_ID } from './backup-schedule';

/**
 * Scheduled backups of configuration and collected data (adapters/backup/scheduled-backup.ts). Pure:
 * the schedule, the names, the manifest and the retention rules.
 *
 * A backup is a folder of objects, `{prefix}scheduled/{projectId}/{id}/` (projects sharing a
 * bucket and prefix never see each other's backups: due checks, listing and retention read only
 * their own project's folder):
 *
 *     pages/000001.json          a page of one collection: a complete tollgate-backup file
 *                                (backup-file.ts, its own checksum), at most `pageSize` documents
 *     pages/000001.objects.json  for a page of payloads: the Cloud Storage objects of its payloads
 *     objects/{payloadId}        a copy of each such object
 *     manifest.json              written last: every page with its size and SHA-256, and the
 *                                manifest's own checksum
 *
 * The manifest is the commit point: a folder without one is incomplete (a run that crashed or
 * is still running), which a restore refuses and the retention removes once it is old enough
 * that no run can still be writing it.
 *
 * Next to the backups, `{prefix}scheduled/{projectId}/slots/{slot}` is a slot's claim: the run
 * that creates it (if-absent) backs the slot up; another run of the same slot does nothing. A
 * failed run deletes its claim (the next hourly run retries the slot); a crashed run's claim is
 * taken over once older than ABANDONED_AFTER_MS.
 *
 * This module: the formats, folder and object names, slot claims and restore holds, and the
 * sizes and ages runs keep to. Beside it: when a backup is due (scheduled-due.ts), the manifest
 * (scheduled-manifest.ts, over scheduled-json.ts), the payload objects (scheduled-objects.ts)
 * and the retention (scheduled-retention.ts).
 */

export const MANIFEST_FORMAT = 'tollgate-scheduled-backup';
export const MANIFEST_VERSION = 1;
export const OBJECTS_FORMAT = 'tollgate-backup-objects';
export const OBJECTS_VERSION = 1;
export const SCHEDULED_FOLDER = 'scheduled/';
export const MANIFEST_NAME = 'manifest.json';
/** The folder of slot claims, next to a project's backups (never a backup id). */
export const SLOTS_FOLDER = 'slots/';
/**
 * The folder of restore holds, next to a project's backups (never a backup id): a restore keeps
 * one for its backup while it runs, and the retention leaves a held backup alone.
 */
export const HOLDS_FOLDER = 'holds/';
/** A hold lapses this long after it was last renewed (a crashed restore holds no longer). */
export const RESTORE_HOLD_MS = 15 * 60_000;

const HOUR_MS = 3_600_000;

/** A page closes early once its text is this large; a restore refuses larger page objects. */
export const TARGET_PAGE_BYTES = 8 * 1024 * 1024;
/** One page's largest object: a page of documents near 1 MiB each, each read alone, is below. */
export const MAX_PAGE_BYTES = 64 * 1024 * 1024;
/**
 * An incomplete backup younger than this may still be being written (the function's timeout is
 * 30 minutes): the retention leaves it alone.
 */
export const ABANDONED_AFTER_MS = 2 * HOUR_MS;
/**
 * A backup dated (by its id or its slot) more than this after now is ignored: it neither makes
 * a slot done, nor counts as the newest, nor is deleted by the retention (a clock far ahead, or
 * an object someone else wrote).
 */
export const FUTURE_TOLERANCE_MS = 10 * 60_000;

/** The folder of `projectId`'s scheduled backups under `prefix`; throws for unsafe ids. */
export function projectBackupsFolder(prefix: string, projectId: string): string {
  if (!BACKUP_PROJECT_ID.test(projectId)) {
    throw new RangeError(`"${projectId.slice(0, 140)}" is not a project id`);
  }
  return `${prefix}${SCHEDULED_FOLDER}${projectId}/`;
}

/** A slot's claim, relative to the project's folder. */
export function slotClaimName(slotMs: number): string {
  return `${SLOTS_FOLDER}${new Date(slotMs).toISOString().replace(/[-:.]/g, '')}`;
}

/** Where a restore's hold of backup `id` is, relative to the project's folder. */
export function restoreHoldName(id: string, token: string): string {
  return `${HOLDS_FOLDER}${id}~${token}`;
}

/** The prefix of every hold of backup `id`, relative to the project's folder. */
export function restoreHoldsPrefix(id: string): string {
  return `${HOLDS_FOLDER}${id}~`;
}

/** The slot of a claim's name (relative to the project's folder), if it is one. */
export function slotOfClaim(name: string): number | undefined {
  const m = /^slots\/(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z$/.exec(name);
  if (!m) return undefined;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, +m[7]!);
  return slotClaimName(ms) === name ? ms : undefined;
}

export function scheduledBackupId(createdAtMs: number, randomHex: string): string {
  if (!/^[0-9a-f]{12}$/.test(randomHex)) throw new RangeError('12 lowercase hex digits');
  return `${new Date(createdAtMs).toISOString().replace(/[-:.]/g, '')}-${randomHex}`;
}

/** When the backup `id` was started, or undefined for a name Tollgate does not write. */
export function scheduledBackupTimeMs(id: string): number | undefined {
  const m = BACKUP_ID.exec(id);
  if (!m) return undefined;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, +m[7]!);
  return scheduledBackupId(ms, id.slice(-12)) === id ? ms : undefined;
}

export function pageName(index: number): string {
  return `pages/${String(index).padStart(6, '0')}.json`;
}

export function pageObjectsName(index: number): string {
  return `pages/${String(index).padStart(6, '0')}.objects.json`;
}

export function objectCopyName(payloadId: string): string {
  return `objects/${payloadId}`;
}
