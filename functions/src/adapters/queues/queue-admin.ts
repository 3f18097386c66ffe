import { v2beta3 } from '@google-cloud/tasks';
import { googleAuthLibrary } from 'google-gax';
import type { QueueRate } from '../../core/queues/queue-rate';
import type { TaskQueueStatus } from '../../core/queues/task-queue-status';
import { emulatedCloudTasksHost, projectId } from '../firebase';
import { REGION } from '../region';

export type QueueStatus = TaskQueueStatus;

/**
 * Administration of the task queues behind the task-queue functions (one queue per function,
 * named after it), which firebase-admin's `taskQueue()` cannot do: stats, rate limits,
 * pause, resume and purge.
 */
export interface QueueAdmin {
  status(queue: string): Promise<QueueStatus>;
  setRate(queue: string, rate: QueueRate): Promise<void>;
  pause(queue: string): Promise<void>;
  resume(queue: string): Promise<void>;
  /** Drops every waiting task; returns how many waited just before (Cloud Tasks' count). */
  purge(queue: string): Promise<number>;
}

const STATES = ['UNKNOWN', 'RUNNING', 'PAUSED', 'DISABLED'] as const;

type Client = InstanceType<typeof v2beta3.CloudTasksClient>;
let client: Client | undefined;

/**
 * The Cloud Tasks admin client. It speaks Cloud Tasks' REST API (v2beta3: the one that returns
 * queue stats) in production and locally alike; emulated, it goes to the local stack's Cloud
 * Tasks over plain HTTP without credentials.
 */
function cloudTasks(): Client {
  if (client) return client;
  const emulated = emulatedCloudTasksHost();
  if (emulated) {
    const [host, port] = emulated.split(':');
    client = new v2beta3.CloudTasksClient({
      fallback: true,
      protocol: 'http',
      apiEndpoint: host,
      port: Number(port),
      authClient: new googleAuthLibrary.PassThroughClient(),
    });
  } else {
    client = new v2beta3.CloudTasksClient({ fallback: true });
  }
  return client;
}

function seconds(timestamp: { seconds?: unknown; nanos?: unknown } | null | undefined) {
  if (!timestamp) return undefined;
  return Number(timestamp.seconds ?? 0) + Number(timestamp.nanos ?? 0) / 1e9;
}

/** Cloud Tasks' admin API for this project and region. */
export function cloudTasksAdmin(now: () => number = Date.now): QueueAdmin {
  const name = (queue: string) => cloudTasks().queuePath(projectId(), REGION, queue);
  return {
    async status(queue) {
      const [found] = await cloudTasks().getQueue({
        name: name(queue),
        readMask: { paths: ['name', 'state', 'rate_limits', 'stats'] },
      });
      // The nearest schedule time of a waiting task: in the past, it is overdue by that much.
      const oldest = seconds(found.stats?.oldestEstimatedArrivalTime);
      const state = found.state ?? 'UNKNOWN';
      return {
        queue,
        state:
          typeof state === 'number'
            ? (STATES[state] ?? 'UNKNOWN')
            : (state as QueueStatus['state']),
        tasks: Number(found.stats?.tasksCount ?? 0),
        oldestTaskAgeSeconds:
          oldest === undefined ? null : Math.max(0, Math.round(now() / 1000 - oldest)),
        dispatchedLastMinute: Number(found.stats?.executedLastMinuteCount ?? 0),
        dispatchesInFlight: Number(found.stats?.concurrentDispatchesCount ?? 0),
        maxDispatchesPerSecond: Number(found.rateLimits?.maxDispatchesPerSecond ?? 0),
        maxConcurrentDispatches: Number(found.rateLimits?.maxConcurrentDispatches ?? 0),
      };
    },
    async setRate(queue, rate) {
      await cloudTasks().updateQueue({
        queue: { name: name(queue), rateLimits: rate },
        updateMask: {
          paths: ['rate_limits.max_dispatches_per_second', 'rate_limits.max_concurrent_dispatches'],
        },
      });
    },
    async pause(queue) {
      await cloudTasks().pauseQueue({ name: name(queue) });
    },
    async resume(queue) {
      await cloudTasks().resumeQueue({ name: name(queue) });
    },
    async purge(queue) {
      const before = await this.status(queue);
      await cloudTasks().purgeQueue({ name: name(queue) });
      return before.tasks;
    },
  };
}
