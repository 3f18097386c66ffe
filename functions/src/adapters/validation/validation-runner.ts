import {
  type DocumentData,
  type DocumentReference,
  FieldPath,
  type Firestore,
} from 'firebase-admin/firestore';
import { mapLimit } from '../../core/map-limit';
import { collectionSchema } from '../../core/pipeline/collections';
import { workItemSchema, workItemTaskId, workQueueName } from '../../core/pipeline/work-items';
import { assertWithinLimits, shrinkToFit } from '../../core/storage/firestore-limits';
import {
  type Finding,
  type FixWorkItem,
  fixId,
  type MarketplaceSummary,
  type RuleId,
  ruleIds,
  type ValidationConfig,
  validateRun,
} from '../../core/validation';
import { logger } from '../../log';
import { COLLECTIONS_PATH } from '../pipeline/collections-repository';
import { loadPipelineConfig } from '../pipeline/pipeline-config';
import { ProductsRepository, type StoredProduct } from '../pipeline/products-repository';
import { type Enqueue, type EnqueueResult, enqueueTask } from '../queues/task-queue';
import { commitInBatches } from '../storage/batch-writes';
import { paceFirestoreWork } from '../storage/self-quota-runtime';

/**
 * A data-validation run: every marketplace's products, read page by page, checked by the core's
 * rules. The run is `validationRuns/{runId}` (pass rates and counts per marketplace), its
 * findings `validationRuns/{runId}/findings/{productDoc}`, and each failing product gets one
 * re-collection work item on its provider's queue. The run id is the schedule slot, and fix
 * task ids derive from it, so a re-fired schedule rewrites the same run and its enqueues are
 * dropped as duplicates by the task queue.
 */

export const VALIDATION_RUNS_PATH = 'validationRuns';
export const FINDINGS_COLLECTION = 'findings';

/** Firestore's limit on writes per batch. */
const BATCH_LIMIT = 500;
const DEFAULT_PAGE_SIZE = 200;
/** Enqueues in flight at once: enough to hide latency without a burst on the queue API. */
const ENQUEUE_CONCURRENCY = 10;

/** The task-queue function that does a provider's work. */
export const queueFor = workQueueName;

/** The schedule slot of a time: its UTC hour, e.g. `2026-01-10T06`. */
export function validationRunId(atMs: number): string {
  return new Date(atMs).toISOString().slice(0, 13);
}

/** The UTC hours the scheduled validation runs at (entry/validation/data-validation.ts builds its cron from them). */
export const VALIDATION_HOURS = [6, 18] as const;

/**
 * The period between two scheduled validations that a time falls in, named by the hour it
 * starts (`2026-01-10T06` from 06:00 to 17:59). A failing product gets one re-collection per
 * period, however many runs (re-fired schedules, manual `validateData`) find it failing.
 */
export function fixSlot(atMs: number): string {
  const day = Math.floor(atMs / 86_400_000) * 86_400_000;
  const starts = [
    ...VALIDATION_HOURS.map((h) => day - 86_400_000 + h * 3_600_000),
    ...VALIDATION_HOURS.map((h) => day + h * 3_600_000),
  ];
  return validationRunId(Math.max(...starts.filter((start) => start <= atMs)));
}

export type FixResult = EnqueueResult | 'unschedulable' | 'failed';

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

/**
 * The latest completed run, or with `marketplace` the latest completed run that checked it.
 * Scans newest first (run ids sort by time), at most `maxRuns` runs, so no index is needed.
 */
export async function latestValidation(
  db: Firestore,
  marketplace?: string,
  { maxRuns = 60 }: { maxRuns?: number } = {},
): Promise<ValidationRunSummary | undefined> {
  const pageSize = 20;
  let cursor: string | undefined;
  for (let seen = 0; seen < maxRuns; seen += pageSize) {
    let query = db
      .collection(VALIDATION_RUNS_PATH)
      .orderBy(FieldPath.documentId(), 'desc')
      .limit(Math.min(pageSize, maxRuns - seen));
    if (cursor) query = query.startAfter(cursor);
    const { docs } = await query.get();
    for (const doc of docs) {
      const run = doc.data() as ValidationRunSummary;
      if (run.status !== 'completed') continue;
      if (marketplace === undefined || Object.hasOwn(run.marketplaces, marketplace)) return run;
    }
    if (docs.length < pageSize) return undefined;
    cursor = docs[docs.length - 1]!.id;
  }
  return undefined;
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

interface Scheduled {
  result: FixResult;
  queue: string | null;
  taskId: string | null;
}

/**
 * Enqueues a fix as a work item of the product's collection, on its provider's queue. The
 * collection documents are read once per run. An enqueue that fails is logged and counted, not
 * thrown: the other fixes still go out, and a rerun of the slot retries it under the same id.
 */
function fixScheduler(db: Firestore, enqueue: Enqueue, slot: string) {
  const owners = new Map<string, Promise<{ provider: string; category: string } | undefined>>();
  const ownerOf = (collection: string) => {
    let owner = owners.get(collection);
    if (!owner) {
      owner = readOwner(db, collection);
      owners.set(collection, owner);
    }
    return owner;
  };

  return async (fix: FixWorkItem, product: StoredProduct): Promise<Scheduled> => {
    const owner = product.collection ? await ownerOf(product.collection) : undefined;
    if (!owner) {
      logger.warn(
        { product: product.id, collection: product.collection },
        'no collection to re-collect a failing product with',
      );
      return { result: 'unschedulable', queue: null, taskId: null };
    }
    const { id: _runFixId, kind, ...payload } = fix;
    const item = workItemSchema.parse({
      collection: product.collection,
      kind,
      // Named by the slot, not the run: one re-collection per product per slot.
      key: fixId(slot, fix.marketplace, fix.productKey),
      provider: owner.provider,
      category: owner.category,
      // What the collector needs to fetch the product again, and why.
      payload,
    });
    const queue = queueFor(owner.provider);
    const taskId = workItemTaskId(item);
    try {
      return { result: await enqueue(queue, item, { id: taskId }), queue, taskId };
    } catch (error) {
      logger.error({ err: error, product: product.id, queue, taskId }, 'fix not enqueued');
      return { result: 'failed', queue, taskId };
    }
  };
}

const ownerSchema = collectionSchema.pick({ provider: true, category: true });

async function readOwner(db: Firestore, collection: string) {
  const snapshot = await db.collection(COLLECTIONS_PATH).doc(collection).get();
  if (!snapshot.exists) return undefined;
  const parsed = ownerSchema.safeParse(snapshot.data());
  if (parsed.success) return parsed.data;
  logger.warn({ collection, issues: parsed.error.issues }, 'unreadable collection');
  return undefined;
}

function findingDocument(
  runId: string,
  product: StoredProduct,
  found: Finding[],
  fix: { id: string } & Scheduled,
  maxExamples: number,
): DocumentData {
  return {
    runId,
    product: product.id,
    marketplace: product.marketplace,
    productKey: product.key,
    collection: product.collection,
    rules: found.map((f) => f.rule),
    findings: found.map(({ rule, count, examples }) => ({
      rule,
      count,
      examples: examples.slice(0, maxExamples),
    })),
    fix,
  };
}

/** Deletes the findings of an earlier attempt of this run that this attempt did not write. */
async function deleteStaleFindings(db: Firestore, runRef: DocumentReference, keep: Set<string>) {
  const stale: Array<{ ref: DocumentReference }> = [];
  let cursor: string | undefined;
  for (;;) {
    await paceFirestoreWork(db, 'validation');
    let query = runRef
      .collection(FINDINGS_COLLECTION)
      .orderBy(FieldPath.documentId())
      .select()
      .limit(BATCH_LIMIT);
    if (cursor) query = query.startAfter(cursor);
    const { docs } = await query.get();
    for (const doc of docs) if (!keep.has(doc.id)) stale.push({ ref: doc.ref });
    if (docs.length < BATCH_LIMIT) break;
    cursor = docs[docs.length - 1]!.id;
  }
  await commitInBatches(db, stale);
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
