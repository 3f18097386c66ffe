import { getFunctions } from 'firebase-admin/functions';
import type { WorkItem } from '../../core/pipeline/work-items';
import { wrapTask } from '../../core/queues/task-envelope';
import { logger } from '../../log';
import { db } from '../firebase';
import { REGION } from '../region';

export interface EnqueueOptions {
  /** Deterministic id: a redelivered or re-enqueued item is deduplicated by Cloud Tasks. */
  id?: string;
  /** The task never runs before this time. */
  scheduleTime?: Date;
}

export type EnqueueResult = 'enqueued' | 'duplicate';

/** Just under Cloud Tasks' limit of 30 days ahead. */
export const MAX_SCHEDULE_AHEAD_MS = 29 * 86_400_000;

/** Enqueues a work item on a queue: `enqueueTask`, or a fake of it in tests. */
export type Enqueue = (
  queue: string,
  item: WorkItem,
  options: EnqueueOptions,
) => Promise<EnqueueResult>;

/**
 * Enqueues a task for a task-queue function; Cloud Tasks holds it until its schedule time. The
 * local stack serves the same API (see emulatedCloudTasksHost).
 */
export async function enqueueTask(
  functionName: string,
  payload: unknown,
  options: EnqueueOptions = {},
): Promise<EnqueueResult> {
  db(); // initialises the admin app
  const data = wrapTask(payload, options.scheduleTime);
  // Cloud Tasks refuses schedule times more than 30 days ahead (a month window spent on the
  // 1st of a 31-day month asks for that). The task comes early instead: its envelope keeps the
  // real time, and the handler defers it again (entry/task-handler.ts).
  const latest = Date.now() + MAX_SCHEDULE_AHEAD_MS;
  const scheduleTime =
    options.scheduleTime && options.scheduleTime.getTime() > latest
      ? new Date(latest)
      : options.scheduleTime;
  try {
    await getFunctions()
      .taskQueue(`locations/${REGION}/functions/${functionName}`)
      .enqueue(data, { id: options.id, scheduleTime });
    return 'enqueued';
  } catch (error) {
    if ((error as { code?: string }).code === 'functions/task-already-exists') {
      logger.debug({ functionName, id: options.id }, 'task already enqueued');
      return 'duplicate';
    }
    throw error;
  }
}
