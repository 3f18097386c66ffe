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
    dispatchesPerSecond: defineInt(`${prefix}_WORK_DISPATCHES_PER_SECOND`, { default: 10 }),
    concurrentDispatches: defineInt(`${prefix}_WORK_CONCURRENT_DISPATCHES`, { default: 10 }),
  };
}

const params = new Map<WorkQueueProvider, WorkQueueParams>();

export function workQueueParams(provider: WorkQueueProvider): WorkQueueParams {
  let found = params.get(provider);
  if (!found) {
    found = define(provider);
    params.set(provider, found);
  }
  return found;
}

/** The deployed bounds, read at run time. */
export function deployedQueueRate(provider: WorkQueueProvider): QueueRate {
  const { dispatchesPerSecond, concurrentDispatches } = workQueueParams(provider);
  return {
    maxDispatchesPerSecond: dispatchesPerSecond.value(),
    maxConcurrentDispatches: concurrentDispatches.value(),
  };
}
