import type { Firestore } from 'firebase-admin/firestore';
import { evaluateHealth, httpStatusOf } from '../../core/observability/health';
import { DEFAULT_HEALTH_CONFIG, type HealthConfig } from '../../core/observability/health-config';
import type { Check, UnreadableTaskQueue } from '../../core/observability/health-input';
import type { HealthReport } from '../../core/observability/health-report';
import type { TaskQueueStatus } from '../../core/queues/task-queue-status';
import { logger } from '../../log';
import { CONFIG_PATHS } from '../config-repository';
import type { QueueAdmin } from '../queues/queue-admin';
import {
  readCooldowns,
  readHealthConfig,
  readQueueBacklog,
  readUpstreamUsage,
} from './observability';

export const DEFAULT_HEALTH_TIMEOUT_MS = 5_000;

export interface HealthCheckOptions {
  /** The document read to prove Firestore answers (the scheduler heartbeat). */
  probePath: string;
  now?: () => number;
  /** Bound on each read; a read that takes longer counts as failed. */
  timeoutMs?: number;
  /** The Cloud Tasks queues to report, and the API to read their stats from. */
  taskQueues?: { admin: QueueAdmin; queues: readonly string[] };
}

export interface HealthCheckResult {
  httpStatus: 200 | 503;
  report: HealthReport;
  /** When the scheduler last ran (the probe document's `at`), if known. */
  lastHeartbeatAt: string | null;
}

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function check<T>(read: Promise<T>, timeoutMs: number, what: string): Promise<Check<T>> {
  try {
    return { ok: true, value: await withTimeout(read, timeoutMs) };
  } catch (error) {
    logger.warn({ err: error }, `health: ${what} not readable`);
    return { ok: false, error: (error as Error).message };
  }
}

/**
 * Reads everything the health verdict needs and evaluates it (core/observability/health.ts). Firestore is
 * probed first; when it does not answer nothing else is read. The other reads run in
 * parallel, each bounded, and a read that fails degrades the verdict with its reason.
 */
export async function checkHealth(
  db: Firestore,
  options: HealthCheckOptions,
): Promise<HealthCheckResult> {
  const now = options.now ?? Date.now;
  const timeoutMs = options.timeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS;
  const started = now();
  let lastHeartbeatAt: string | null = null;
  try {
    const probe = await withTimeout(db.doc(options.probePath).get(), timeoutMs);
    lastHeartbeatAt = probe.get('at')?.toDate?.()?.toISOString() ?? null;
  } catch (error) {
    logger.warn({ err: error }, 'health: Firestore unreachable');
    const report = evaluateHealth({
      nowMs: now(),
      config: DEFAULT_HEALTH_CONFIG,
      firestore: { ok: false, error: (error as Error).message },
    });
    return { httpStatus: httpStatusOf(report), report, lastHeartbeatAt };
  }
  const latencyMs = now() - started;

  const nowMs = now();
  // Only the usage read needs the thresholds (its window); the others start at once.
  const configured = check(readHealthConfig(db), timeoutMs, 'health thresholds').then(
    (thresholds): { config: HealthConfig; configProblem?: string } =>
      thresholds.ok
        ? { config: thresholds.value.config, configProblem: thresholds.value.problem }
        : {
            config: DEFAULT_HEALTH_CONFIG,
            configProblem: `health thresholds not readable (defaults used): ${thresholds.error}`,
          },
  );
  const taskQueues = options.taskQueues;
  const [{ config, configProblem }, backlog, usage, cooldowns, queues, flags] = await Promise.all([
    configured,
    check(readQueueBacklog(db, nowMs), timeoutMs, 'queue backlog'),
    configured.then(({ config }) =>
      check(readUpstreamUsage(db, nowMs, config.errorWindowMinutes), timeoutMs, 'usage statistics'),
    ),
    check(readCooldowns(db), timeoutMs, 'cooldowns'),
    taskQueues
      ? check(readTaskQueues(taskQueues.admin, taskQueues.queues), timeoutMs, 'task queues')
      : undefined,
    db
      .doc(CONFIG_PATHS.flags)
      .get()
      .then((doc) => doc.get('maintenance') === true)
      .catch(() => false),
  ]);
  const report = evaluateHealth({
    nowMs,
    config,
    configProblem,
    firestore: { ok: true, latencyMs },
    backlog,
    usage,
    cooldowns,
    taskQueues: queues,
    maintenance: flags,
  });
  if (report.status !== 'ok') logger.warn({ reasons: report.reasons }, 'health: degraded');
  return { httpStatus: httpStatusOf(report), report, lastHeartbeatAt };
}

/** Every queue's stats; one that cannot be read is reported as such, the others still are. */
export async function readTaskQueues(
  admin: QueueAdmin,
  queues: readonly string[],
): Promise<Array<TaskQueueStatus | UnreadableTaskQueue>> {
  const settled = await Promise.allSettled(queues.map((queue) => admin.status(queue)));
  return settled.map((result, i) =>
    result.status === 'fulfilled'
      ? result.value
      : { queue: queues[i]!, error: (result.reason as Error).message },
  );
}

/** How long one health check answers the public status (per instance). */
export const PUBLIC_HEALTH_MAX_AGE_MS = 20_000;

/** A check that threw (checkHealth catches what it reads; this is for what it did not foresee). */
function failedCheck(error: unknown, nowMs: number): HealthCheckResult {
  const report = evaluateHealth({
    nowMs,
    config: DEFAULT_HEALTH_CONFIG,
    firestore: { ok: true, latencyMs: 0 },
  });
  report.status = 'degraded';
  report.reasons.push(`health check failed: ${(error as Error)?.message ?? String(error)}`);
  return { httpStatus: 503, report, lastHeartbeatAt: null };
}

/**
 * One instance's health checks: a result answers for `maxAgeMs` from when its check started,
 * and requests meanwhile share the check under way, so however many requests arrive, Firestore
 * and Cloud Tasks are read at most once per `maxAgeMs` for them. `fresh()` starts a check now
 * (for the detail an operator asks for); its result serves the public answer too.
 */
export class HealthCache {
  private last: { startedAtMs: number; result: HealthCheckResult } | undefined;
  private running: Promise<HealthCheckResult> | undefined;
  /** Checks started (for tests and logs). */
  checks = 0;

  constructor(
    private readonly check: () => Promise<HealthCheckResult>,
    private readonly options: { maxAgeMs?: number; now?: () => number } = {},
  ) {}

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /** The last result while it is young enough; else the check under way, or a new one. */
  current(): Promise<HealthCheckResult> {
    const maxAgeMs = this.options.maxAgeMs ?? PUBLIC_HEALTH_MAX_AGE_MS;
    if (this.last && this.now() - this.last.startedAtMs < maxAgeMs) {
      return Promise.resolve(this.last.result);
    }
    return this.running ?? this.start();
  }

  /** A check that starts now. */
  fresh(): Promise<HealthCheckResult> {
    return this.start();
  }

  private start(): Promise<HealthCheckResult> {
    const startedAtMs = this.now();
    this.checks++;
    const running = this.check()
      .catch((error: unknown) => {
        logger.error({ err: error }, 'health: the check failed');
        return failedCheck(error, this.now());
      })
      .then((result) => {
        if (!this.last || this.last.startedAtMs <= startedAtMs) this.last = { startedAtMs, result };
        return result;
      })
      .finally(() => {
        if (this.running === running) this.running = undefined;
      });
    this.running = running;
    return running;
  }
}

/** What anyone may see: the verdict only (the HTTP status says it too). */
export function publicHealthBody(result: HealthCheckResult): { status: 'ok' | 'degraded' } {
  return { status: result.report.status };
}

/** What the metrics token or a role sees: the whole report. */
export function healthDetailBody(result: HealthCheckResult, version: string) {
  const { report, lastHeartbeatAt } = result;
  return {
    status: report.status,
    version,
    checkedAt: report.checkedAt,
    reasons: report.reasons,
    notes: report.notes,
    firestore: report.firestore,
    scheduler: { lastHeartbeatAt },
    queues: report.queues,
    upstreams: report.upstreams,
    cooldowns: report.cooldowns,
    taskQueues: report.taskQueues,
    thresholds: report.thresholds,
  };
}
