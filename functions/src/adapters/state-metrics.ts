import type { Firestore } from 'firebase-admin/firestore';
import { Gauge } from 'prom-client';
import { cooldownRemainingSeconds, errorRateOf } from '../core/health';
import { logger } from '../log';
import { readTaskQueues, withTimeout } from './health';
import { bufferedWrites, metricsRegistry } from './metrics';
import {
  readAutosyncWatermarks,
  readCooldowns,
  readHealthConfig,
  readProviderIds,
  readQueueBacklog,
  readUpstreamUsage,
} from './observability';
import type { QueueAdmin } from './queue-admin';
import { instanceWriteBuffer } from './write-buffer';

/**
 * Gauges computed from Firestore when the metrics endpoint is scraped, so they describe the
 * whole system rather than the one instance that serves the scrape (see observability.ts for
 * what Firestore can and cannot show). Counters in metrics.ts are per process: in Cloud
 * Functions every function runs in instances of its own, so a scrape of `metrics` sees only
 * its own process's counters.
 */

const registers = [metricsRegistry];

export const queueBacklog = new Gauge({
  name: 'tollgate_queue_backlog',
  help: 'Items waiting per queue and stage, from Firestore (ingest: peek, commit, light_due; aggregations: pending).',
  labelNames: ['queue', 'stage'] as const,
  registers,
});

export const queueOldestAge = new Gauge({
  name: 'tollgate_queue_oldest_age_seconds',
  help: "Age of a queue's oldest waiting item (ingest queues; absent when empty or unknown).",
  labelNames: ['queue'] as const,
  registers,
});

export const cooldownRemaining = new Gauge({
  name: 'tollgate_cooldown_remaining_seconds',
  help: 'Seconds until a provider may be called again after a quota error (0: not cooling down).',
  labelNames: ['provider'] as const,
  registers,
});

export const recentUsage = new Gauge({
  name: 'tollgate_usage_recent',
  help: 'Per-minute usage statistics of all instances summed over the health error window (config/pipeline health.errorWindowMinutes), by provider and counter (granted, deferred, calls, quota429).',
  labelNames: ['provider', 'counter'] as const,
  registers,
});

export const recentErrorRate = new Gauge({
  name: 'tollgate_upstream_quota_error_ratio',
  help: 'Quota errors per upstream call over the health error window, by provider (absent without calls).',
  labelNames: ['provider'] as const,
  registers,
});

export const autosyncLag = new Gauge({
  name: 'tollgate_autosync_lag_seconds',
  help: "Time since an auto-sync source's watermark (everything before it is stored).",
  labelNames: ['source'] as const,
  registers,
});

export const stateReadSuccess = new Gauge({
  name: 'tollgate_state_read_success',
  help: 'Whether the last scrape could read a source (1) or not (0): backlog, usage, cooldowns, autosync (Firestore), task_queues (Cloud Tasks).',
  labelNames: ['source'] as const,
  registers,
});

export const taskQueueTasks = new Gauge({
  name: 'tollgate_task_queue_tasks',
  help: 'Tasks waiting in a provider queue (Cloud Tasks queue stats; scheduled ones included).',
  labelNames: ['queue'] as const,
  registers,
});

export const taskQueueOverdue = new Gauge({
  name: 'tollgate_task_queue_oldest_overdue_seconds',
  help: 'How long the task due first in a provider queue has waited past its schedule time (0: none due).',
  labelNames: ['queue'] as const,
  registers,
});

export const taskQueueDispatched = new Gauge({
  name: 'tollgate_task_queue_dispatched_last_minute',
  help: 'Dispatches a provider queue made in the last minute (Cloud Tasks queue stats).',
  labelNames: ['queue'] as const,
  registers,
});

export const taskQueueInFlight = new Gauge({
  name: 'tollgate_task_queue_dispatches_in_flight',
  help: 'Dispatches of a provider queue not yet answered.',
  labelNames: ['queue'] as const,
  registers,
});

export const taskQueueRate = new Gauge({
  name: 'tollgate_task_queue_max_dispatches_per_second',
  help: "A provider queue's dispatch rate, which follows its provider's quota.",
  labelNames: ['queue'] as const,
  registers,
});

export const taskQueuePaused = new Gauge({
  name: 'tollgate_task_queue_paused',
  help: 'Whether a provider queue is paused (1: maintenance mode, or by hand) or not (0).',
  labelNames: ['queue'] as const,
  registers,
});

const TASK_QUEUE_GAUGES = [
  taskQueueTasks,
  taskQueueOverdue,
  taskQueueDispatched,
  taskQueueInFlight,
  taskQueueRate,
  taskQueuePaused,
];

/** The Cloud Tasks queues the metrics report, and the API to read their stats from. */
export interface TaskQueueSource {
  admin: QueueAdmin;
  queues: readonly string[];
}

const READ_TIMEOUT_MS = 5_000;

async function attempt(source: string, read: () => Promise<void>): Promise<void> {
  try {
    await withTimeout(read(), READ_TIMEOUT_MS);
    stateReadSuccess.set({ source }, 1);
  } catch (error) {
    stateReadSuccess.set({ source }, 0);
    logger.warn({ err: error, source }, 'metrics: state not readable');
  }
}

async function refresh(
  db: Firestore,
  nowMs: number,
  taskQueues: TaskQueueSource | undefined,
): Promise<void> {
  bufferedWrites.set(instanceWriteBuffer().stats().pendingUpdates);
  if (!taskQueues) {
    for (const gauge of TASK_QUEUE_GAUGES) gauge.reset();
    stateReadSuccess.remove({ source: 'task_queues' });
  }
  await Promise.all([
    taskQueues &&
      attempt('task_queues', async () => {
        const statuses = await readTaskQueues(taskQueues.admin, taskQueues.queues);
        for (const gauge of TASK_QUEUE_GAUGES) gauge.reset();
        const unreadable = statuses.filter((q) => 'error' in q);
        for (const q of statuses) {
          if ('error' in q) continue;
          const queue = q.queue;
          taskQueueTasks.set({ queue }, q.tasks);
          if (q.oldestTaskAgeSeconds !== null) {
            taskQueueOverdue.set({ queue }, q.oldestTaskAgeSeconds);
          }
          taskQueueDispatched.set({ queue }, q.dispatchedLastMinute);
          taskQueueInFlight.set({ queue }, q.dispatchesInFlight);
          taskQueueRate.set({ queue }, q.maxDispatchesPerSecond);
          taskQueuePaused.set({ queue }, q.state === 'PAUSED' ? 1 : 0);
        }
        // The readable queues' gauges stay; the source is marked unread for the others.
        if (unreadable.length > 0) {
          throw new Error(unreadable.map((q) => `${q.queue}: ${q.error}`).join('; '));
        }
      }),
    attempt('backlog', async () => {
      const queues = await readQueueBacklog(db, nowMs);
      queueBacklog.reset();
      queueOldestAge.reset();
      for (const q of queues) {
        if (q.queue.startsWith('ingest/')) {
          for (const [stage, key] of [
            ['peek', 'peek'],
            ['commit', 'commit'],
            ['light_due', 'lightDue'],
          ] as const) {
            queueBacklog.set({ queue: q.queue, stage }, q.stages[key] ?? 0);
          }
        } else {
          queueBacklog.set({ queue: q.queue, stage: 'pending' }, q.pending);
        }
        if (q.pending > 0 && q.oldestAtMs !== null) {
          queueOldestAge.set({ queue: q.queue }, Math.max(0, (nowMs - q.oldestAtMs) / 1000));
        }
      }
    }),
    attempt('cooldowns', async () => {
      const [providers, cooldowns] = await Promise.all([readProviderIds(db), readCooldowns(db)]);
      cooldownRemaining.reset();
      for (const provider of providers) cooldownRemaining.set({ provider }, 0);
      for (const c of cooldowns) {
        cooldownRemaining.set({ provider: c.provider }, cooldownRemainingSeconds(c, nowMs));
      }
    }),
    attempt('usage', async () => {
      const { config } = await readHealthConfig(db);
      const usage = await readUpstreamUsage(db, nowMs, config.errorWindowMinutes);
      recentUsage.reset();
      recentErrorRate.reset();
      for (const u of usage) {
        recentUsage.set({ provider: u.provider, counter: 'granted' }, u.granted);
        recentUsage.set({ provider: u.provider, counter: 'deferred' }, u.deferred);
        recentUsage.set({ provider: u.provider, counter: 'calls' }, u.calls);
        recentUsage.set({ provider: u.provider, counter: 'quota429' }, u.quotaErrors);
        const rate = errorRateOf(u);
        if (rate !== null) recentErrorRate.set({ provider: u.provider }, rate);
      }
    }),
    attempt('autosync', async () => {
      const sources = await readAutosyncWatermarks(db);
      autosyncLag.reset();
      for (const s of sources) {
        if (s.watermarkMs !== null) {
          autosyncLag.set({ source: s.source }, Math.max(0, (nowMs - s.watermarkMs) / 1000));
        }
      }
    }),
  ]);
}

let inflight: Promise<void> | undefined;

/**
 * Recomputes the Firestore gauges. Concurrent scrapes share one refresh, so no scrape sees
 * another's half-reset gauges.
 */
export function refreshStateMetrics(
  db: Firestore,
  nowMs = Date.now(),
  taskQueues?: TaskQueueSource,
): Promise<void> {
  inflight ??= refresh(db, nowMs, taskQueues).finally(() => {
    inflight = undefined;
  });
  return inflight;
}

/** The Prometheus text exposition with fresh Firestore gauges. */
export async function renderMetrics(
  db: Firestore,
  nowMs = Date.now(),
  taskQueues?: TaskQueueSource,
): Promise<{ contentType: string; body: string }> {
  await refreshStateMetrics(db, nowMs, taskQueues);
  return { contentType: metricsRegistry.contentType, body: await metricsRegistry.metrics() };
}
