import { onTaskDispatched } from 'firebase-functions/v2/tasks';
import { z } from 'zod';
import {
  AGGREGATION_FLUSH_FUNCTION,
  enqueueAggregationFlush,
} from '../../adapters/pipeline/aggregation-flush-task';
import { aggregationStore } from '../../adapters/pipeline/aggregation-store';
import { taskId } from '../../core/queues/task-envelope';
import { logger } from '../../log';
import { taskHandler } from '../task-handler';
import '../options';

export const aggregationFlushPayload = z.object({ workItemId: z.string().min(1).max(500) });

/**
 * The timeout flush of one aggregated work item, enqueued for first response + timeout.
 * Idempotent: an item already written (by its quorum, an operator or a redelivery) is left
 * as it is.
 */
export const aggregationFlush = onTaskDispatched(
  {
    retryConfig: { maxAttempts: 5, minBackoffSeconds: 5 },
    rateLimits: { maxConcurrentDispatches: 20 },
  },
  taskHandler(AGGREGATION_FLUSH_FUNCTION, aggregationFlushPayload, async ({ workItemId }, ctx) => {
    const result = await aggregationStore().flushItem(workItemId);
    if (result.outcome === 'not-due') {
      // Enqueued for before the deadline (by hand, say): come back when it is due.
      await enqueueAggregationFlush(workItemId, result.dueAtMs, taskId(ctx.id, 'not-due'));
    }
    logger.info({ workItemId, outcome: result.outcome }, 'aggregation flush task');
  }),
);
