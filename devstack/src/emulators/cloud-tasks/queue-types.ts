/**
 * What a local Cloud Tasks queue (queue.ts) is configured with, holds and reports: its rate and
 * retry settings, its tasks, the dispatcher that delivers them, its stats and totals.
 */

export interface RateLimits {
  maxDispatchesPerSecond: number;
  maxBurstSize: number;
  maxConcurrentDispatches: number;
}

export interface RetryConfig {
  /** -1: unlimited. Counts the first attempt. */
  maxAttempts: number;
  /** 0: unlimited. */
  maxRetrySeconds: number;
  minBackoffSeconds: number;
  maxBackoffSeconds: number;
  maxDoublings: number;
}

export type QueueState = 'RUNNING' | 'PAUSED';

export interface QueueConfig {
  /** projects/<p>/locations/<l>/queues/<id> */
  name: string;
  rateLimits: RateLimits;
  retryConfig: RetryConfig;
  /** Where a task without its own URL goes: the task-queue function. */
  defaultUri: string;
}

export interface NewTask {
  /** Full resource name; generated when absent. */
  name?: string;
  url?: string;
  body: string;
  headers?: Record<string, string>;
  scheduleTimeMs?: number;
  dispatchDeadlineSeconds?: number;
}

export interface QueuedTask {
  name: string;
  url: string;
  body: string;
  headers: Record<string, string>;
  createTimeMs: number;
  /** The original schedule time (the ETA header). */
  etaMs: number;
  /** When it may next be dispatched: the schedule time, or after a retry's backoff. */
  dueMs: number;
  dispatchDeadlineSeconds: number;
  dispatchCount: number;
  responseCount: number;
  firstAttemptMs?: number;
  lastStatus?: number;
}

export interface DispatchResult {
  /** HTTP status, or undefined when the request failed (refused, timed out). */
  status?: number;
}

export type Dispatcher = (
  task: QueuedTask,
  headers: Record<string, string>,
) => Promise<DispatchResult>;

export interface QueueStats {
  tasksCount: number;
  oldestEstimatedArrivalTimeMs?: number;
  executedLastMinuteCount: number;
  concurrentDispatchesCount: number;
  effectiveExecutionRate: number;
}

export interface Clock {
  now(): number;
}

/** Since the queue started: what a test measures a run by (Cloud Tasks has no such totals). */
export interface QueueTotals {
  added: number;
  dispatches: number;
  delivered: number;
  dropped: number;
  purged: number;
}
