import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { burstFor, DEFAULT_RATE_LIMITS, DEFAULT_RETRY } from './queue-rules.ts';
import type { RateLimits, RetryConfig } from './queue-types.ts';

/** A task-queue function's queue as `firebase deploy` would create it. */
export interface DiscoveredQueue {
  functionName: string;
  region: string;
  rateLimits: RateLimits;
  retryConfig: RetryConfig;
}

/**
 * A deploy-time value: a number, unset (null, or firebase-functions' ResetValue: the
 * platform default), or a param (`defineInt`).
 */
type Option = number | null | undefined | { name?: string; options?: { default?: unknown } };

interface TaskQueueTrigger {
  retryConfig?: Partial<Record<keyof RetryConfig, Option>>;
  rateLimits?: Partial<Record<'maxDispatchesPerSecond' | 'maxConcurrentDispatches', Option>>;
}

interface Endpoint {
  region?: string[];
  taskQueueTrigger?: TaskQueueTrigger;
}

/**
 * Reads every onTaskDispatched function's retry and rate options from the built functions,
 * resolving params the way a deploy does: functions/.env (and .env.<project>), else the
 * param's default; Cloud Tasks' defaults for what is unset.
 */
export function discoverTaskQueues(functionsDir: string, projectId: string): DiscoveredQueue[] {
  const env = loadDotenv(functionsDir, projectId);
  const exports = createRequire(import.meta.url)(functionsDir) as Record<
    string,
    { __endpoint?: Endpoint }
  >;
  const resolve = (option: Option): number | undefined => {
    if (option === null || option === undefined) return undefined;
    if (typeof option === 'number') return option;
    if (!option.name) return undefined; // ResetValue
    const raw = env[option.name] ?? option.options?.default;
    const value = Number(raw);
    if (raw === undefined || !Number.isFinite(value)) {
      throw new Error(`param ${option.name} has no value in functions/.env and no default`);
    }
    return value;
  };
  return Object.entries(exports).flatMap(([functionName, fn]) => {
    const trigger = fn?.__endpoint?.taskQueueTrigger;
    if (!trigger) return [];
    const rate =
      resolve(trigger.rateLimits?.maxDispatchesPerSecond) ??
      DEFAULT_RATE_LIMITS.maxDispatchesPerSecond;
    const retry = trigger.retryConfig ?? {};
    return [
      {
        functionName,
        region: fn.__endpoint?.region?.[0] ?? 'us-central1',
        rateLimits: {
          maxDispatchesPerSecond: rate,
          maxBurstSize: burstFor(rate),
          maxConcurrentDispatches:
            resolve(trigger.rateLimits?.maxConcurrentDispatches) ??
            DEFAULT_RATE_LIMITS.maxConcurrentDispatches,
        },
        retryConfig: {
          maxAttempts: resolve(retry.maxAttempts) ?? DEFAULT_RETRY.maxAttempts,
          maxRetrySeconds: resolve(retry.maxRetrySeconds) ?? DEFAULT_RETRY.maxRetrySeconds,
          minBackoffSeconds: resolve(retry.minBackoffSeconds) ?? DEFAULT_RETRY.minBackoffSeconds,
          maxBackoffSeconds: resolve(retry.maxBackoffSeconds) ?? DEFAULT_RETRY.maxBackoffSeconds,
          maxDoublings: resolve(retry.maxDoublings) ?? DEFAULT_RETRY.maxDoublings,
        },
      },
    ];
  });
}

function loadDotenv(functionsDir: string, projectId: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const file of ['.env', `.env.${projectId}`]) {
    const path = join(functionsDir, file);
    if (existsSync(path)) Object.assign(values, parseEnv(readFileSync(path, 'utf8')));
  }
  return values;
}
