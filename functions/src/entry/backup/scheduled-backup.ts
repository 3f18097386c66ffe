import { onSchedule } from 'firebase-functions/v2/scheduler';
import { instanceBackupStorage } from '../../adapters/backup/backup-storage';
import { runScheduledBackup } from '../../adapters/backup/scheduled-run';
import { db, projectId } from '../../adapters/firebase';
import { loadPipelineConfig } from '../../adapters/pipeline/pipeline-config';
import { logger } from '../../log';
import '../options';
import { scheduleTimeMs } from '../schedule-time';

/**
 * Hourly: a scheduled backup of configuration, state and collected data to Cloud Storage when
 * its slot is due (config/pipeline `backups`: daily at 03:00 UTC by default; the cron is fixed
 * at deploy time, so the slots are runtime configuration checked here), then the retention
 * (adapters/backup/scheduled-backup.ts, the retention in scheduled-retention.ts). Due is judged as
 * of the slot Cloud Scheduler fired for (see entry/schedule-time.ts): a slot whose backup failed
 * is retried by the next hour's run.
 */
export const scheduledBackup = onSchedule(
  { schedule: '0 * * * *', timeZone: 'UTC', timeoutSeconds: 1800, memory: '1GiB' },
  async (event) => {
    const asOf = scheduleTimeMs(event);
    const firestore = db();
    const { backups } = await loadPipelineConfig(firestore);
    const result = await runScheduledBackup({
      db: firestore,
      storage: instanceBackupStorage(),
      config: backups,
      projectId: projectId(),
      asOfMs: asOf,
    });
    logger.info(
      {
        asOf: new Date(asOf).toISOString(),
        backup: result.backup?.id ?? null,
        documents: result.backup?.manifest.documents ?? 0,
        deleted: result.deleted,
      },
      'scheduled backup run',
    );
  },
);
