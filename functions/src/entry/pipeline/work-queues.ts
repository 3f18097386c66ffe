import { onTaskDispatched } from 'firebase-functions/v2/tasks';
import { enqueueTask } from '../../adapters/queues/task-queue';
import { instanceQuotaEngine } from '../../adapters/quota/instance-quota-engine';
import { secretsOf } from '../../adapters/upstreams/secrets';
import '../../adapters/upstreams/wiring';
import { workHandler } from '../../adapters/pipeline/work-handlers';
import {
  engineWorkPorts,
  WORK_TIMEOUT_SECONDS,
  WorkRunner,
} from '../../adapters/pipeline/work-runner';
import { workQueueParams } from '../../adapters/queues/work-queue-params';
import {
  type WorkQueueProvider,
  workItemSchema,
  workQueueName,
} from '../../core/pipeline/work-items';
import { logger } from '../../log';
import { taskHandler } from '../task-handler';
import '../options';

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
 * One queue per provider that has work items (WORK_QUEUE_PROVIDERS: not SP-API, whose sales
 * sync is a schedule). Cloud Tasks' own rate limit is deployed at the params' values, then
 * moved to follow the quota (adapters/queues/queue-rates.ts); the gate is the exact limit. Handlers never sleep on quota: a deferred item is
 * re-enqueued for its time and the task ends.
 */
function workQueue(provider: WorkQueueProvider) {
  const params = workQueueParams(provider);
  return onTaskDispatched(
    {
      timeoutSeconds: WORK_TIMEOUT_SECONDS,
      secrets: secretsOf(provider),
      retryConfig: { maxAttempts: params.maxAttempts, minBackoffSeconds: 10 },
      rateLimits: {
        maxDispatchesPerSecond: params.dispatchesPerSecond,
        maxConcurrentDispatches: params.concurrentDispatches,
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
export const smartproxyWork = workQueue('smartproxy');
