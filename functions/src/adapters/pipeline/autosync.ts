import { Timestamp } from 'firebase-admin/firestore';
import { type AuditKind, dueAudits, recordAuditProgress } from '../../core/pipeline/audits';
import {
  applyChunkResults,
  chunkId,
  chunkWindow,
  planBackfill,
} from '../../core/pipeline/backfill';
import { logger } from '../../log';
import type { AutoSyncCycleInput } from './autosync-input';
import { AUTOSYNC_COLLECTION, acquireSourceLease, readState } from './autosync-state';
import { type ChunkCounts, count, runWindows, type StopReason } from './autosync-windows';
import { loadPipelineConfig } from './pipeline-config';

/**
 * One auto-sync cycle (the SP-API vendor real-time sales pattern), upstream-agnostic: the
 * upstream is an injected `fetchAndStore`. Cooldown first, then a lease so cycles never
 * overlap, then the backfill chunks through the gate, then the due audits.
 */

/** Longer than the scheduled function's timeout: a crashed cycle frees the lease by then. */
export const DEFAULT_LEASE_MS = 10 * 60_000;

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
