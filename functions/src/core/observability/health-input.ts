// What the health evaluation is given: each check's reading (queue backlog, usage, cooldowns, task
// queues) or why it could not be read.
import type { TaskQueueStatus } from '../queues/task-queue-status';
import type { HealthConfig } from './health-config';
import type { UpstreamUsage } from './upstream-usage';

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
