import { z } from 'zod';
import { formatPath } from '../config';
import type { TaskQueueStatus } from '../queues/task-queue-status';

/**
 * Health evaluation, pure: what the adapters read (Firestore reachability, queue backlog,
 * upstream quota errors per minute, cooldowns) goes in, a report and its verdict come out.
 *
 * Degraded (HTTP 503) when Firestore is unreachable, when a check could not be read, when a
 * provider's recent quota-error rate is above the threshold (on enough calls to judge), or
 * when a queue's backlog (Firestore's own, or a Cloud Tasks queue's) is above its size or age
 * threshold. An active cooldown is reported but is not degraded: cooling down after a 429 is
 * Tollgate working as intended; nor is a paused task queue (noted, unless maintenance is on).
 */

/** Thresholds, from `config/pipeline` field `health` (every field optional). */
export const healthConfigSchema = z.object({
  /** Share of a provider's recent calls answered "quota exceeded" above which it is degraded. */
  maxErrorRate: z.number().min(0).max(1).default(0.1),
  /** Fewer calls than this in the window: the rate is reported, not judged. */
  minCalls: z.number().int().min(1).default(20),
  /** The window the error rate is measured over, in whole minutes. */
  errorWindowMinutes: z.number().int().min(1).max(60).default(5),
  /** Pending items in any one queue above which it is degraded; null: no limit. */
  maxBacklog: z.number().int().positive().nullable().default(100_000),
  /** Age of a queue's oldest pending item above which it is degraded; null: no limit. */
  maxBacklogAgeMinutes: z
    .number()
    .positive()
    .nullable()
    .default(24 * 60),
});
export type HealthConfig = z.infer<typeof healthConfigSchema>;

export const DEFAULT_HEALTH_CONFIG: HealthConfig = healthConfigSchema.parse({});

/** Reads the thresholds; an invalid value never breaks the health check: defaults, and why. */
export function parseHealthConfig(raw: unknown): { config: HealthConfig; problem?: string } {
  const result = healthConfigSchema.safeParse(raw ?? {});
  if (result.success) return { config: result.data };
  return {
    config: DEFAULT_HEALTH_CONFIG,
    problem: `invalid config/pipeline health (defaults used): ${result.error.issues
      .map((i) => `${formatPath(i.path) || '(root)'}: ${i.message}`)
      .join('; ')}`,
  };
}

/** Pending work of one queue that Firestore can see. */
export interface QueueBacklog {
  /** `ingest/{collection}`, `aggregations`. */
  queue: string;
  /** Items waiting now (for ingest: peek + commit + light updates already due). */
  pending: number;
  /** Counts by stage, as stored. */
  stages: Record<string, number>;
  /** When the oldest pending item started waiting, if known. */
  oldestAtMs: number | null;
}

/** A provider's per-minute usage statistics summed over the window. */
export interface UpstreamUsage {
  provider: string;
  granted: number;
  deferred: number;
  /** Upstream calls, when the callers record them (otherwise grants stand for calls). */
  calls: number;
  quotaErrors: number;
}

export interface UsageSampleDoc {
  provider: string;
  minuteMs: number;
  granted?: number;
  deferred?: number;
  calls?: number;
  quota429?: number;
}

/** Sums per-minute usage documents at or after `sinceMs` per provider. */
export function summarizeUsage(docs: readonly UsageSampleDoc[], sinceMs: number): UpstreamUsage[] {
  const byProvider = new Map<string, UpstreamUsage>();
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  for (const doc of docs) {
    if (doc.minuteMs < sinceMs) continue;
    const usage = byProvider.get(doc.provider) ?? {
      provider: doc.provider,
      granted: 0,
      deferred: 0,
      calls: 0,
      quotaErrors: 0,
    };
    usage.granted += n(doc.granted);
    usage.deferred += n(doc.deferred);
    usage.calls += n(doc.calls);
    usage.quotaErrors += n(doc.quota429);
    byProvider.set(doc.provider, usage);
  }
  return [...byProvider.values()].sort((a, b) => a.provider.localeCompare(b.provider));
}

/** Calls made: recorded calls when there are any, else grants (each grant is one call). */
export function attemptsOf(usage: UpstreamUsage): number {
  return usage.calls > 0 ? usage.calls : usage.granted;
}

/** Quota errors per call, at most 1; null without calls. */
export function errorRateOf(usage: UpstreamUsage): number | null {
  const attempts = attemptsOf(usage);
  if (attempts <= 0) return null;
  return Math.min(1, usage.quotaErrors / attempts);
}

export interface CooldownState {
  provider: string;
  untilMs: number;
  startedAtMs: number | null;
  hits: number | null;
  lastOperation: string | null;
}

export function cooldownRemainingSeconds(cooldown: { untilMs: number }, nowMs: number): number {
  return Math.max(0, Math.ceil((cooldown.untilMs - nowMs) / 1000));
}

export type Check<T> = { ok: true; value: T } | { ok: false; error: string };

export interface HealthInput {
  nowMs: number;
  config: HealthConfig;
  /** A problem with the configured thresholds (the defaults were used). */
  configProblem?: string;
  firestore: { ok: true; latencyMs: number } | { ok: false; error: string };
  /** Absent when Firestore is unreachable (not read). */
  backlog?: Check<QueueBacklog[]>;
  usage?: Check<UpstreamUsage[]>;
  cooldowns?: Check<CooldownState[]>;
  /** The provider queues' Cloud Tasks stats, or why one could not be read; absent where none are administered. */
  taskQueues?: Check<Array<TaskQueueStatus | UnreadableTaskQueue>>;
  /** Maintenance mode: paused task queues are expected then. */
  maintenance?: boolean;
}

export interface UnreadableTaskQueue {
  queue: string;
  error: string;
}

export type TaskQueueReport = (TaskQueueStatus | UnreadableTaskQueue) & { degraded: boolean };

export interface QueueReport {
  queue: string;
  pending: number;
  stages: Record<string, number>;
  oldestAgeSeconds: number | null;
  degraded: boolean;
}

export interface UpstreamReport {
  provider: string;
  attempts: number;
  quotaErrors: number;
  granted: number;
  deferred: number;
  errorRate: number | null;
  /** Whether there were enough calls to judge the rate. */
  judged: boolean;
  degraded: boolean;
}

export interface CooldownReport {
  provider: string;
  until: string;
  remainingSeconds: number;
  hits: number | null;
  lastOperation: string | null;
}

export interface HealthReport {
  status: 'ok' | 'degraded';
  checkedAt: string;
  /** Why degraded; empty when ok. */
  reasons: string[];
  /** Worth knowing, not degraded (active cooldowns, invalid thresholds). */
  notes: string[];
  firestore: { ok: true; latencyMs: number } | { ok: false; error: string };
  queues: QueueReport[] | { error: string } | null;
  upstreams: UpstreamReport[] | { error: string } | null;
  /** Active cooldowns only. */
  cooldowns: CooldownReport[] | { error: string } | null;
  /** The provider queues in Cloud Tasks: depth, overdue age, dispatches, state. */
  taskQueues: TaskQueueReport[] | { error: string } | null;
  thresholds: HealthConfig;
}

function pct(rate: number): string {
  return `${Math.round(rate * 1000) / 10}%`;
}

export function evaluateHealth(input: HealthInput): HealthReport {
  const { nowMs, config } = input;
  const reasons: string[] = [];
  const notes: string[] = input.configProblem ? [input.configProblem] : [];
  const report: HealthReport = {
    status: 'ok',
    checkedAt: new Date(nowMs).toISOString(),
    reasons,
    notes,
    firestore: input.firestore,
    queues: null,
    upstreams: null,
    cooldowns: null,
    taskQueues: null,
    thresholds: config,
  };
  if (!input.firestore.ok) {
    reasons.push(`Firestore unreachable: ${input.firestore.error}`);
    report.status = 'degraded';
    return report;
  }

  if (input.backlog) {
    if (!input.backlog.ok) {
      reasons.push(`queue backlog not readable: ${input.backlog.error}`);
      report.queues = { error: input.backlog.error };
    } else {
      report.queues = input.backlog.value.map((q) => {
        const ageSeconds =
          q.oldestAtMs === null ? null : Math.max(0, Math.floor((nowMs - q.oldestAtMs) / 1000));
        let degraded = false;
        if (config.maxBacklog !== null && q.pending > config.maxBacklog) {
          reasons.push(`${q.queue}: ${q.pending} pending, above ${config.maxBacklog}`);
          degraded = true;
        }
        if (
          config.maxBacklogAgeMinutes !== null &&
          ageSeconds !== null &&
          q.pending > 0 &&
          ageSeconds > config.maxBacklogAgeMinutes * 60
        ) {
          reasons.push(
            `${q.queue}: oldest pending item waiting ${Math.floor(ageSeconds / 60)} min, above ${config.maxBacklogAgeMinutes} min`,
          );
          degraded = true;
        }
        return {
          queue: q.queue,
          pending: q.pending,
          stages: q.stages,
          oldestAgeSeconds: q.pending > 0 ? ageSeconds : null,
          degraded,
        };
      });
    }
  }

  if (input.taskQueues) {
    if (!input.taskQueues.ok) {
      reasons.push(`task queues not readable: ${input.taskQueues.error}`);
      report.taskQueues = { error: input.taskQueues.error };
    } else {
      report.taskQueues = input.taskQueues.value.map((q) => {
        if ('error' in q) {
          reasons.push(`task queue ${q.queue} not readable: ${q.error}`);
          return { ...q, degraded: true };
        }
        let degraded = false;
        if (config.maxBacklog !== null && q.tasks > config.maxBacklog) {
          reasons.push(`task queue ${q.queue}: ${q.tasks} tasks, above ${config.maxBacklog}`);
          degraded = true;
        }
        const overdue = q.oldestTaskAgeSeconds;
        if (
          config.maxBacklogAgeMinutes !== null &&
          overdue !== null &&
          overdue > config.maxBacklogAgeMinutes * 60
        ) {
          reasons.push(
            `task queue ${q.queue}: a task overdue by ${Math.floor(overdue / 60)} min, above ${config.maxBacklogAgeMinutes} min`,
          );
          degraded = true;
        }
        if (q.state === 'PAUSED' && !input.maintenance) {
          notes.push(
            `task queue ${q.queue} is paused outside maintenance (the heartbeat resumes it)`,
          );
        }
        return { ...q, degraded };
      });
    }
  }

  if (input.usage) {
    if (!input.usage.ok) {
      reasons.push(`upstream statistics not readable: ${input.usage.error}`);
      report.upstreams = { error: input.usage.error };
    } else {
      report.upstreams = input.usage.value.map((u) => {
        const attempts = attemptsOf(u);
        const errorRate = errorRateOf(u);
        const judged = attempts >= config.minCalls;
        const degraded = judged && errorRate !== null && errorRate > config.maxErrorRate;
        if (degraded) {
          reasons.push(
            `${u.provider}: ${pct(errorRate!)} of ${attempts} calls in the last ${config.errorWindowMinutes} min hit a quota error, above ${pct(config.maxErrorRate)}`,
          );
        }
        return {
          provider: u.provider,
          attempts,
          quotaErrors: u.quotaErrors,
          granted: u.granted,
          deferred: u.deferred,
          errorRate,
          judged,
          degraded,
        };
      });
    }
  }

  if (input.cooldowns) {
    if (!input.cooldowns.ok) {
      reasons.push(`cooldowns not readable: ${input.cooldowns.error}`);
      report.cooldowns = { error: input.cooldowns.error };
    } else {
      report.cooldowns = input.cooldowns.value
        .filter((c) => c.untilMs > nowMs)
        .sort((a, b) => a.provider.localeCompare(b.provider))
        .map((c) => ({
          provider: c.provider,
          until: new Date(c.untilMs).toISOString(),
          remainingSeconds: cooldownRemainingSeconds(c, nowMs),
          hits: c.hits,
          lastOperation: c.lastOperation,
        }));
      for (const c of report.cooldowns) {
        notes.push(`${c.provider} cooling down for ${c.remainingSeconds} s more (not degraded)`);
      }
    }
  }

  report.status = reasons.length > 0 ? 'degraded' : 'ok';
  return report;
}

export function httpStatusOf(report: HealthReport): 200 | 503 {
  return report.status === 'ok' ? 200 : 503;
}
