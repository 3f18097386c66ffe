// The run of a cycle's windows through the fetcher, each request admitted by the gate: stopped by
// a quota error (its cooldown started), a gate deferral or the deadline; counted by outcome.
import type { ChunkResult } from '../../core/pipeline/backfill';
import { GateDeferredError, QuotaExceededError } from '../../core/quota/errors';
import { logger } from '../../log';
import type { QuotaEngine } from '../quota/quota-engine';
import type { AutoSyncCycleInput, SyncWindow } from './autosync-input';

/** Why the chunks of a run stopped early; those not attempted stay unmarked. */
export type StopReason =
  /** untilMs is missing only when the cooldown could not be written. */
  | { kind: 'quota'; untilMs?: number }
  | { kind: 'deferred'; atMs: number; reason: string }
  | { kind: 'deadline' };

export interface ChunkCounts {
  stored: number;
  /** The fetcher was called and threw (a quota error or another error). */
  failed: number;
  /** Never called: left for a later cycle. */
  aborted: number;
}

/**
 * Runs windows in order through the fetcher, which asks the gate before each request. A quota
 * error reports the cooldown and stops the run; so does a gate answer beyond its wait bound,
 * and the deadline.
 * Any other error is logged and the next window proceeds.
 */
export async function runWindows(
  input: AutoSyncCycleInput,
  windows: readonly SyncWindow[],
  stoppedBefore?: StopReason,
): Promise<{ results: ChunkResult[]; stopped?: StopReason }> {
  const { engine, source, category, now } = input;
  const results: ChunkResult[] = [];
  let stopped: StopReason | undefined = stoppedBefore;
  const admit = await admission(input);
  for (const window of windows) {
    const chunk = { startMs: window.startMs, endMs: window.endMs };
    if (!stopped && input.deadlineMs !== undefined && now() >= input.deadlineMs) {
      stopped = { kind: 'deadline' };
    }
    if (stopped) {
      results.push({ chunk, outcome: 'not-attempted' });
      continue;
    }
    try {
      await input.fetchAndStore(window, {
        db: input.db,
        admit,
        ...(input.fetchDeadlineMs === undefined ? {} : { deadlineMs: input.fetchDeadlineMs }),
      });
      results.push({ chunk, outcome: 'stored' });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (error instanceof GateDeferredError) {
        // What this window stored stays (its writes replace the window's buckets); the window
        // stays unmarked and is fetched whole by a later cycle.
        stopped = { kind: 'deferred', atMs: error.atMs, reason: error.reason };
        results.push({ chunk, outcome: 'not-attempted' });
      } else if (error instanceof QuotaExceededError) {
        stopped = { kind: 'quota', untilMs: await startCooldown(engine, error, category) };
        results.push({ chunk, outcome: 'quota-error', message });
      } else {
        logger.error({ err: error, source, window }, 'auto-sync chunk failed');
        results.push({ chunk, outcome: 'other-error', message });
      }
    }
  }
  return stopped ? { results, stopped } : { results };
}

/**
 * The cycle's admission of each upstream request (AutoSyncFetchOptions.admit): granted within
 * the flags' wait bound, cut to the time left before the fetch's deadline, else deferred.
 */
async function admission(input: AutoSyncCycleInput): Promise<(operation: string) => Promise<void>> {
  const { engine, provider, category, now } = input;
  const { flags } = await engine.contexts.runtimeConfig();
  return async (operation) => {
    const boundMs = flags.maxAwaitSeconds * 1000;
    const leftMs =
      input.fetchDeadlineMs === undefined ? boundMs : Math.max(0, input.fetchDeadlineMs - now());
    const decision = await engine.acquire({
      provider,
      category,
      operation,
      maxWaitMs: Math.min(boundMs, leftMs),
    });
    if (decision.kind === 'retryAt') {
      throw new GateDeferredError(provider, operation, decision.atMs, decision.reason);
    }
    // The request goes out now; no concurrency slot outlives its admission.
    decision.release();
  };
}

/** A failure to write the cooldown must not turn the quota error into an ordinary one. */
async function startCooldown(
  engine: QuotaEngine,
  error: QuotaExceededError,
  category: string,
): Promise<number | undefined> {
  try {
    return (await engine.reportQuotaError(error, category)).untilMs;
  } catch (writeError) {
    logger.error({ err: writeError, provider: error.provider }, 'cooldown not recorded');
    return undefined;
  }
}

export function count(results: readonly ChunkResult[]): ChunkCounts {
  const of = (outcome: ChunkResult['outcome']) =>
    results.filter((r) => r.outcome === outcome).length;
  return {
    stored: of('stored'),
    failed: of('quota-error') + of('other-error'),
    aborted: of('not-attempted'),
  };
}
