import type { Firestore } from 'firebase-admin/firestore';
import type { RuntimeConfig } from '../../core/config';
import { categoryWork } from '../../core/pipeline/category-work';
import {
  WORK_QUEUE_PROVIDERS,
  type WorkQueueProvider,
  workQueueName,
} from '../../core/pipeline/work-items';
import { type QueueRate, queueRateFor } from '../../core/queues/queue-rate';
import type { WorkCall } from '../../core/quota/share-check';
import { logger } from '../../log';
import { CONFIG_PATHS, loadRuntimeConfig } from '../config-repository';
import { readWorkSources, type WorkSources } from '../pipeline/work-shares';
import { INGEST_FUNCTION } from './ingest-queue';
import type { QueueAdmin, QueueStatus } from './queue-admin';

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

/** What the queues should be, from one read of the configuration. */
interface QueuePlan {
  maintenance: boolean;
  /** Per provider with a valid configuration, its work queue's rate. */
  rates: Map<string, QueueRate>;
  /** Why no rate could be computed (an invalid configuration); the state is still kept. */
  rateProblem?: string;
}

/**
 * The rate each provider's work queue should run at (queue-rate.ts) for a configuration and the
 * work its collections do: what the queue sync sets, and what policy replay runs under each
 * policy. Providers without a work queue are absent.
 */
export function workQueueRates(
  config: RuntimeConfig,
  sources: WorkSources,
  deployed: (provider: WorkQueueProvider) => QueueRate,
): Map<string, QueueRate> {
  const rates = new Map<string, QueueRate>();
  const work = categoryWork({ ...config, ...sources });
  for (const provider of config.providers) {
    if (!(WORK_QUEUE_PROVIDERS as readonly string[]).includes(provider.id)) continue;
    const ofProvider = config.categories.filter((c) => c.provider === provider.id);
    // Categories with something that can run on the queue: work now, or a collection (a
    // completed one's validation still re-collects through it).
    const working = new Set(
      ofProvider
        .filter(
          (c) =>
            (work.get(c.id)?.length ?? 0) > 0 ||
            sources.collections.some((col) => col.category === c.id),
        )
        .map((c) => c.id),
    );
    const calls: WorkCall[] = ofProvider.flatMap((c) => work.get(c.id) ?? []);
    rates.set(
      provider.id,
      queueRateFor(
        provider,
        config.categories,
        calls,
        deployed(provider.id as WorkQueueProvider),
        working,
      ),
    );
  }
  return rates;
}

async function readPlan(deps: QueueSyncDeps): Promise<QueuePlan> {
  // The flag alone decides the state, read raw as setMaintenanceMode writes it: an invalid
  // provider or category must never keep the queues running through maintenance.
  const flags = await deps.db.doc(CONFIG_PATHS.flags).get();
  const plan: QueuePlan = { maintenance: flags.get('maintenance') === true, rates: new Map() };
  try {
    const [config, sources] = await Promise.all([
      loadRuntimeConfig(deps.db),
      readWorkSources(deps.db),
    ]);
    plan.rates = workQueueRates(config, sources, deps.deployed);
  } catch (error) {
    plan.rateProblem = (error as Error).message;
  }
  return plan;
}

function samePlan(a: QueuePlan, b: QueuePlan): boolean {
  if (a.maintenance !== b.maintenance || a.rates.size !== b.rates.size) return false;
  for (const [provider, rate] of a.rates) {
    const other = b.rates.get(provider);
    if (!other || !sameRate(rate, other)) return false;
  }
  return true;
}

/** Passes a sync makes when the configuration keeps moving under it. */
const MAX_SYNC_PASSES = 3;

/**
 * Brings the provider queues in line with the configuration: a work queue dispatches just above
 * what the gate will grant its provider's work (core/queues/queue-rate.ts), and every provider queue is
 * paused while maintenance mode is on and running otherwise. Tollgate owns these queues' state:
 * a queue paused by hand is resumed here. Idempotent (a queue already in line is only read), so
 * it runs after every share or limit change and on the heartbeat.
 *
 * Syncs race (the heartbeat and an operator's change): each reads the queues first and the
 * configuration after, acts, then reads the configuration again and acts once more if it moved,
 * so the last to act acts on the newest configuration. One queue's failure does not stop the
 * others; it is reported in its entry, as is an invalid configuration (rates left alone).
 */
export async function syncProviderQueues(
  deps: QueueSyncDeps,
  providers?: readonly string[],
): Promise<QueueSync[]> {
  const queues = (deps.queues ?? PROVIDER_QUEUES).filter(
    (q) => !providers || providers.includes(q.provider),
  );
  const results = new Map<string, QueueSync>(
    queues.map((q) => [q.queue, { queue: q.queue, provider: q.provider }]),
  );
  for (let pass = 0; pass < MAX_SYNC_PASSES; pass++) {
    const statuses = await Promise.all(
      queues.map((q) =>
        deps.admin.status(q.queue).then(
          (status) => ({ status }),
          (error: Error) => ({ error }),
        ),
      ),
    );
    const plan = await readPlan(deps);
    await Promise.all(
      queues.map(async ({ provider, queue, followsQuota }, i) => {
        const sync = results.get(queue)!;
        const read = statuses[i]!;
        if ('error' in read) {
          sync.error = read.error.message;
          logger.warn({ err: read.error, queue, provider }, 'provider queue not readable');
          return;
        }
        delete sync.error;
        try {
          await act(deps.admin, read.status, followsQuota, plan, provider, sync);
        } catch (error) {
          sync.error = (error as Error).message;
          logger.warn({ err: error, queue, provider }, 'provider queue not brought in line');
        }
      }),
    );
    if (samePlan(plan, await readPlan(deps))) break;
  }
  return [...results.values()];
}

async function act(
  admin: QueueAdmin,
  status: QueueStatus,
  followsQuota: boolean,
  plan: QueuePlan,
  provider: string,
  sync: QueueSync,
): Promise<void> {
  const target = followsQuota ? plan.rates.get(provider) : undefined;
  if (followsQuota && plan.rateProblem) sync.error = `rate not synced: ${plan.rateProblem}`;
  if (target) {
    const current = {
      maxDispatchesPerSecond: status.maxDispatchesPerSecond,
      maxConcurrentDispatches: status.maxConcurrentDispatches,
    };
    if (!sameRate(current, target)) {
      await admin.setRate(status.queue, target);
      sync.rate = { from: sync.rate?.from ?? current, to: target };
    }
  }
  const wanted = plan.maintenance ? 'PAUSED' : 'RUNNING';
  if (status.state !== wanted) {
    await (wanted === 'PAUSED' ? admin.pause(status.queue) : admin.resume(status.queue));
    sync.state = { from: sync.state?.from ?? status.state, to: wanted };
  }
}
