import { defineInt, type IntParam } from 'firebase-functions/params';
import type { WorkQueueProvider } from '../../core/pipeline/work-items';
import type { QueueRate } from '../../core/queues/queue-rate';

/**
 * Deploy-time values of each provider's work queue (functions/.env). `firebase deploy` sets
 * the queue to them; between deploys Tollgate moves the rate to follow the quota
 * (queue-rates.ts), and uses them where the quota says nothing.
 */
export interface WorkQueueParams {
  maxAttempts: IntParam;
  dispatchesPerSecond: IntParam;
  concurrentDispatches: IntParam;
}

function define(provider: WorkQueueProvider): WorkQueueParams {
  const prefix = provider.toUpperCase();
  return {
    maxAttempts: defineInt(`${prefix}_WORK_MAX_ATTEMPTS`, { default: 5 }),
    dispatchesPerSecond: defineInt(`${prefix}_WORK_DISPATCHES_PER_SECOND`, {
      default: DEFAULT_QUEUE_RATE.maxDispatchesPerSecond,
    }),
    concurrentDispatches: defineInt(`${prefix}_WORK_CONCURRENT_DISPATCHES`, {
      default: DEFAULT_QUEUE_RATE.maxConcurrentDispatches,
    }),
  };
}

/** The params' defaults (functions/.env may set others). */
export const DEFAULT_QUEUE_RATE: QueueRate = {
  maxDispatchesPerSecond: 10,
  maxConcurrentDispatches: 10,
};

const params = new Map<WorkQueueProvider, WorkQueueParams>();

export function workQueueParams(provider: WorkQueueProvider): WorkQueueParams {
  let found = params.get(provider);
  if (!found) {
    found = define(provider);
    params.set(provider, found);
  }
  return found;
}

/**
 * The deployed bounds, read at run time. Outside a deployed function (the CLI, a script) an
 * unset param reads as 0, not its default (firebase-functions applies defaults at deploy): a
 * queue of 0/s would never dispatch, so an unset or non-positive value is the default.
 */
export function deployedQueueRate(provider: WorkQueueProvider): QueueRate {
  const { dispatchesPerSecond, concurrentDispatches } = workQueueParams(provider);
  const positive = (value: number, fallback: number) => (value > 0 ? value : fallback);
  return {
    maxDispatchesPerSecond: positive(
      dispatchesPerSecond.value(),
      DEFAULT_QUEUE_RATE.maxDispatchesPerSecond,
    ),
    maxConcurrentDispatches: positive(
      concurrentDispatches.value(),
      DEFAULT_QUEUE_RATE.maxConcurrentDispatches,
    ),
  };
}
