import { cooldownRemainingSeconds, type HealthInput } from './health-input';
import type { HealthReport } from './health-report';
import { attemptsOf, errorRateOf } from './upstream-usage';

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
