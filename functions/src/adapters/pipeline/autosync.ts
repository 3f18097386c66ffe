import { type Firestore, Timestamp } from 'firebase-admin/firestore';
import { parseDocument } from '../../core/config';
import {
  type AuditKind,
  type AuditProgresses,
  type AuditRuns,
  auditProgressesSchema,
  auditRunsSchema,
  dueAudits,
  recordAuditProgress,
} from '../../core/pipeline/audits';
import {
  applyChunkResults,
  type BackfillState,
  backfillStateSchema,
  type Chunk,
  type ChunkResult,
  chunkId,
  chunkWindow,
  planBackfill,
} from '../../core/pipeline/backfill';
import { GateDeferredError, QuotaExceededError } from '../../core/quota/errors';
import { logger } from '../../log';
import { acquireLease } from '../lease';
import type { QuotaEngine } from '../quota/quota-engine';
import { loadPipelineConfig } from './pipeline-config';

/**
 * One auto-sync cycle (the SP-API vendor real-time sales pattern), upstream-agnostic: the
 * upstream is an injected `fetchAndStore`. Cooldown first, then a lease so cycles never
 * overlap, then the backfill chunks through the gate, then the due audits.
 */

export const AUTOSYNC_COLLECTION = 'autosync';
/** Longer than the scheduled function's timeout: a crashed cycle frees the lease by then. */
export const DEFAULT_LEASE_MS = 10 * 60_000;

export type SyncPurpose = 'backfill' | 'requested' | AuditKind;

/** One chunk to fetch and store, and why it is fetched. */
export interface SyncWindow extends Chunk {
  purpose: SyncPurpose;
}

/** What a fetch is told besides its window. */
export interface AutoSyncFetchOptions {
  /**
   * Epoch ms by which the fetch must be over (it stops polling and cuts its HTTP timeouts,
   * and fails with a typed timeout if it cannot finish), so that the cycle still saves its
   * state and releases its lease before its function is stopped.
   */
  deadlineMs?: number;
  /**
   * The Firestore to store through: the cycle's own, which for an operator's refresh is an
   * audited one (every commit carries its audit entry). The instance's when absent.
   */
  db?: Firestore;
  /**
   * The gate's admission of one upstream request of the named operation, for the cycle's
   * provider and category: a fetcher asks it before every request (each step, each poll, each
   * marketplace), so every request is charged to its limit. It may wait within the wait bound
   * (and never past the fetch's deadline); beyond, it throws GateDeferredError, which ends the
   * cycle with the window unmarked, as a quota error would but without a cooldown.
   */
  admit?: (operation: string) => Promise<void>;
}

/** Fetches one window from the upstream and stores it; resolves only once it is durable. */
export type AutoSyncFetcher = (window: SyncWindow, options?: AutoSyncFetchOptions) => Promise<void>;

export interface AutoSyncCycleInput {
  db: Firestore;
  engine: QuotaEngine;
  /** Names the state document `autosync/{source}`. */
  source: string;
  provider: string;
  category: string;
  fetchAndStore: AutoSyncFetcher;
  now: () => number;
  /** No chunk starts after this instant, so a cycle ends before its function times out. */
  deadlineMs?: number;
  /**
   * A fetch under way must be over by this instant (AutoSyncFetchOptions.deadlineMs): the
   * function's timeout less the time the cycle needs to save its state and release its lease.
   * Without it a started fetch runs as long as its upstream flow allows.
   */
  fetchDeadlineMs?: number;
  leaseMs?: number;
  /**
   * A window fetched before the backfill, whatever the state says (an operator's refresh of a
   * named window: a restatement, a gap): it moves no watermark and records no audit. Should it
   * stop on quota or the gate, nothing else runs.
   */
  requested?: { startMs: number; endMs: number };
}

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

export interface AuditSummary extends ChunkCounts {
  kind: AuditKind;
  recorded: boolean;
}

export type AutoSyncSummary =
  | { skipped: 'cooldown'; until: number }
  | { skipped: 'lease'; heldUntil: number }
  | (ChunkCounts & {
      skipped?: undefined;
      /** The data window this cycle's backfill covered. */
      window: { startMs: number; endMs: number };
      watermarkMs: number | null;
      stopped?: StopReason;
      auditsSkipped: boolean;
      audits: AuditSummary[];
      /** The requested window's chunks (AutoSyncCycleInput.requested), when one was asked. */
      requested?: ChunkCounts;
    });

interface StoredState {
  backfill: BackfillState;
  audits: AuditRuns;
  auditProgress: AuditProgresses;
}

function readState(source: string, data: FirebaseFirestore.DocumentData | undefined): StoredState {
  const path = `${AUTOSYNC_COLLECTION}/${source}`;
  return {
    backfill: parseDocument(backfillStateSchema, path, data ?? {}),
    audits: parseDocument(auditRunsSchema, `${path}.audits`, data?.audits ?? {}),
    auditProgress: parseDocument(
      auditProgressesSchema,
      `${path}.auditProgress`,
      data?.auditProgress ?? {},
    ),
  };
}

export async function runAutoSyncCycle(input: AutoSyncCycleInput): Promise<AutoSyncSummary> {
  const { db, engine, source, provider, now } = input;
  // Cheapest check first: while the provider cools down nothing here may call it.
  const cooldown = await engine.cooldowns.current(provider);
  if (cooldown && cooldown.untilMs > now()) return { skipped: 'cooldown', until: cooldown.untilMs };

  const lease = await acquireSourceLease(db, source, now(), input.leaseMs ?? DEFAULT_LEASE_MS);
  if (lease.kind === 'held') return { skipped: 'lease', heldUntil: lease.untilMs };
  try {
    return await runLeased(input);
  } finally {
    await lease.release();
  }
}

async function runLeased(input: AutoSyncCycleInput): Promise<AutoSyncSummary> {
  const { db, engine, source, now } = input;
  const stateRef = db.collection(AUTOSYNC_COLLECTION).doc(source);
  const [stateSnap, config, runtime] = await Promise.all([
    stateRef.get(),
    loadPipelineConfig(db),
    engine.contexts.runtimeConfig(),
  ]);
  const state = readState(source, stateSnap.data());
  const chunkMs = Math.round(config.backfill.chunkHours * 3_600_000);

  let requested: Awaited<ReturnType<typeof runWindows>> | undefined;
  if (input.requested) {
    const { startMs, endMs } = input.requested;
    requested = await runWindows(
      input,
      chunkWindow(startMs, endMs, chunkMs).map((c) => ({ ...c, purpose: 'requested' as const })),
    );
  }
  const plan = planBackfill(state.backfill, now(), config.backfill);
  const backfill = await runWindows(
    input,
    plan.chunks.map((c) => ({ ...c, purpose: 'backfill' as const })),
    requested?.stopped,
  );
  // Re-read in the transaction: stored windows only add up, so a concurrent writer loses nothing.
  const outcome = await db.runTransaction(async (tx) => {
    const fresh = readState(source, (await tx.get(stateRef)).data());
    const applied = applyChunkResults(fresh.backfill, backfill.results);
    tx.set(stateRef, { ...applied.state, updatedAt: Timestamp.fromMillis(now()) }, { merge: true });
    return applied;
  });
  for (const finding of outcome.findings) {
    logger.warn({ source, chunk: finding.chunk }, 'auto-sync chunk left for the next cycle');
  }

  // An upstream that said "quota exceeded", or a gate that said "later", gets no audit calls.
  const auditsSkipped = outcome.skipAudits || backfill.stopped !== undefined;
  const audits: AuditSummary[] = [];
  let stopped = backfill.stopped;
  if (!auditsSkipped) {
    const due = dueAudits(runtime.flags, state.audits, now(), config.audits, state.auditProgress);
    for (const audit of due) {
      const chunks = chunkWindow(audit.startMs, audit.endMs, chunkMs);
      const ids = chunks.map(chunkId);
      // An audit in progress fetches only the chunks its earlier cycles did not store.
      const windows = chunks
        .filter((c) => !audit.done.includes(chunkId(c)))
        .map((c) => ({ ...c, purpose: audit.kind }));
      const run = await runWindows(input, windows);
      const recorded = await db.runTransaction(async (tx) => {
        const fresh = readState(source, (await tx.get(stateRef)).data());
        const current = fresh.auditProgress[audit.kind];
        const done =
          current?.beganAtMs === audit.beganAtMs ? [...audit.done, ...current.done] : audit.done;
        const result = recordAuditProgress(fresh.audits, { ...audit, done }, ids, run.results);
        tx.set(
          stateRef,
          { audits: result.lastRuns, auditProgress: { [audit.kind]: result.progress } },
          { merge: true },
        );
        return result.recorded;
      });
      audits.push({ kind: audit.kind, ...count(run.results), recorded });
      if (run.stopped) {
        stopped = run.stopped;
        break;
      }
    }
  }

  return {
    ...count(backfill.results),
    window: { startMs: plan.startMs, endMs: plan.endMs },
    watermarkMs: outcome.state.watermarkMs,
    ...(stopped ? { stopped } : {}),
    auditsSkipped,
    audits,
    ...(requested ? { requested: count(requested.results) } : {}),
  };
}

/**
 * Runs windows in order through the fetcher, which asks the gate before each request. A quota
 * error reports the cooldown and stops the run; so does a gate answer beyond its wait bound,
 * and the deadline.
 * Any other error is logged and the next window proceeds.
 */
async function runWindows(
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

function count(results: readonly ChunkResult[]): ChunkCounts {
  const of = (outcome: ChunkResult['outcome']) =>
    results.filter((r) => r.outcome === outcome).length;
  return {
    stored: of('stored'),
    failed: of('quota-error') + of('other-error'),
    aborted: of('not-attempted'),
  };
}

/** `autosync/{source}/lease/current`: one cycle per source at a time (see lease.ts). */
function acquireSourceLease(db: Firestore, source: string, nowMs: number, leaseMs: number) {
  const ref = db.collection(AUTOSYNC_COLLECTION).doc(source).collection('lease').doc('current');
  return acquireLease(ref, nowMs, leaseMs, { source });
}
