import { onSchedule } from 'firebase-functions/v2/scheduler';
import { db } from '../../adapters/firebase';
import { recordHeartbeat } from '../../adapters/observability/beats';
import { sampleQueueDepths } from '../../adapters/observability/fleet-stats';
import { recountRunningCollections } from '../../adapters/pipeline/collection-progress';
import { followDeadlines } from '../../adapters/pipeline/deadline-allocation';
import { cloudTasksAdmin } from '../../adapters/queues/queue-admin';
import { PROVIDER_QUEUES, syncProviderQueues } from '../../adapters/queues/queue-rates';
import { deployedQueueRate } from '../../adapters/queues/work-queue-params';
import { instanceWriteBuffer } from '../../adapters/storage/instance-write-buffer';
import { logger } from '../../log';
import '../options';

/**
 * Proves the scheduler runs (health reports the last beat), and keeps the provider queues in
 * line with the configuration: rates that follow the quota, paused during maintenance. That
 * catches changes no operation announced (a collection's phase, a provider edited by hand).
 * Then it follows collection deadlines (adapters/pipeline/deadline-allocation.ts), and samples queue
 * depths into the fleet statistics (adapters/observability/fleet-stats.ts).
 */
export const heartbeat = onSchedule({ schedule: 'every 5 minutes', timeZone: 'UTC' }, async () => {
  await recordHeartbeat(db());
  logger.info('heartbeat');
  // Each step runs even when another fails.
  try {
    const synced = await syncProviderQueues({
      db: db(),
      admin: cloudTasksAdmin(),
      deployed: deployedQueueRate,
    });
    const changed = synced.filter((s) => s.rate || s.state || s.error);
    if (changed.length > 0) logger.info({ queues: changed }, 'provider queues synced');
  } catch (error) {
    logger.error({ err: error }, 'provider queues not synced');
  }
  // Progress a buffer held when its instance went away: counted again.
  try {
    const recounted = await recountRunningCollections(db());
    if (recounted.length > 0) logger.info({ recounted }, 'collection progress recounted');
  } catch (error) {
    logger.error({ err: error }, 'collection progress not recounted');
  }
  // Deadlines: warnings for collections that will miss theirs, and shares that follow them
  // where a deadline asks for it. A failure here must not stop the beat.
  try {
    const deadlines = await followDeadlines(db(), Date.now());
    if (deadlines.late.length + deadlines.onTrack.length + deadlines.raised.length > 0) {
      logger.info(deadlines, 'collection deadlines followed');
    }
  } catch (error) {
    logger.error({ err: error }, 'collection deadlines not followed');
  }
  // Queue depths into the fleet statistics (getQuotaStats' history, the metrics' fleet gauges).
  try {
    await sampleQueueDepths({
      db: db(),
      nowMs: Date.now(),
      sink: instanceWriteBuffer(),
      taskQueues: { admin: cloudTasksAdmin(), queues: PROVIDER_QUEUES.map((q) => q.queue) },
    });
  } catch (error) {
    logger.error({ err: error }, 'queue depths not sampled');
  }
});
