import type { z } from 'zod';
import {
  type ForceFlushResult,
  type forceFlushInput,
  notFound,
  type ValidateDataResult,
  type validateDataInput,
} from '../../core/api';
import {
  AGGREGATES_COLLECTION,
  AGGREGATIONS_COLLECTION,
  AggregationStore,
  type FlushResult,
} from '../aggregation-store';
import { loadPipelineConfig } from '../pipeline-config';
import { runValidation, VALIDATION_RUNS_PATH } from '../validation-runner';
import { auditedFirestore, describeWrites } from './audit';
import type { OperationContext } from './context';

/**
 * Operations that run existing jobs now (a validation run, a force flush). The jobs make many
 * commits of their own; each goes through an audited Firestore, so every commit carries its
 * own audit entry and none is made without one.
 */

/**
 * A run id of its own for a run started by hand: it sorts after its hour's scheduled run and
 * before the next hour's (latestValidation reads run ids newest first), and never rewrites the
 * scheduled run of the slot.
 */
export function manualValidationRunId(nowMs: number): string {
  return `${new Date(nowMs).toISOString().slice(0, 23).replace(/[:.]/g, '-')}-manual`;
}

/** Runs data validation now, as the schedule does, under a run id of its own. */
export async function validateData(
  ctx: OperationContext,
  _input: z.output<typeof validateDataInput>,
): Promise<ValidateDataResult> {
  // An invalid configuration fails before the run writes anything.
  await loadPipelineConfig(ctx.db);
  const runId = manualValidationRunId(ctx.now());
  const auditIds: string[] = [];
  const db = auditedFirestore(ctx.db, {
    actor: ctx.actor,
    what: 'validateData',
    now: ctx.now,
    describe: (writes) => ({
      ...describeWrites(writes),
      target: `${VALIDATION_RUNS_PATH}/${runId}`,
    }),
    onAudit: (id) => auditIds.push(id),
  });
  const summary = await runValidation({ db, now: ctx.now, enqueue: ctx.enqueue, runId });
  return {
    runId: summary.runId,
    status: summary.status,
    startedAt: summary.startedAt,
    completedAt: summary.completedAt,
    products: summary.products,
    passed: summary.passed,
    failed: summary.failed,
    passRate: summary.passRate,
    marketplaces: Object.fromEntries(
      Object.entries(summary.marketplaces).map(([m, r]) => [
        m,
        { products: r.products, passed: r.passed, failed: r.failed, passRate: r.passRate },
      ]),
    ),
    fixes: { ...summary.fixes },
    auditIds,
  };
}

/**
 * Writes the named pending aggregates now (or every pending one), whatever their response
 * count. Named items must exist (else not-found, nothing flushed). Each item's flush is one
 * transaction with its audit entry (before: pending, after: the aggregate).
 */
export async function forceFlush(
  ctx: OperationContext,
  input: z.output<typeof forceFlushInput>,
): Promise<ForceFlushResult> {
  const ids = input.workItemIds ? [...new Set(input.workItemIds)] : undefined;
  if (ids) {
    const headers = await ctx.db.getAll(
      ...ids.map((id) => ctx.db.collection(AGGREGATIONS_COLLECTION).doc(id)),
    );
    const missing = headers.filter((h) => !h.exists).map((h) => h.id);
    if (missing.length > 0) {
      throw notFound('work item', missing.join(', '), `${AGGREGATIONS_COLLECTION}/${missing[0]}`);
    }
  }
  const auditIds: string[] = [];
  const db = auditedFirestore(ctx.db, {
    actor: ctx.actor,
    what: 'forceFlush',
    now: ctx.now,
    describe: (writes, result) => {
      const flush = result as FlushResult | undefined;
      if (flush?.outcome === 'written') {
        return {
          target: `${AGGREGATES_COLLECTION}/${flush.aggregate.workItemId}`,
          before: { status: 'pending' },
          after: flush.aggregate,
        };
      }
      return describeWrites(writes);
    },
    onAudit: (id) => auditIds.push(id),
  });
  const store = new AggregationStore(db, {
    scheduleFlush: ctx.scheduleFlush,
    stats: ctx.aggregationStats,
    now: ctx.now,
  });
  const flushed = await store.forceFlush(ids ? { workItemIds: ids } : {});
  const results: ForceFlushResult['results'] = {};
  let written = 0;
  for (const [id, result] of Object.entries(flushed)) {
    if (result.outcome === 'written') {
      written++;
      results[id] = {
        outcome: result.outcome,
        reason: result.aggregate.reason,
        responseCount: result.aggregate.responseCount,
      };
    } else {
      results[id] = { outcome: result.outcome };
    }
  }
  return { results, written, auditIds };
}
