import type { Firestore } from 'firebase-admin/firestore';
import { latestQueueSamples, summarizeFleet } from '../../core/observability/fleet-summary';
import { cooldownRemainingSeconds, type QueueBacklog } from '../../core/observability/health-input';
import { errorRateOf } from '../../core/observability/upstream-usage';
import type { TaskQueueStatus } from '../../core/queues/task-queue-status';
import { logger } from '../../log';
import type { QueueAdmin } from '../queues/queue-admin';
import { instanceWriteBuffer } from '../storage/instance-write-buffer';
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
import {
  autosyncLag,
  cooldownLength,
  cooldownRemaining,
  FLEET_WINDOW_MINUTES,
  fleetQueueDepth,
  fleetQueueOldestAge,
  fleetQueueSampleAge,
  fleetUpstreamCalls,
  fleetUpstreamLatency,
  fleetWindowMinutes,
  queueBacklog,
  queueOldestAge,
  recentErrorRate,
  recentUsage,
  stateReadSuccess,
  TASK_QUEUE_GAUGES,
  taskQueueDispatched,
  taskQueueInFlight,
  taskQueueOverdue,
  taskQueuePaused,
  taskQueueRate,
  taskQueueTasks,
  validationLastRunAge,
  validationMarketplacePassRate,
  validationPassRate,
} from './state-gauges';

/**
 * Gauges computed from Firestore when the metrics endpoint is scraped, so they describe the
 * whole system rather than the one instance that serves the scrape (see observability.ts for
 * what Firestore can and cannot show). Counters in metrics.ts are per process: in Cloud
 * Functions every function runs in instances of its own, so a scrape of `metrics` sees only
 * its own process's counters.
 */

// Declared with the gauges; callers read it from here.
export { FLEET_WINDOW_MINUTES } from './state-gauges';

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
