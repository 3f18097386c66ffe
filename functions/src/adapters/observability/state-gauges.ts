import { Gauge } from 'prom-client';
import { metricsRegistry } from './metrics';

/**
 * The gauges state-metrics.ts sets from Firestore and Cloud Tasks at each scrape, registered
 * with the process's metrics.
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

export const TASK_QUEUE_GAUGES = [
  taskQueueTasks,
  taskQueueOverdue,
  taskQueueDispatched,
  taskQueueInFlight,
  taskQueueRate,
  taskQueuePaused,
];
