import { onSchedule } from 'firebase-functions/v2/scheduler';
import { db } from '../../adapters/firebase';
import { collectionsRepository } from '../../adapters/pipeline/collections-repository';
import { cloudTasksAdmin } from '../../adapters/queues/queue-admin';
import { syncProviderQueues } from '../../adapters/queues/queue-rates';
import { deployedQueueRate } from '../../adapters/queues/work-queue-params';
import { republishAllocations } from '../../adapters/quota/republish';
import { logger } from '../../log';
import '../options';

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
