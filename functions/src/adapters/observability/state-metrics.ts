import type { Firestore } from 'firebase-admin/firestore';
import { Gauge } from 'prom-client';
import { latestQueueSamples, summarizeFleet } from '../../core/observability/fleet-summary';
import {
  cooldownRemainingSeconds,
  errorRateOf,
  type QueueBacklog,
} from '../../core/observability/health';
import type { TaskQueueStatus } from '../../core/queues/task-queue-status';
import { logger } from '../../log';
import type { QueueAdmin } from '../queues/queue-admin';
import { instanceWriteBuffer } from '../storage/write-buffer';
import type { MergeSink } from './fleet-recorder';
import { queueSamplesOf, readRecentFleet, writeQueueSamples } from './fleet-stats';
import { readTaskQueues, withTimeout } from './health';
import { bufferedWrites, metricsRegistry } from './metrics';
import {
  readAutosyncWatermarks,
  readCooldowns,
  readHealthConfig,
  readLatestValidationRun,
  readProviderIds,
  readQueueBacklog,
  readUpstreamUsage,
} from './observability';

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
  help: 'Whether the last scrape could read a source (1) or not (0): backlog, usage, cooldowns, fleet, validation, autosync (Firestore), task_queues (Cloud Tasks).',
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

export const cooldownLength = new Gauge({
  name: 'tollgate_cooldown_length_seconds',
  help: "The running cooldown's whole length (until - started), by provider (absent when none runs or its start is unknown).",
  labelNames: ['provider'] as const,
  registers,
});

/** Minutes of per-minute fleet statistics the fleet gauges sum (the current minute included). */
export const FLEET_WINDOW_MINUTES = 5;

export const fleetUpstreamCalls = new Gauge({
  name: 'tollgate_fleet_upstream_calls',
  help: `Upstream HTTP attempts of all instances over the last ${FLEET_WINDOW_MINUTES} minutes (the current one included), by provider, operation and outcome (ok, quota, http_4xx, http_5xx, timeout, network), from the per-minute fleet statistics in Firestore.`,
  labelNames: ['provider', 'operation', 'outcome'] as const,
  registers,
});

export const fleetUpstreamLatency = new Gauge({
  name: 'tollgate_fleet_upstream_latency_seconds',
  help: `Upstream HTTP attempt latency of all instances over the last ${FLEET_WINDOW_MINUTES} minutes, by provider, operation and quantile (0.5, 0.95), from merged fixed-bucket histograms (exact to the bucket).`,
  labelNames: ['provider', 'operation', 'quantile'] as const,
  registers,
});

export const fleetWindowMinutes = new Gauge({
  name: 'tollgate_fleet_window_minutes',
  help: 'Minutes the tollgate_fleet_* gauges cover (divide by 60 times this for a per-second rate).',
  registers,
});

export const fleetQueueDepth = new Gauge({
  name: 'tollgate_fleet_queue_depth',
  help: `Queue depth last sampled into the fleet statistics within the last ${FLEET_WINDOW_MINUTES} minutes (by the heartbeat or a metrics scrape), by queue and source (cloud_tasks: the provider queues' tasks; firestore: ingest and aggregation backlogs).`,
  labelNames: ['queue', 'source'] as const,
  registers,
});

export const fleetQueueSampleAge = new Gauge({
  name: 'tollgate_fleet_queue_sample_age_seconds',
  help: 'Age of the queue sample tollgate_fleet_queue_depth shows: a queue whose stats stopped being readable keeps its last sample, which ages here.',
  labelNames: ['queue', 'source'] as const,
  registers,
});

export const fleetQueueOldestAge = new Gauge({
  name: 'tollgate_fleet_queue_oldest_age_seconds',
  help: "Age of a queue's oldest waiting task or item in the last fleet sample (absent when none waits or it is unknown).",
  labelNames: ['queue', 'source'] as const,
  registers,
});

export const validationPassRate = new Gauge({
  name: 'tollgate_validation_pass_rate',
  help: 'Products that passed every data-validation rule in the latest completed run, per product checked (absent before a run with products).',
  registers,
});

export const validationMarketplacePassRate = new Gauge({
  name: 'tollgate_validation_marketplace_pass_rate',
  help: "The latest completed validation run's pass rate, by marketplace.",
  labelNames: ['marketplace'] as const,
  registers,
});

export const validationLastRunAge = new Gauge({
  name: 'tollgate_validation_last_run_age_seconds',
  help: 'Time since the latest completed data-validation run completed.',
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

/** Where a scrape records the queue depths it read (at most once a minute per sink). */
export interface StateMetricsOptions {
  queueSamples?: MergeSink;
}

const sampledMinute = new WeakMap<MergeSink, number>();

async function refresh(
  db: Firestore,
  nowMs: number,
  taskQueues: TaskQueueSource | undefined,
  options: StateMetricsOptions,
): Promise<void> {
  bufferedWrites.set(instanceWriteBuffer().stats().pendingUpdates);
  let taskStatuses: Array<TaskQueueStatus | { queue: string; error: string }> = [];
  let backlog: QueueBacklog[] = [];
  if (!taskQueues) {
    for (const gauge of TASK_QUEUE_GAUGES) gauge.reset();
    stateReadSuccess.remove({ source: 'task_queues' });
  }
  await Promise.all([
    taskQueues &&
      attempt('task_queues', async () => {
        const statuses = await readTaskQueues(taskQueues.admin, taskQueues.queues);
        taskStatuses = statuses;
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
      backlog = queues;
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
      cooldownLength.reset();
      for (const provider of providers) cooldownRemaining.set({ provider }, 0);
      for (const c of cooldowns) {
        cooldownRemaining.set({ provider: c.provider }, cooldownRemainingSeconds(c, nowMs));
        if (c.untilMs > nowMs && c.startedAtMs !== null) {
          cooldownLength.set(
            { provider: c.provider },
            Math.max(0, (c.untilMs - c.startedAtMs) / 1000),
          );
        }
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
    attempt('fleet', async () => {
      const { fromMs, docs } = await readRecentFleet(db, nowMs, FLEET_WINDOW_MINUTES);
      const { totals } = summarizeFleet(docs, { fromMs, stepMs: FLEET_WINDOW_MINUTES * 60_000 });
      fleetUpstreamCalls.reset();
      fleetUpstreamLatency.reset();
      fleetQueueDepth.reset();
      fleetQueueOldestAge.reset();
      fleetQueueSampleAge.reset();
      fleetWindowMinutes.set(FLEET_WINDOW_MINUTES);
      for (const t of totals) {
        const { provider, operation } = t;
        for (const [outcome, n] of Object.entries(t.outcomes)) {
          fleetUpstreamCalls.set({ provider, operation, outcome }, n);
        }
        for (const [quantile, ms] of [
          ['0.5', t.p50Ms],
          ['0.95', t.p95Ms],
        ] as const) {
          if (ms !== null) fleetUpstreamLatency.set({ provider, operation, quantile }, ms / 1000);
        }
      }
      for (const q of latestQueueSamples(docs, fromMs)) {
        fleetQueueDepth.set({ queue: q.queue, source: q.source }, q.depth);
        if (q.sampledAtMs !== undefined) {
          const age = Math.max(0, (nowMs - q.sampledAtMs) / 1000);
          fleetQueueSampleAge.set({ queue: q.queue, source: q.source }, age);
        }
        if (q.oldestAgeSeconds !== null) {
          fleetQueueOldestAge.set({ queue: q.queue, source: q.source }, q.oldestAgeSeconds);
        }
      }
    }),
    attempt('validation', async () => {
      const run = await readLatestValidationRun(db);
      validationPassRate.reset();
      validationMarketplacePassRate.reset();
      validationLastRunAge.reset();
      if (!run) return;
      if (run.passRate !== null) validationPassRate.set(run.passRate);
      for (const [marketplace, rate] of Object.entries(run.marketplaces)) {
        if (rate !== null) validationMarketplacePassRate.set({ marketplace }, rate);
      }
      if (run.completedAtMs !== null) {
        validationLastRunAge.set(Math.max(0, (nowMs - run.completedAtMs) / 1000));
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
  const sink = options.queueSamples;
  const minute = Math.floor(nowMs / 60_000);
  if (sink && sampledMinute.get(sink) !== minute) {
    const samples = queueSamplesOf(taskStatuses, backlog, nowMs);
    if (samples.length > 0) {
      sampledMinute.set(sink, minute);
      // Awaited (bounded): between requests Cloud Functions throttles the buffer's timer.
      try {
        await withTimeout(writeQueueSamples(sink, samples, nowMs), READ_TIMEOUT_MS);
      } catch (error) {
        logger.warn({ err: error }, 'metrics: queue depths not recorded');
      }
    }
  }
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
  options: StateMetricsOptions = {},
): Promise<void> {
  inflight ??= refresh(db, nowMs, taskQueues, options).finally(() => {
    inflight = undefined;
  });
  return inflight;
}

/** The Prometheus text exposition with fresh Firestore gauges. */
export async function renderMetrics(
  db: Firestore,
  nowMs = Date.now(),
  taskQueues?: TaskQueueSource,
  options: StateMetricsOptions = {},
): Promise<{ contentType: string; body: string }> {
  await refreshStateMetrics(db, nowMs, taskQueues, options);
  return { contentType: metricsRegistry.contentType, body: await metricsRegistry.metrics() };
}
