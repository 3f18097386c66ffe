import type { Firestore } from 'firebase-admin/firestore';
import { categoryWork } from '../core/pipeline/category-work';
import {
  WORK_QUEUE_PROVIDERS,
  type WorkQueueProvider,
  workQueueName,
} from '../core/pipeline/work-items';
import { type QueueRate, queueRateFor } from '../core/queue-rate';
import type { WorkCall } from '../core/quota/share-check';
import { logger } from '../log';
import { loadRuntimeConfig } from './config-repository';
import { INGEST_FUNCTION } from './ingest-queue';
import type { QueueAdmin, QueueStatus } from './queue-admin';
import { readWorkSources } from './work-shares';

/** A task queue whose tasks spend a provider's quota. */
export interface ProviderQueue {
  provider: string;
  queue: string;
  /** Its rate follows the provider's quota (work queues); otherwise only its state is kept. */
  followsQuota: boolean;
}

export const PROVIDER_QUEUES: readonly ProviderQueue[] = [
  ...WORK_QUEUE_PROVIDERS.map((provider) => ({
    provider,
    queue: workQueueName(provider),
    followsQuota: true,
  })),
  { provider: 'keepa', queue: INGEST_FUNCTION, followsQuota: false },
];

export interface QueueSync {
  queue: string;
  provider: string;
  rate?: { from: QueueRate; to: QueueRate };
  state?: { from: QueueStatus['state']; to: 'RUNNING' | 'PAUSED' };
  error?: string;
}

export interface QueueSyncDeps {
  db: Firestore;
  admin: QueueAdmin;
  /** The deploy-time bounds of a provider's work queue. */
  deployed: (provider: WorkQueueProvider) => QueueRate;
  queues?: readonly ProviderQueue[];
}

function sameRate(a: QueueRate, b: QueueRate): boolean {
  return (
    Math.abs(a.maxDispatchesPerSecond - b.maxDispatchesPerSecond) < 1e-9 &&
    a.maxConcurrentDispatches === b.maxConcurrentDispatches
  );
}

/**
 * Brings the provider queues in line with the configuration: a work queue dispatches just above
 * what the gate will grant its provider's work (core/queue-rate.ts), and every provider queue is
 * paused while maintenance mode is on and running otherwise. Tollgate owns these queues' state:
 * a queue paused by hand is resumed here. Idempotent (a queue already in line is only read), so
 * it runs after every share or limit change and on the heartbeat. One queue's failure does not
 * stop the others; it is reported in its entry.
 */
export async function syncProviderQueues(
  deps: QueueSyncDeps,
  providers?: readonly string[],
): Promise<QueueSync[]> {
  const [config, sources] = await Promise.all([
    loadRuntimeConfig(deps.db),
    readWorkSources(deps.db),
  ]);
  const work = categoryWork({ ...config, ...sources });
  const queues = (deps.queues ?? PROVIDER_QUEUES).filter(
    (q) => !providers || providers.includes(q.provider),
  );
  return Promise.all(
    queues.map(async ({ provider: id, queue, followsQuota }): Promise<QueueSync> => {
      const sync: QueueSync = { queue, provider: id };
      try {
        const status = await deps.admin.status(queue);
        const provider = config.providers.find((p) => p.id === id);
        if (followsQuota && provider) {
          const calls: WorkCall[] = config.categories
            .filter((c) => c.provider === id)
            .flatMap((c) => work.get(c.id) ?? []);
          const target = queueRateFor(
            provider,
            config.categories,
            calls,
            deps.deployed(id as WorkQueueProvider),
          );
          const current = {
            maxDispatchesPerSecond: status.maxDispatchesPerSecond,
            maxConcurrentDispatches: status.maxConcurrentDispatches,
          };
          if (!sameRate(current, target)) {
            await deps.admin.setRate(queue, target);
            sync.rate = { from: current, to: target };
          }
        }
        const wanted = config.flags.maintenance ? 'PAUSED' : 'RUNNING';
        if (status.state !== wanted) {
          await (wanted === 'PAUSED' ? deps.admin.pause(queue) : deps.admin.resume(queue));
          sync.state = { from: status.state, to: wanted };
        }
      } catch (error) {
        sync.error = (error as Error).message;
        logger.warn({ err: error, queue, provider: id }, 'provider queue not brought in line');
      }
      return sync;
    }),
  );
}
