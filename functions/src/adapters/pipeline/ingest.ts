import { type Firestore, Timestamp } from 'firebase-admin/firestore';
import { type BatchKind, type CostPerItem, planNextBatch } from '../../core/pipeline/batching';
import { requestedUntil } from '../../core/quota/cooldown';
import type { Decision, RetryReason } from '../../core/quota/decision';
import { CostExceedsLimitError, QuotaExceededError } from '../../core/quota/errors';
import type { MeterReading } from '../../core/quota/meters';
import { logger } from '../../log';
import { acquireLease } from '../lease';
import type { QuotaEngine } from '../quota/quota-engine';
import { paceFirestoreWork } from '../storage/self-quota-runtime';
import { CostEstimates, observedCosts, recordObservedCosts } from './ingest-costs';
import { applyIngestResults, type IngestItemResult, type MovedCounts } from './ingest-queue-writes';
import { type IngestItem, loadQueues, nextLightDue, stateRef } from './ingest-queues';
import { loadPipelineConfig } from './pipeline-config';

/**
 * The ingest runner (the Keepa ingestor pattern), upstream-agnostic: the upstream is three
 * injected fetchers. One slice takes the collection's lease, then repeatedly asks the batching
 * planner for the next batch, buys its estimated cost at the gate, calls the fetcher, feeds
 * the upstream's meter back to the engine and moves the items on, durably, before the next
 * batch. When tokens, the gate or a cooldown say "later", the slice stops and says when.
 *
 * This module runs a slice; beside it, ingest-queues.ts holds the items' storage and reads the
 * queues, ingest-queue-writes.ts queues items and moves them on, ingest-costs.ts estimates what
 * a batch costs.
 */

/** Longer than the task function's timeout: a crashed slice frees the lease by then. */
export const DEFAULT_LEASE_MS = 10 * 60_000;

export interface IngestBatchResult {
  results: IngestItemResult[];
  /**
   * What the upstream said about its balance after the call (Keepa: tokensLeft, refillRate,
   * tokensConsumed). `consumed` settles the grant; without it the estimate stands.
   */
  meter?: MeterReading;
}

/**
 * Calls the upstream for one batch and stores what it returned; resolves only once stored.
 * Throws QuotaExceededError when the upstream says quota exceeded; any other throw fails the
 * slice (the task is retried) and leaves the batch's items where they were.
 */
export type IngestFetcher = (items: IngestItem[]) => Promise<IngestBatchResult>;

export interface IngestFetchers {
  peek: IngestFetcher;
  commit: IngestFetcher;
  light: IngestFetcher;
  /**
   * A free status call (Keepa's token endpoint), used when this instance has no meter reading
   * yet. Without it the slice assumes the provider's configured token bucket is full.
   */
  status?: () => Promise<MeterReading>;
  /**
   * The upstream's own estimate of one item's cost per kind (Keepa: its documented price of the
   * request the fetcher makes). The planner estimates each batch at the highest of this, the
   * configured `costPerItem` and what the last batch of the kind really cost per item.
   */
  costPerItem?: CostPerItem;
}

export interface IngestSliceInput {
  db: Firestore;
  engine: QuotaEngine;
  collection: string;
  provider: string;
  category: string;
  fetchers: IngestFetchers;
  now: () => number;
  /** No batch starts at or after this instant; the slice asks to continue at once. */
  deadlineMs?: number;
  leaseMs?: number;
  maxAttempts?: number;
}

export type IngestStop =
  /** Nothing to do now; `reschedule` is when the next light update falls due, if any. */
  | { reason: 'idle' }
  /** The planner: the projected balance affords the next batch at `atMs`. */
  | { reason: 'tokens'; batch: BatchKind; atMs: number }
  /** The gate: retry at `atMs` (tokens of this category's share, paused, maintenance...). */
  | { reason: 'gate'; gateReason: RetryReason; atMs: number }
  /** The provider cools down until `atMs` (already running, or started by this slice). */
  | { reason: 'cooldown' | 'quota'; atMs: number }
  | { reason: 'deadline'; atMs: number }
  /** No limit will ever grant the next batch: nothing is rescheduled until the config changes. */
  | { reason: 'refused'; batch: BatchKind; message: string };

export type IngestSliceSummary =
  | { skipped: 'lease'; heldUntil: number }
  | {
      skipped?: undefined;
      /** Where the starting balance came from (see IngestFetchers.status). */
      meter?: 'observed' | 'status' | 'configured';
      batches: Record<BatchKind, number>;
      moved: MovedCounts;
      /** Actual cost of the completed batches (the upstream's consumed, else the estimate). */
      tokensSpent: number;
      stopped: IngestStop;
      /** When to run the next slice; absent when nothing is left to schedule. */
      reschedule?: number;
      /**
       * The gate deferred a batch, and the next slice's first batch asks it again: recorded
       * demand counts that ask as a re-ask, not as new demand (policy replay re-asks deferred
       * calls itself). Kept in the collection's `lastSlice`, so whichever slice runs next (the
       * one this slice enqueued, or one discovery enqueued) reads it under the lease.
       */
      reask?: boolean;
    };

type SliceReport = Exclude<IngestSliceSummary, { skipped: 'lease' }>;

export async function runIngestSlice(input: IngestSliceInput): Promise<IngestSliceSummary> {
  const { db, engine, collection, provider, now } = input;
  const report: SliceReport = {
    batches: { peek: 0, commit: 0, light: 0 },
    moved: { commit: 0, light: 0, done: 0, failed: 0, retried: 0 },
    tokensSpent: 0,
    stopped: { reason: 'idle' },
  };
  // Cheapest check first: while the provider cools down nothing here may call it.
  const cooldown = await engine.cooldowns.current(provider);
  if (cooldown && cooldown.untilMs > now()) {
    return stop(report, { reason: 'cooldown', atMs: cooldown.untilMs });
  }
  const lease = await acquireCollectionLease(
    db,
    collection,
    now(),
    input.leaseMs ?? DEFAULT_LEASE_MS,
  );
  if (lease.kind === 'held') return { skipped: 'lease', heldUntil: lease.untilMs };
  try {
    const result = await runLeased(input, report);
    await recordSlice(db, collection, result, now());
    return result;
  } finally {
    await lease.release();
  }
}

/** Whether the slice's next acquire asks again a batch already asked (the summary's `reask`). */
interface ReaskState {
  reask: boolean;
}

async function runLeased(input: IngestSliceInput, report: SliceReport): Promise<SliceReport> {
  const { db, collection, fetchers } = input;
  const [config, state] = await Promise.all([
    loadPipelineConfig(db),
    stateRef(db, collection).get(),
  ]);
  const costs = new CostEstimates(config.batching, fetchers.costPerItem, observedCosts(state));
  const asking: ReaskState = { reask: state.get('lastSlice.reask') === true };
  try {
    const result = await runBatches(input, report, costs, asking);
    // Stopped on the gate, or before asking again what it deferred: the next slice asks again
    // (unless nothing is left to ask: the batch was done meanwhile).
    if (asking.reask && result.stopped.reason !== 'idle') result.reask = true;
    return result;
  } finally {
    if (costs.changed) await recordObservedCosts(db, collection, costs.observed);
  }
}

async function runBatches(
  input: IngestSliceInput,
  report: SliceReport,
  costs: CostEstimates,
  asking: ReaskState,
): Promise<SliceReport> {
  const { db, engine, collection, provider, category, fetchers, now } = input;
  try {
    report.meter = await ensureMeter(input);
  } catch (error) {
    // Even the free status call can say "quota exceeded": the provider cools down all the same.
    if (!(error instanceof QuotaExceededError)) throw error;
    return stop(report, { reason: 'quota', atMs: await startCooldown(input, error) });
  }
  for (;;) {
    const { config } = costs;
    if (input.deadlineMs !== undefined && now() >= input.deadlineMs) {
      return stop(report, { reason: 'deadline', atMs: now() });
    }
    // Each batch reads its queues and moves its items: slowed while Firestore is busy.
    await paceFirestoreWork(db, 'ingest');
    const queues = await loadQueues(db, collection, config, now());
    const reading = engine.meters.snapshot(provider)!;
    const plan = planNextBatch(queues, { ...reading, provider }, now(), config);
    if (plan.kind === 'idle') {
      const next = await nextLightDue(db, collection, now());
      return stop(report, { reason: 'idle' }, next);
    }
    if (plan.kind === 'wait') {
      return stop(report, { reason: 'tokens', batch: plan.batch, atMs: plan.untilMs });
    }
    let decision: Decision;
    try {
      decision = await engine.acquire({
        provider,
        category,
        operation: plan.batch,
        cost: plan.estimatedCost,
        maxWaitMs: 0,
        attempt: asking.reask ? 1 : 0,
      });
      asking.reask = false;
    } catch (error) {
      if (!(error instanceof CostExceedsLimitError)) throw error;
      // The category's share can never pay for this batch: retrying cannot help. An operator
      // must raise the share or shrink the batch (config/pipeline batching).
      logger.error({ collection, err: error }, 'ingest batch can never be granted');
      return stop(report, { reason: 'refused', batch: plan.batch, message: error.message });
    }
    if (decision.kind === 'retryAt') {
      // The batch asks more than the share can ever grant one call (its cost per item was
      // learned above the price the share was checked for): run smaller batches.
      const carries = decision.shareCarries;
      if (carries && carries.asked === plan.estimatedCost && carries.max < carries.asked) {
        if (costs.capToShare(plan.batch, carries.max)) {
          logger.warn(
            { collection, batch: plan.batch, asked: carries.asked, shareCarries: carries.max },
            'ingest batch larger than its share carries: batches shrink to fit',
          );
          // The smaller batch asks again for the same work: a re-ask, not new demand.
          asking.reask = true;
          continue;
        }
        const message = `the category's share carries at most ${carries.max} a call; one ${plan.batch} item costs ${costs.config[plan.batch].costPerItem}`;
        logger.error(
          { collection, batch: plan.batch },
          `ingest batch can never be granted: ${message}`,
        );
        return stop(report, { reason: 'refused', batch: plan.batch, message });
      }
      asking.reask = true;
      return stop(report, { reason: 'gate', gateReason: decision.reason, atMs: decision.atMs });
    }
    let result: IngestBatchResult;
    try {
      result = await fetchers[plan.batch](plan.items);
    } catch (error) {
      if (!(error instanceof QuotaExceededError)) throw error;
      // The batch stays queued: after the cooldown it is asked again, not asked anew.
      asking.reask = true;
      return stop(report, { reason: 'quota', atMs: await startCooldown(input, error) });
    } finally {
      decision.release();
    }
    if (result.meter) engine.observe(provider, result.meter);
    const cost = result.meter?.consumed ?? plan.estimatedCost;
    await decision.settle({ cost });
    costs.learn(plan.batch, plan.items.length, result.meter?.consumed);
    report.tokensSpent += cost;
    report.batches[plan.batch]++;
    const moved = await applyIngestResults(
      db,
      collection,
      plan.batch,
      plan.items.map((item) => item.key),
      result.results,
      now(),
      input.maxAttempts,
    );
    for (const stage of Object.keys(moved) as Array<keyof MovedCounts>) {
      report.moved[stage] += moved[stage];
    }
  }
}

function stop(report: SliceReport, stopped: IngestStop, reschedule?: number): SliceReport {
  report.stopped = stopped;
  const at = 'atMs' in stopped ? stopped.atMs : reschedule;
  if (at === undefined) delete report.reschedule;
  else report.reschedule = at;
  return report;
}

/**
 * The planner needs a balance. The engine's projection (this instance's last reports) is best;
 * without one, the upstream's status call if there is one, else the configured bucket, full.
 * Either goes into the engine, so its reservations and the gate's meter check apply from here.
 */
async function ensureMeter(input: IngestSliceInput): Promise<'observed' | 'status' | 'configured'> {
  const { engine, provider, fetchers, now } = input;
  if (engine.meters.snapshot(provider)) return 'observed';
  if (fetchers.status) {
    engine.observe(provider, await fetchers.status());
    return 'status';
  }
  const config = await engine.contexts.runtimeConfig();
  const bucket = config.providers
    .find((p) => p.id === provider)
    ?.limits.find((l) => l.kind === 'tokenBucket');
  if (bucket?.kind !== 'tokenBucket') {
    throw new Error(`ingest for "${provider}" needs a tokenBucket limit or a status fetcher`);
  }
  engine.observe(provider, {
    balance: bucket.capacity,
    capacity: bucket.capacity,
    ratePerSecond: bucket.refillPerSecond,
    atMs: now(),
  });
  return 'configured';
}

/** A failure to write the cooldown must not turn the quota error into an ordinary one. */
async function startCooldown(input: IngestSliceInput, error: QuotaExceededError) {
  try {
    return (await input.engine.reportQuotaError(error, input.category)).untilMs;
  } catch (writeError) {
    logger.error({ err: writeError, provider: error.provider }, 'cooldown not recorded');
    // Still stay away: what the upstream asked for (bounded like any cooldown), else the default.
    return requestedUntil(input.now(), error.retryAfterSeconds, 1800);
  }
}

/** For operators: what the last slice did. Losing it must not fail the slice. */
async function recordSlice(db: Firestore, collection: string, report: SliceReport, nowMs: number) {
  try {
    await stateRef(db, collection).set(
      { lastSlice: { ...report, at: Timestamp.fromMillis(nowMs) } },
      { mergeFields: ['lastSlice'] },
    );
  } catch (error) {
    logger.warn({ err: error, collection }, 'ingest slice summary not recorded');
  }
}

// ---- Lease (the auto-sync pattern) -----------------------------------------------------

/** `ingest/{collection}/lease/current`: one slice per collection at a time (see lease.ts). */
function acquireCollectionLease(db: Firestore, collection: string, nowMs: number, leaseMs: number) {
  return acquireLease(stateRef(db, collection).collection('lease').doc('current'), nowMs, leaseMs, {
    collection,
  });
}
