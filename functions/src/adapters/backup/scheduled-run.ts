// One run of the backup schedule: a backup when its slot is due and claimed, then the retention.
import type { Firestore } from 'firebase-admin/firestore';
import type { BackupScheduleConfig } from '../../core/backup/backup-schedule';
import { backupDue, backupSlotMs } from '../../core/backup/scheduled-due';
import { newestComplete } from '../../core/backup/scheduled-retention';
import { logger } from '../../log';
import type { BackupStorage } from './backup-storage';
import { type ScheduledBackupResult, writeScheduledBackup } from './scheduled-backup';
import { applyRetention, listScheduledBackups } from './scheduled-retention';
import { claimSlot, releaseSlot } from './scheduled-slots';

export interface ScheduledRunResult {
  /** The backup written, if one was due. */
  backup?: ScheduledBackupResult;
  /** Backups the retention deleted. */
  deleted: string[];
  /** The slot was due but another run holds its claim: this run did not back up. */
  claimedElsewhere?: boolean;
}

/**
 * One run of the schedule as of `asOfMs` (its slot): a backup when no complete backup of this
 * project is of the slot yet and this run claims the slot, then the retention (also after a
 * failed backup; the failure is then thrown). Nothing when backups are disabled.
 */
export async function runScheduledBackup(input: {
  db: Firestore;
  storage: BackupStorage;
  config: BackupScheduleConfig;
  projectId: string;
  asOfMs: number;
  now?: () => number;
}): Promise<ScheduledRunResult> {
  const { config, storage, projectId } = input;
  const now = input.now ?? Date.now;
  if (!config.enabled) return { deleted: [] };
  const newest = newestComplete(await listScheduledBackups(storage, projectId), now());
  let backup: ScheduledBackupResult | undefined;
  let failure: unknown;
  let claimedElsewhere = false;
  if (backupDue(input.asOfMs, config, newest?.slotMs)) {
    const slotMs = backupSlotMs(input.asOfMs, config);
    const claim = await claimSlot(storage, projectId, slotMs, now());
    if (!claim) {
      claimedElsewhere = true;
      logger.info({ slot: new Date(slotMs).toISOString() }, 'slot claimed by another run');
    } else {
      try {
        backup = await writeScheduledBackup(input.db, storage, {
          pageSize: config.pageSize,
          projectId,
          slotMs,
          now,
        });
      } catch (error) {
        logger.error({ err: error }, 'scheduled backup failed');
        failure = error;
        await releaseSlot(claim);
      }
    }
  }
  const { deleted } = await applyRetention(storage, projectId, now(), config.retentionDays);
  if (failure !== undefined) throw failure;
  return {
    ...(backup ? { backup } : {}),
    deleted,
    ...(claimedElsewhere ? { claimedElsewhere } : {}),
  };
}
