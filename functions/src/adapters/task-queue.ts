import { getFunctions } from 'firebase-admin/functions';
import type { WorkItem } from '../core/pipeline/work-items';
import { wrapTask } from '../core/task-envelope';
import { logger } from '../log';
import { db } from './firebase';
import { REGION } from './region';

export interface EnqueueOptions {
  /** Deterministic id: a redelivered or re-enqueued item is deduplicated by Cloud Tasks. */
  id?: string;
  /** The task never runs before this time. */
  scheduleTime?: Date;
}

export type EnqueueResult = 'enqueued' | 'duplicate';

/** Enqueues a work item on a queue: `enqueueTask`, or a fake of it in tests. */
export type Enqueue = (
  queue: string,
  item: WorkItem,
  options: EnqueueOptions,
) => Promise<EnqueueResult>;

/**
 * Enqueues a task for a task-queue function. In production Cloud Tasks honours the schedule
 * time. The local Tasks emulator dispatches at once, so there a future task goes to the local
 * stack's relay (TOLLGATE_TASK_RELAY_URL), which holds it on a timer and enqueues it when due.
 */
export async function enqueueTask(
  functionName: string,
  payload: unknown,
  options: EnqueueOptions = {},
): Promise<EnqueueResult> {
  db(); // initialises the admin app
  const data = wrapTask(payload, options.scheduleTime);
  const relay = process.env.CLOUD_TASKS_EMULATOR_HOST && process.env.TOLLGATE_TASK_RELAY_URL;
  if (relay && options.scheduleTime && options.scheduleTime.getTime() > Date.now()) {
    return relayEnqueue(relay, functionName, data, options);
  }
  try {
    await getFunctions()
      .taskQueue(`locations/${REGION}/functions/${functionName}`)
      .enqueue(data, { id: options.id, scheduleTime: options.scheduleTime });
    return 'enqueued';
  } catch (error) {
    if ((error as { code?: string }).code === 'functions/task-already-exists') {
      logger.debug({ functionName, id: options.id }, 'task already enqueued');
      return 'duplicate';
    }
    throw error;
  }
}

async function relayEnqueue(
  relayUrl: string,
  functionName: string,
  data: unknown,
  options: EnqueueOptions,
): Promise<EnqueueResult> {
  const response = await fetch(`${relayUrl}/enqueue`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      functionName,
      location: REGION,
      data,
      id: options.id,
      scheduleTime: options.scheduleTime?.toISOString(),
    }),
  });
  if (response.status === 409) return 'duplicate';
  if (!response.ok) {
    throw new Error(
      `task relay refused ${functionName}: ${response.status} ${await response.text()}`,
    );
  }
  return 'enqueued';
}
