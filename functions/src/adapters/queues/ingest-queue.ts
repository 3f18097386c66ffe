import { taskId } from '../../core/queues/task-envelope';
import { enqueueTask } from './task-queue';

/** The task-queue function that runs ingest slices. */
export const INGEST_FUNCTION = 'keepaIngest';

/**
 * Enqueues the collection's next ingest slice for `atMs`. The id is deterministic, so a retried
 * task, or discovery and a finishing slice asking for the same time, enqueue it once.
 */
export function rescheduleIngest(collection: string, atMs: number) {
  return enqueueTask(
    INGEST_FUNCTION,
    { collection },
    { id: taskId('ingest', collection, String(atMs)), scheduleTime: new Date(atMs) },
  );
}
