// The health report: the verdict, its reasons and notes, and each check's findings as served by
// the health endpoint.
import type { TaskQueueStatus } from '../queues/task-queue-status';
import type { HealthConfig } from './health-config';
import type { UnreadableTaskQueue } from './health-input';

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
