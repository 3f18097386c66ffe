import type { z } from 'zod';
import type {
  getRealtimeSalesSummaryInput,
  RealtimeSalesSummaryResult,
  RefreshRealtimeSalesResult,
  RefreshWindow,
  refreshRealtimeSalesInput,
} from '../../core/operations';
import { HOUR_MS } from '../../core/upstreams/sales';
import { logger } from '../../log';
import { runAutoSyncCycle } from '../pipeline/autosync';
import { autoSyncFetcher } from '../pipeline/autosync-fetchers';
import { AUTOSYNC_COLLECTION } from '../pipeline/autosync-state';
import { summary } from '../pipeline/sales-repository';
import { QuotaEngine } from '../quota/quota-engine';
import { REALTIME_SALES_SYNC } from '../upstreams/wiring';
import { auditedFirestore } from './audit';
import type { OperationContext } from './context';

/** The callable's own time budget: no chunk starts after this, well inside its timeout. */
const REFRESH_BUDGET_MS = 60_000;
/** The callable's timeout when the context names no deadline (see entry/operations/define.ts). */
const REFRESH_TIMEOUT_MS = 120_000;
/**
 * Kept free at the end of the call: a fetch under way stops this long before the deadline, so
 * the cycle saves its state, releases its lease and the engine gives back what it holds.
 */
export const REFRESH_SAVE_MARGIN_MS = 20_000;
/** The lease outlives the call by this much at most, should the call be stopped regardless. */
const REFRESH_LEASE_GRACE_MS = 30_000;

async function cached(
  ctx: OperationContext,
  input: {
    sinceHours?: number;
    marketplaceId?: string;
    top?: number;
    /** The summary of exactly this window instead (a refresh of a named window). */
    window?: { startMs: number; endMs: number };
  },
): Promise<RealtimeSalesSummaryResult> {
  const now = ctx.now();
  const reach = input.window ?? { startMs: Math.floor(now - (input.sinceHours ?? 24) * HOUR_MS) };
  const [stored, state] = await Promise.all([
    summary(ctx.db, {
      sinceMs: reach.startMs,
      ...('endMs' in reach ? { untilMs: reach.endMs } : {}),
      marketplaceId: input.marketplaceId,
      top: input.top,
    }),
    ctx.db.doc(`${AUTOSYNC_COLLECTION}/${REALTIME_SALES_SYNC.source}`).get(),
  ]);
  const watermark = state.get('watermarkMs');
  const { truncated, ...sales } = stored;
  return {
    summary: sales,
    syncedUntilMs: typeof watermark === 'number' ? watermark : null,
    truncated,
  };
}

/**
 * Firestore only: never calls SP-API. Reads at most MAX_SUMMARY_BUCKETS buckets (newest hours
 * first) and says `truncated` when the reach holds more.
 */
export function getRealtimeSalesSummary(
  ctx: OperationContext,
  input: z.output<typeof getRealtimeSalesSummaryInput>,
): Promise<RealtimeSalesSummaryResult> {
  return cached(ctx, input);
}

/**
 * Runs one auto-sync cycle now, through the same gate, cooldown and lease as the schedule. A
 * quota error (now, or a cooldown still running) is an answer, not a failure: the caller gets
 * the window and the cached summary.
 */
export async function refreshRealtimeSales(
  ctx: OperationContext,
  input: z.output<typeof refreshRealtimeSalesInput>,
): Promise<RefreshRealtimeSalesResult> {
  const fetchAndStore = autoSyncFetcher(REALTIME_SALES_SYNC.source);
  if (!fetchAndStore) throw new Error('no real-time sales fetcher is registered');
  const startedAt = ctx.now();
  // The call's deadline, passed down: chunks stop starting after the budget, a fetch under way
  // (SP-API report polls of 15 s, up to 40 of them) stops before the timeout, and the lease
  // expires soon after the call could have ended, even if it never gets to release it.
  const deadlineMs = ctx.deadlineMs ?? startedAt + REFRESH_TIMEOUT_MS;
  const fetchDeadlineMs = deadlineMs - REFRESH_SAVE_MARGIN_MS;
  // Every commit of the cycle's own (its lease, the sync state) carries an audit entry.
  const db = auditedFirestore(ctx.db, {
    actor: ctx.actor,
    what: 'refreshRealtimeSales',
    now: ctx.now,
    describe: (writes) => ({
      target: `${AUTOSYNC_COLLECTION}/${REALTIME_SALES_SYNC.source}`,
      before: null,
      after: writes.map((w) => `${w.op} ${w.path}`),
    }),
  });
  // Quota bookkeeping (claimed blocks, a cooldown an upstream started) is not an operator's
  // change: it goes to Firestore as it does for the schedule. The engine lives for this call
  // only, so it gives back what it holds when the call ends (window tokens, slots).
  const engine = new QuotaEngine(ctx.db, { now: ctx.now });
  const requested = input.window === undefined ? undefined : resolveWindow(input.window, startedAt);
  const run = await runAutoSyncCycle({
    ...(requested ? { requested } : {}),
    ...REALTIME_SALES_SYNC,
    db,
    engine,
    fetchAndStore,
    now: ctx.now,
    deadlineMs: Math.min(startedAt + REFRESH_BUDGET_MS, fetchDeadlineMs),
    fetchDeadlineMs,
    leaseMs: Math.max(0, deadlineMs - startedAt) + REFRESH_LEASE_GRACE_MS,
  }).finally(() =>
    // A give-back that fails strands the tokens until they expire; it must not turn a finished
    // refresh (or its own error) into another error.
    engine
      .shutdown()
      .catch((error: unknown) =>
        logger.warn({ err: error }, 'quota engine shutdown after a sales refresh failed'),
      ),
  );
  const current = await cached(ctx, { ...input, window: requested });
  if (run.skipped === 'cooldown') {
    return {
      ...current,
      status: 'error',
      error: 'QuotaExceeded',
      message: `SP-API is cooling down after a quota error until ${new Date(run.until).toISOString()}`,
      window: requested ?? { startMs: current.syncedUntilMs ?? startedAt, endMs: startedAt },
      retryAtMs: run.until,
    };
  }
  if (run.skipped === 'lease') {
    return { ...current, status: 'skipped', reason: 'running', retryAtMs: run.heldUntil };
  }
  if (run.stopped?.kind === 'quota') {
    return {
      ...current,
      status: 'error',
      error: 'QuotaExceeded',
      message:
        'SP-API answered QuotaExceeded; the unfinished windows are fetched after the cooldown',
      window: requested ?? run.window,
      retryAtMs: run.stopped.untilMs ?? null,
    };
  }
  if (run.stopped) {
    return {
      ...current,
      status: 'skipped',
      reason: run.stopped.kind,
      retryAtMs: run.stopped.kind === 'deferred' ? run.stopped.atMs : null,
    };
  }
  // A named window answers for its own chunks; otherwise for the backfill's.
  const counts = run.requested ?? run;
  return {
    ...current,
    status: 'ok',
    window: requested ?? run.window,
    stored: counts.stored,
    failed: counts.failed,
  };
}

/** The instants of a refresh's window: the last 3 or 24 hours up to now, or as given. */
export function resolveWindow(
  window: RefreshWindow,
  nowMs: number,
): { startMs: number; endMs: number } {
  if (window === 'last_3h') return { startMs: nowMs - 3 * HOUR_MS, endMs: nowMs };
  if (window === 'last_24h') return { startMs: nowMs - 24 * HOUR_MS, endMs: nowMs };
  return { startMs: window.startMs, endMs: Math.min(window.endMs, nowMs) };
}
