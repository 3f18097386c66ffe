/**
 * Scheduled backups of configuration and collected data (adapters/backup/scheduled-backup.ts). Pure:
 * the schedule, the names, the manifest and the retention rules.
 *
 * A backup is a folder of objects, `{prefix}scheduled/{projectId}/{id}/` (projects sharing a
 * bucket and prefix never see each other's backups: due checks, listing and retention read only
 * their own project's folder):
 *
 *     pages/000001.json          a page of one collection: a complete tollgate-backup file
 *                                (core/backup/backup.ts, its own checksum), at most `pageSize` documents
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
 */

// Its parts, one module each: names and limits (scheduled-layout.ts), when a backup is due
// (scheduled-due.ts), the manifest (scheduled-manifest.ts, over scheduled-json.ts), the
// payload objects (scheduled-objects.ts) and the retention (scheduled-retention.ts).
// Importers use this module.
export {
  BACKUP_ID,
  type BackupScheduleConfig,
  backupScheduleConfigSchema,
  MAX_PAGE_DOCUMENTS,
} from './backup-schedule';
export { backupDue, backupSlotMs, DEFAULT_BACKUP_SCHEDULE } from './scheduled-due';
export {
  ABANDONED_AFTER_MS,
  FUTURE_TOLERANCE_MS,
  HOLDS_FOLDER,
  MANIFEST_FORMAT,
  MANIFEST_NAME,
  MANIFEST_VERSION,
  MAX_PAGE_BYTES,
  OBJECTS_FORMAT,
  OBJECTS_VERSION,
  objectCopyName,
  pageName,
  pageObjectsName,
  projectBackupsFolder,
  RESTORE_HOLD_MS,
  restoreHoldName,
  restoreHoldsPrefix,
  SCHEDULED_FOLDER,
  SLOTS_FOLDER,
  scheduledBackupId,
  scheduledBackupTimeMs,
  slotClaimName,
  slotOfClaim,
  TARGET_PAGE_BYTES,
} from './scheduled-layout';
export {
  createManifest,
  type ManifestPage,
  type ScheduledManifest,
  verifyManifest,
} from './scheduled-manifest';
export {
  type ObjectEntry,
  parseObjects,
  payloadDocumentProblem,
  serializeObjects,
} from './scheduled-objects';
export {
  type BackupState,
  expiredBackups,
  futureDated,
  type ListedBackup,
  newestComplete,
} from './scheduled-retention';
