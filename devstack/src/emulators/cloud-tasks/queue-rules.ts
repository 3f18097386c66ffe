import type { RateLimits, RetryConfig } from './queue-types.ts';

/**
 * Cloud Tasks' defaults and rules for a queue: default rates and retries, the limits, the burst
 * a rate gets, how long a task's name stays taken, and the backoff between attempts.
 */

/** Cloud Tasks' defaults for an HTTP target queue. */
export const DEFAULT_RATE_LIMITS: RateLimits = {
  maxDispatchesPerSecond: 500,
  maxBurstSize: 100,
  maxConcurrentDispatches: 1000,
};
export const DEFAULT_RETRY: RetryConfig = {
  maxAttempts: 100,
  maxRetrySeconds: 0,
  minBackoffSeconds: 0.1,
  maxBackoffSeconds: 3600,
  maxDoublings: 16,
};
/** An HTTP task's default dispatch deadline (10 minutes). */
export const DEFAULT_DISPATCH_DEADLINE_SECONDS = 600;
export const MAX_DISPATCHES_PER_SECOND = 500;
export const MAX_CONCURRENT_DISPATCHES = 5000;

/** Cloud Tasks derives the bucket size from the rate; at least one token. */
export function burstFor(maxDispatchesPerSecond: number): number {
  return Math.max(1, Math.min(MAX_DISPATCHES_PER_SECOND, Math.ceil(maxDispatchesPerSecond)));
}

/** How long Cloud Tasks keeps a finished or deleted task's name taken ("about an hour"). */
export const NAME_REUSE_MS = 60 * 60_000;

/** Backoff before the next attempt: doubles maxDoublings times, then grows linearly. */
export function backoffMs(retry: RetryConfig, attemptsSoFar: number): number {
  const doublings = Math.min(attemptsSoFar - 1, retry.maxDoublings);
  const linear = Math.max(0, attemptsSoFar - 1 - retry.maxDoublings);
  const factor = 2 ** doublings + linear * 2 ** retry.maxDoublings;
  return Math.min(retry.maxBackoffSeconds, retry.minBackoffSeconds * factor) * 1000;
}
