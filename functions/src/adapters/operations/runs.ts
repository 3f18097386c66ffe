import { FieldPath } from 'firebase-admin/firestore';
import type { z } from 'zod';
import {
  type ForceFlushResult,
  type forceFlushInput,
  type getValidationReportInput,
  notFound,
  type ValidateDataResult,
  type ValidationFindingLine,
  type ValidationNumbers,
  type ValidationReportResult,
  type ValidationRunLine,
  type validateDataInput,
} from '../../core/operations';
import { AGGREGATES_COLLECTION, AGGREGATIONS_COLLECTION } from '../pipeline/aggregation-documents';
import { AggregationStore } from '../pipeline/aggregation-store';
import type { FlushResult } from '../pipeline/aggregation-store-types';
import { loadPipelineConfig } from '../pipeline/pipeline-config';
import { FINDINGS_COLLECTION } from '../validation/validation-findings';
import {
  runValidation,
  VALIDATION_RUNS_PATH,
  type ValidationRunSummary,
} from '../validation/validation-runner';
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
  input: z.output<typeof validateDataInput>,
): Promise<ValidateDataResult> {
  // An invalid configuration fails before the run writes anything.
  await loadPipelineConfig(ctx.db);
  const marketplace = input.marketplace;
  const runId = `${manualValidationRunId(ctx.now())}${marketplace ? `-${marketplace}` : ''}`;
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
  const summary = await runValidation({
    db,
    now: ctx.now,
    enqueue: ctx.enqueue,
    runId,
    ...(marketplace ? { marketplaces: [marketplace] } : {}),
  });
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

/** Run documents one report looks through at most (newest first), whatever it finds. */
const MAX_RUNS_SCANNED = 90;

/**
 * Validation results as stored by every run, scheduled or by hand: the latest completed run
 * (that checked the marketplace, when one is named), the history of completed runs, and the
 * latest run's failing products with their rules. Bounded: at most MAX_RUNS_SCANNED run
 * documents and `findings` + 1 finding documents are read.
 */
export async function getValidationReport(
  ctx: OperationContext,
  input: z.output<typeof getValidationReportInput>,
): Promise<ValidationReportResult> {
  const { db } = ctx;
  const wanted = input.history ?? 10;
  const marketplace = input.marketplace;
  const runs: Array<ValidationRunSummary & { id: string }> = [];
  const page = 30;
  let cursor: string | undefined;
  for (let seen = 0; seen < MAX_RUNS_SCANNED && runs.length < wanted; seen += page) {
    let query = db
      .collection(VALIDATION_RUNS_PATH)
      .orderBy(FieldPath.documentId(), 'desc')
      .limit(Math.min(page, MAX_RUNS_SCANNED - seen));
    if (cursor) query = query.startAfter(cursor);
    const { docs } = await query.get();
    for (const doc of docs) {
      const run = doc.data() as ValidationRunSummary;
      if (run.status !== 'completed' || typeof run.marketplaces !== 'object') continue;
      if (marketplace !== undefined && !Object.hasOwn(run.marketplaces, marketplace)) continue;
      if (runs.length < wanted) runs.push({ ...run, id: doc.id });
    }
    if (docs.length < page) break;
    cursor = docs[docs.length - 1]!.id;
  }
  const numbers = (run: ValidationRunSummary): ValidationNumbers => {
    const m = marketplace === undefined ? run : run.marketplaces[marketplace];
    return {
      products: m?.products ?? 0,
      passed: m?.passed ?? 0,
      failed: m?.failed ?? 0,
      passRate: m?.passRate ?? null,
    };
  };
  const line = (run: ValidationRunSummary & { id: string }): ValidationRunLine => ({
    runId: run.id,
    startedAt: run.startedAt,
    completedAt: run.completedAt,
    ...numbers(run),
  });
  const newest = runs[0];
  const limit = input.findings ?? 20;
  let findings: ValidationFindingLine[] = [];
  let findingsTruncated = false;
  if (newest && limit > 0) {
    let query = db
      .collection(VALIDATION_RUNS_PATH)
      .doc(newest.id)
      .collection(FINDINGS_COLLECTION)
      .orderBy(FieldPath.documentId());
    if (marketplace !== undefined) query = query.where('marketplace', '==', marketplace);
    const { docs } = await query.limit(limit + 1).get();
    findingsTruncated = docs.length > limit;
    findings = docs.slice(0, limit).map((doc) => {
      const d = doc.data();
      const fix = d.fix as { id?: unknown; result?: unknown } | undefined;
      return {
        product: String(d.product ?? doc.id),
        marketplace: String(d.marketplace ?? ''),
        productKey: String(d.productKey ?? ''),
        collection: String(d.collection ?? ''),
        rules: Array.isArray(d.rules) ? d.rules.map(String) : [],
        findings: Array.isArray(d.findings)
          ? d.findings.map((f: { rule?: unknown; count?: unknown }) => ({
              rule: String(f.rule ?? ''),
              count: Number(f.count ?? 0),
            }))
          : [],
        fix: fix ? { id: String(fix.id ?? ''), result: String(fix.result ?? '') } : null,
      };
    });
  }
  return {
    latest: newest
      ? {
          ...line(newest),
          marketplaces: Object.fromEntries(
            Object.entries(newest.marketplaces)
              .filter(([m]) => marketplace === undefined || m === marketplace)
              .map(([m, r]) => [
                m,
                { products: r.products, passed: r.passed, failed: r.failed, passRate: r.passRate },
              ]),
          ),
        }
      : null,
    history: runs.map(line),
    findings,
    findingsTruncated,
  };
}
