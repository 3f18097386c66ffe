import { z } from 'zod';

/**
 * What names and configures a scheduled backup, with no Node imports: the pipeline
 * configuration and the callables' inputs (shared with the client) use these.
 */

/**
 * A scheduled backup's id, `20260110T030000123Z-0123456789ab`: sortable by start time, nothing
 * to escape. Checked by `importBackup {scheduled}`.
 */
export const BACKUP_ID = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z-[0-9a-f]{12}$/;

/**
 * A project id as a scheduled backup's folder names it (`scheduled/{projectId}/`): no
 * separators, nothing to escape (domain-scoped ids `example.com:app` included).
 */
export const BACKUP_PROJECT_ID = /^[A-Za-z0-9][A-Za-z0-9.:_-]{0,127}$/;

/** The most documents a page may hold (the config's upper bound). */
export const MAX_PAGE_DOCUMENTS = 2_000;

/**
 * `config/pipeline` `backups`. Cloud Scheduler's cron is fixed at deploy time, so the function
 * runs hourly (entry/backup/scheduled-backup.ts) and backs up when a slot is due: slots start at `atHourUtc`
 * on 1970-01-01 and follow every `intervalHours` (24: daily at that hour; 168: weekly, on
 * Thursdays). A slot whose run failed is retried by the next hourly run.
 */
export const backupScheduleConfigSchema = z.object({
  enabled: z.boolean().default(true),
  intervalHours: z.number().int().min(1).max(168, 'at most 168 (weekly)').default(24),
  atHourUtc: z.number().int().min(0).max(23).default(3),
  /** Complete backups older than this are deleted, except the newest complete one. */
  retentionDays: z.number().int().min(1).max(365).default(14),
  /** Documents read, and written to one page object, at most at a time. */
  pageSize: z.number().int().min(10).max(MAX_PAGE_DOCUMENTS).default(500),
});
export type BackupScheduleConfig = z.infer<typeof backupScheduleConfigSchema>;
