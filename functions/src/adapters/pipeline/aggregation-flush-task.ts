import { createHash } from 'node:crypto';
import { taskId } from '../../core/queues/task-envelope';
import { enqueueTask } from '../queues/task-queue';

/** The aggregation's timeout flush as a Cloud Tasks task: its function, its id, its enqueue. */

export const AGGREGATION_FLUSH_FUNCTION = 'aggregationFlush';

/**
 * One task id per item and time: Cloud Tasks drops a second enqueue of it. The hash keeps ids
 * distinct where `taskId` maps different characters to `_`.
 */
export function flushTaskId(workItemId: string, atMs: number): string {
  const hash = createHash('sha256').update(workItemId).digest('hex').slice(0, 16);
  return taskId(AGGREGATION_FLUSH_FUNCTION, workItemId.slice(0, 200), hash, String(atMs));
}

/** Enqueues the flush task for `atMs` (a deterministic id unless one is given). */
export async function enqueueAggregationFlush(
  workItemId: string,
  atMs: number,
  id = flushTaskId(workItemId, atMs),
): Promise<void> {
  await enqueueTask(
    AGGREGATION_FLUSH_FUNCTION,
    { workItemId },
    { id, scheduleTime: new Date(atMs) },
  );
}
