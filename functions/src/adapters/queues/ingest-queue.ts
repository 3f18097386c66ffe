import { taskId } from '../../core/queues/task-envelope';
import { enqueueTask } from './task-queue';

/** The task-queue function that runs ingest slices. */
export const INGEST_FUNCTION = 'keepaIngest';

/**
 * Enqueues the collection's next ingest slice for `atMs`. The id is deterministic, so a retried
 * task, or discovery and a finishing slice asking for the same time, enqueue it once. `reask`:
 * the slice stopped on the gate, so the next one asks its batch again (see ingest.ts).
 */
export function rescheduleIngest(collection: string, atMs: number, reask = false) {
  return enqueueTask(INGEST_FUNCTION, reask ? { collection, reask } : { collection }, {
    id: taskId('ingest', collection, String(atMs)),
    scheduleTime: new Date(atMs),
  });
}
