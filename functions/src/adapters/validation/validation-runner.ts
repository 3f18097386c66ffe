import type { DocumentReference, Firestore } from 'firebase-admin/firestore';
import { mapLimit } from '../../core/map-limit';
import { assertWithinLimits } from '../../core/storage/firestore-limits';
import { shrinkToFit } from '../../core/storage/firestore-storage-size';
import {
  type MarketplaceSummary,
  type RuleId,
  ruleIds,
  type ValidationConfig,
  validateRun,
} from '../../core/validation';
import { logger } from '../../log';
import { loadPipelineConfig } from '../pipeline/pipeline-config';
import type { StoredProduct } from '../pipeline/product-documents';
import { ProductsRepository } from '../pipeline/products-repository';
import { type Enqueue, enqueueTask } from '../queues/task-queue';
import { commitInBatches } from '../storage/batch-writes';
import { paceFirestoreWork } from '../storage/self-quota-runtime';
import { type FixResult, fixScheduler } from './fix-scheduler';
import { deleteStaleFindings, FINDINGS_COLLECTION, findingDocument } from './validation-findings';
import { fixSlot, validationRunId } from './validation-schedule';

/**
 * A data-validation run: every marketplace's products, read page by page, checked by the core's
 * rules. The run is `validationRuns/{runId}` (pass rates and counts per marketplace), its
 * findings `validationRuns/{runId}/findings/{productDoc}`, and each failing product gets one
 * re-collection work item on its provider's queue. The run id is the schedule slot, and fix
 * task ids derive from it, so a re-fired schedule rewrites the same run and its enqueues are
 * dropped as duplicates by the task queue.
 */

export const VALIDATION_RUNS_PATH = 'validationRuns';

const DEFAULT_PAGE_SIZE = 200;
/** Enqueues in flight at once: enough to hide latency without a burst on the queue API. */
const ENQUEUE_CONCURRENCY = 10;

export type MarketplaceResult = Omit<MarketplaceSummary, 'marketplace'>;

export interface ValidationRunSummary {
  runId: string;
  status: 'completed';
  startedAt: number;
  completedAt: number;
  /** How many times this slot ran (a re-fired schedule reruns it). */
  attempts: number;
  products: number;
  passed: number;
  failed: number;
  passRate: number | null;
  marketplaces: Record<string, MarketplaceResult>;
  /**
   * Fixes of this attempt by outcome: `duplicate` was enqueued before (a rerun), and
   * `unschedulable` has no collection document to name its provider.
   */
  fixes: Record<FixResult, number>;
}

export interface RunValidationOptions {
  db: Firestore;
  now: () => number;
  /** Injected by tests; `enqueueTask` by default. */
  enqueue?: Enqueue;
  /** The schedule slot of `now()` by default. */
  runId?: string;
  pageSize?: number;
  /** Only these marketplaces (every marketplace with products by default). */
  marketplaces?: readonly string[];
}

export async function runValidation(options: RunValidationOptions): Promise<ValidationRunSummary> {
  const { db, now } = options;
  const startedAt = now();
  const runId = options.runId ?? validationRunId(startedAt);
  const runRef = db.collection(VALIDATION_RUNS_PATH).doc(runId);
  const previous = await runRef.get();
  const attempts = ((previous.get('attempts') as number | undefined) ?? 0) + 1;
  await runRef.set({ runId, status: 'running', startedAt, attempts });
  try {
    const config = (await loadPipelineConfig(db)).validation;
    const checked = await checkAll(options, runId, runRef, config);
    // A rerun may have found fewer failing products than the attempt before it.
    if (previous.exists) await deleteStaleFindings(db, runRef, checked.failing);
    const summary: ValidationRunSummary = {
      runId,
      status: 'completed',
      startedAt,
      completedAt: now(),
      attempts,
      ...checked.totals,
      marketplaces: checked.marketplaces,
      fixes: checked.fixes,
    };
    await runRef.set(summary);
    logger.info({ ...summary, marketplaces: undefined }, 'data validation completed');
    return summary;
  } catch (error) {
    await runRef
      .set({ status: 'failed', error: String(error), failedAt: now() }, { merge: true })
      .catch(() => {});
    throw error;
  }
}

interface Checked {
  totals: { products: number; passed: number; failed: number; passRate: number | null };
  marketplaces: Record<string, MarketplaceResult>;
  fixes: Record<FixResult, number>;
  /** Finding documents this attempt wrote. */
  failing: Set<string>;
}

/** One page at a time, so memory stays bounded by the page, not the catalogue. */
async function checkAll(
  options: RunValidationOptions,
  runId: string,
  runRef: DocumentReference,
  config: ValidationConfig,
): Promise<Checked> {
  const { db } = options;
  const products = new ProductsRepository(db);
  const schedule = fixScheduler(db, options.enqueue ?? enqueueTask, fixSlot(options.now()));
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  const marketplaces: Record<string, MarketplaceResult> = {};
  const fixes: Record<FixResult, number> = {
    enqueued: 0,
    duplicate: 0,
    unschedulable: 0,
    failed: 0,
  };
  const failing = new Set<string>();

  for (const marketplace of options.marketplaces ?? (await products.marketplaces())) {
    const result = emptyResult();
    let cursor: string | null = null;
    do {
      await paceFirestoreWork(db, 'validation');
      const page = await products.listByMarketplace(marketplace, {
        pageSize,
        startAfter: cursor,
      });
      cursor = page.next;
      const report = validateRun(runId, page.products, config);
      for (const summary of report.marketplaces) addTo(result, summary);

      const byKey = new Map<string, StoredProduct>();
      for (const product of page.products) {
        if (!byKey.has(product.key)) byKey.set(product.key, product);
      }
      const scheduled = await mapLimit(report.fixes, ENQUEUE_CONCURRENCY, async (fix) => {
        const product = byKey.get(fix.productKey)!;
        return { fix, product, ...(await schedule(fix, product)) };
      });
      const writes = scheduled.map(({ fix, product, result: outcome, queue, taskId }) => {
        fixes[outcome]++;
        failing.add(product.id);
        const found = report.findings.filter((f) => f.productKey === fix.productKey);
        const ref = runRef.collection(FINDINGS_COLLECTION).doc(product.id);
        const fixed = { id: fix.id, result: outcome, queue, taskId };
        // Examples are a sample (counts stay complete): fewer of them rather than a finding
        // over Firestore's 1 MiB, which would fail its whole batch.
        const most = Math.max(0, ...found.map((f) => f.examples.length));
        const { data, n } = shrinkToFit(ref.path, most, (examples) =>
          findingDocument(runId, product, found, fixed, examples),
        );
        if (n < most) {
          logger.warn({ product: product.id, examples: n }, 'finding examples cut to fit 1 MiB');
        }
        assertWithinLimits(ref.path, data);
        return { ref, data };
      });
      await commitInBatches(db, writes);
    } while (cursor);
    result.passRate = result.products === 0 ? null : result.passed / result.products;
    marketplaces[marketplace] = result;
  }

  const all = Object.values(marketplaces);
  const total = all.reduce((n, m) => n + m.products, 0);
  const passed = all.reduce((n, m) => n + m.passed, 0);
  return {
    totals: {
      products: total,
      passed,
      failed: total - passed,
      passRate: total === 0 ? null : passed / total,
    },
    marketplaces,
    fixes,
    failing,
  };
}

function emptyResult(): MarketplaceResult {
  const failedByRule = Object.fromEntries(ruleIds.map((rule) => [rule, 0])) as Record<
    RuleId,
    number
  >;
  return { products: 0, passed: 0, failed: 0, passRate: null, failedByRule };
}

function addTo(total: MarketplaceResult, page: MarketplaceSummary) {
  total.products += page.products;
  total.passed += page.passed;
  total.failed += page.failed;
  for (const rule of ruleIds) total.failedByRule[rule] += page.failedByRule[rule];
}
