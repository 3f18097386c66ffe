import { type BackupScheduleConfig, backupScheduleConfigSchema } from './backup-schedule';

/** When a scheduled backup is due: the schedule's slots, and whether the current one is done. */

const HOUR_MS = 3_600_000;

export const DEFAULT_BACKUP_SCHEDULE: BackupScheduleConfig = backupScheduleConfigSchema.parse({});

/** The start of the newest slot at or before `asOfMs`. */
export function backupSlotMs(asOfMs: number, config: BackupScheduleConfig): number {
  const anchor = config.atHourUtc * HOUR_MS;
  const interval = config.intervalHours * HOUR_MS;
  return anchor + Math.floor((asOfMs - anchor) / interval) * interval;
}

/**
 * Whether a run as of `asOfMs` backs up: no complete backup is of the current slot.
 * `newestSlotMs` is the slot the newest complete backup was taken for (its manifest's `slotMs`),
 * not when it started: an instance clock a little behind the schedule starts a slot's backup
 * before the slot, and must not make the next run of the same slot take another.
 */
export function backupDue(
  asOfMs: number,
  config: BackupScheduleConfig,
  newestSlotMs: number | undefined,
): boolean {
  if (!config.enabled) return false;
  return newestSlotMs === undefined || newestSlotMs < backupSlotMs(asOfMs, config);
}
