import { onSchedule } from 'firebase-functions/v2/scheduler';
import { instanceBackupStorage } from '../adapters/backup-storage';
import { collectionsRepository } from '../adapters/collections-repository';
import { db, projectId } from '../adapters/firebase';
import { payloadStore } from '../adapters/payload-store';
import { loadPipelineConfig } from '../adapters/pipeline-config';
import { cloudTasksAdmin } from '../adapters/queue-admin';
import { syncProviderQueues } from '../adapters/queue-rates';
import { republishAllocations } from '../adapters/quota/republish';
import { runScheduledBackup } from '../adapters/scheduled-backup';
import { deployedQueueRate } from '../adapters/work-queue-params';
import { logger } from '../log';
import './options';
import { scheduleTimeMs } from './schedule-time';

/**
 * Twice daily: republishes every provider's allocation (catching up any share change whose
 * publication failed, and operator edits), brings the provider queues in line with it, and
 * marks collections without progress as stalled. Each runs even when another fails; the run
 * fails if any did.
 */
export const allocationUpdate = onSchedule(
  { schedule: '0 0,12 * * *', timeZone: 'UTC' },
  async () => {
    // The clock, not the schedule time: the epochs it publishes start now for the gate, and a
    // collection is stalled by how long it has gone without progress until now.
    const now = Date.now();
    const failures: unknown[] = [];
    try {
      const published = await republishAllocations(db(), now);
      logger.info({ published }, 'allocations republished');
    } catch (error) {
      logger.error({ err: error }, 'allocation update failed');
      failures.push(error);
    }
    try {
      const queues = await syncProviderQueues({
        db: db(),
        admin: cloudTasksAdmin(),
        deployed: deployedQueueRate,
      });
      logger.info({ queues }, 'provider queues synced');
    } catch (error) {
      logger.error({ err: error }, 'provider queues not synced');
      failures.push(error);
    }
    try {
      const stalled = await collectionsRepository().markStalled(now);
      logger.info({ stalled }, 'stalled collections checked');
    } catch (error) {
      logger.error({ err: error }, 'stalled check failed');
      failures.push(error);
    }
    if (failures.length > 0) throw failures[0];
  },
);

/**
 * Daily: removes temporary payloads older than the configured age as of the time the run was
 * scheduled for (see schedule-time.ts): a retry of the slot removes the same set, and since Cloud
 * Scheduler's slot is never after the run, nothing younger than the age; the local stack fires
 * it as of a later day to show what that day's run removes.
 */
export const payloadCleanup = onSchedule(
  { schedule: '30 3 * * *', timeZone: 'UTC' },
  async (event) => {
    const asOf = scheduleTimeMs(event);
    const removed = await payloadStore().cleanupTemporary(asOf);
    logger.info(
      { ...removed, asOf: new Date(asOf).toISOString() },
      'temporary payloads cleaned up',
    );
  },
);

/**
 * Hourly: a scheduled backup of configuration, state and collected data to Cloud Storage when
 * its slot is due (config/pipeline `backups`: daily at 03:00 UTC by default; the cron is fixed
 * at deploy time, so the slots are runtime configuration checked here), then the retention
 * (adapters/scheduled-backup.ts). Due is judged as of the slot Cloud Scheduler fired for (see
 * schedule-time.ts): a slot whose backup failed is retried by the next hour's run.
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
