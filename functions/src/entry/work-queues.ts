import { defineInt } from 'firebase-functions/params';
import { onTaskDispatched } from 'firebase-functions/v2/tasks';
import { instanceQuotaEngine } from '../adapters/quota/quota-engine';
import { enqueueTask } from '../adapters/task-queue';
import { secretsOf, type UpstreamProvider } from '../adapters/upstreams/secrets';
import '../adapters/upstreams/wiring';
import { workHandler } from '../adapters/work-handlers';
import { engineWorkPorts, WORK_TIMEOUT_SECONDS, WorkRunner } from '../adapters/work-runner';
import { workItemSchema, workQueueName } from '../core/pipeline/work-items';
import { logger } from '../log';
import { taskHandler } from './task-handler';
import './options';

let runner: WorkRunner | undefined;
function workRunner(): WorkRunner {
  const engine = instanceQuotaEngine();
  runner ??= new WorkRunner(
    engineWorkPorts(engine, (queue, item, options) => enqueueTask(queue, item, options)),
    workHandler,
    workQueueName,
  );
  return runner;
}

/**
 * One queue per provider. Cloud Tasks' own rate limit is a coarse outer bound (deploy-time
 * parameters); the gate is the exact one. Handlers never sleep on quota: a deferred item is
 * re-enqueued for its time and the task ends.
 */
function workQueue(provider: UpstreamProvider) {
  const prefix = provider.toUpperCase();
  return onTaskDispatched(
    {
      timeoutSeconds: WORK_TIMEOUT_SECONDS,
      secrets: secretsOf(provider),
      retryConfig: {
        maxAttempts: defineInt(`${prefix}_WORK_MAX_ATTEMPTS`, { default: 5 }),
        minBackoffSeconds: 10,
      },
      rateLimits: {
        maxDispatchesPerSecond: defineInt(`${prefix}_WORK_DISPATCHES_PER_SECOND`, { default: 10 }),
        maxConcurrentDispatches: defineInt(`${prefix}_WORK_CONCURRENT_DISPATCHES`, { default: 10 }),
      },
    },
    taskHandler(workQueueName(provider), workItemSchema, async (item) => {
      const outcome = await workRunner().run(item);
      logger.info(
        { collection: item.collection, kind: item.kind, key: item.key, outcome },
        'work item',
      );
    }),
  );
}

export const keepaWork = workQueue('keepa');
export const spapiWork = workQueue('spapi');
export const smartproxyWork = workQueue('smartproxy');
