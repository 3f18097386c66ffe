import {
  FieldValue,
  type Firestore,
  type QueryDocumentSnapshot,
  Timestamp,
} from 'firebase-admin/firestore';
import {
  type BatchingConfig,
  type BatchKind,
  type BatchQueues,
  batchKinds,
  type CostPerItem,
  planNextBatch,
  withBatchCap,
  withCostEstimates,
} from '../../core/pipeline/batching';
import { requestedUntil } from '../../core/quota/cooldown';
import { CostExceedsLimitError, QuotaExceededError } from '../../core/quota/errors';
import type { Decision, RetryReason } from '../../core/quota/gate';
import type { MeterReading } from '../../core/quota/meters';
import { assertWithinLimits, isReservedName } from '../../core/storage/firestore-limits';
import { logger } from '../../log';
import { acquireLease } from '../lease';
import type { QuotaEngine } from '../quota/quota-engine';
import { paceFirestoreWork } from '../storage/self-quota-runtime';
import { loadPipelineConfig } from './pipeline-config';

/**
 * The ingest runner (the Keepa ingestor pattern), upstream-agnostic: the upstream is three
 * injected fetchers. One slice takes the collection's lease, then repeatedly asks the batching
 * planner for the next batch, buys its estimated cost at the gate, calls the fetcher, feeds
 * the upstream's meter back to the engine and moves the items on, durably, before the next
 * batch. When tokens, the gate or a cooldown say "later", the slice stops and says when.
 *
 * Storage: `ingest/{collection}` holds counts per stage and the last slice's summary; every
 * item is its own document `ingest/{collection}/items/{key}`. Queues are therefore unbounded
 * (no 1 MiB document to page), a move is one small write per item, and a key can exist only
 * once, so rediscovery and redelivered batches cannot duplicate it. Each item carries `queue`,
 * "{stage}:{zero-padded ms}" (peek: discovered at; commit: peeked at; light: due at), so a
 * stage is read oldest-first with one range query on a single field: the automatic index
 * serves it, no composite index needed. Finished items keep their document (stage done or
 * failed, queue null), which is what makes rediscovering them a no-op.
 */

export const INGEST_COLLECTION = 'ingest';
/** Longer than the task function's timeout: a crashed slice frees the lease by then. */
export const DEFAULT_LEASE_MS = 10 * 60_000;
/** Upstream answers that fail an item this often park it in stage `failed`. */
export const DEFAULT_MAX_ATTEMPTS = 3;

export type IngestStage = BatchKind | 'done' | 'failed';

/** One item as fetchers see it. */
export interface IngestItem {
  key: string;
  /** Whatever discovery attached (a marketplace, a domain id...); keep it small. */
  data?: Record<string, unknown>;
  /** Failed upstream answers so far in this stage. */
  attempts: number;
}

/**
 * One item's outcome. Peek: `survivor` (to the commit queue) or `rejected` (done). Commit and
 * light: `stored` (done, or back to the light queue when `refreshAtMs` is given) or `rejected`
 * (done). Any kind: `failed` (back of its queue; parked after the maximum attempts). An item
 * the fetcher returns nothing for counts as failed.
 */
export interface IngestItemResult {
  key: string;
  outcome: 'survivor' | 'rejected' | 'stored' | 'failed';
  refreshAtMs?: number;
}

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

/** Items moved into each stage; `retried` went to the back of their own queue. */
export interface MovedCounts {
  commit: number;
  light: number;
  done: number;
  failed: number;
  retried: number;
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

async function runLeased(input: IngestSliceInput, report: SliceReport): Promise<SliceReport> {
  const { db, collection, fetchers } = input;
  const costs = new CostEstimates(
    (await loadPipelineConfig(db)).batching,
    fetchers.costPerItem,
    await loadObservedCosts(db, collection),
  );
  try {
    return await runBatches(input, report, costs);
  } finally {
    if (costs.changed) await recordObservedCosts(db, collection, costs.observed);
  }
}

/**
 * Each kind's estimated cost per item: the highest of the configured one, the upstream's own
 * (IngestFetchers.costPerItem) and what the kind's last batch really cost per item (the
 * upstream's `consumed` over the batch's items). The observed costs are kept with the
 * collection's ingest state, so a reservation that keeps falling short of the real cost is
 * raised to it from the next batch on, in this slice and the ones after it.
 */
class CostEstimates {
  changed = false;
  config: BatchingConfig;
  /** Items per batch the category's share carries, per kind, as the gate said this slice. */
  private readonly caps: Partial<Record<BatchKind, number>> = {};

  constructor(
    private readonly configured: BatchingConfig,
    private readonly upstream: CostPerItem | undefined,
    readonly observed: CostPerItem,
  ) {
    this.config = this.estimate();
  }

  /** A batch of `items` items of `kind` cost `consumed` (when the upstream says). */
  learn(kind: BatchKind, items: number, consumed: number | undefined): void {
    if (consumed === undefined || !Number.isFinite(consumed) || consumed < 0 || items < 1) return;
    const perItem = consumed / items;
    if (this.observed[kind] === perItem) return;
    this.observed[kind] = perItem;
    this.changed = true;
    this.config = this.estimate();
  }

  /**
   * The share carries at most `maxCost` a call: batches of `kind` shrink to fit, so a cost
   * learned above what the share was checked for slows the collection instead of stalling it.
   * False when not even one item fits.
   */
  capToShare(kind: BatchKind, maxCost: number): boolean {
    const items = Math.floor(maxCost / this.config[kind].costPerItem + 1e-9);
    if (items < 1) return false;
    this.caps[kind] = Math.min(this.caps[kind] ?? Number.POSITIVE_INFINITY, items);
    this.config = this.estimate();
    return true;
  }

  private estimate(): BatchingConfig {
    let config = withCostEstimates(this.configured, this.upstream, this.observed);
    for (const kind of batchKinds) {
      const cap = this.caps[kind];
      if (cap !== undefined) config = withBatchCap(config, kind, cap);
    }
    return config;
  }
}

async function runBatches(
  input: IngestSliceInput,
  report: SliceReport,
  costs: CostEstimates,
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
      });
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
          continue;
        }
        const message = `the category's share carries at most ${carries.max} a call; one ${plan.batch} item costs ${costs.config[plan.batch].costPerItem}`;
        logger.error(
          { collection, batch: plan.batch },
          `ingest batch can never be granted: ${message}`,
        );
        return stop(report, { reason: 'refused', batch: plan.batch, message });
      }
      return stop(report, { reason: 'gate', gateReason: decision.reason, atMs: decision.atMs });
    }
    let result: IngestBatchResult;
    try {
      result = await fetchers[plan.batch](plan.items);
    } catch (error) {
      if (!(error instanceof QuotaExceededError)) throw error;
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

// ---- Items and queues ------------------------------------------------------------------

const PLAIN_KEY = /^[A-Za-z0-9_-]{1,500}$/;
const MAX_KEY_LENGTH = 500;
/** `~` and the base64 of this many bytes is 1,500 bytes, Firestore's longest document id. */
const MAX_ENCODED_KEY_BYTES = 1124;

/**
 * Plain keys (ASINs...) are their own document id; anything else is encoded, prefixed `~`:
 * other characters, and plain keys of the form Firestore reserves (`__x__`).
 */
export function itemDocId(key: string): string {
  if (key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new RangeError(`ingest item keys have 1 to ${MAX_KEY_LENGTH} characters`);
  }
  if (PLAIN_KEY.test(key) && !isReservedName(key)) return key;
  const bytes = Buffer.from(key, 'utf8');
  if (bytes.length > MAX_ENCODED_KEY_BYTES) {
    throw new RangeError(
      `ingest item key "${key.slice(0, 40)}..." is ${bytes.length} bytes: a key with characters other than A-Z a-z 0-9 _ - has at most ${MAX_ENCODED_KEY_BYTES} (its document id, base64, is limited to 1,500)`,
    );
  }
  return `~${bytes.toString('base64url')}`;
}

function stateRef(db: Firestore, collection: string) {
  return db.collection(INGEST_COLLECTION).doc(collection);
}

function itemsRef(db: Firestore, collection: string) {
  return stateRef(db, collection).collection('items');
}

/** An item's `queue`: "{stage}:{ms, 15 digits}"; fixed width, so string order is time order. */
export function queueValue(stage: BatchKind, atMs: number): string {
  return `${stage}:${String(Math.max(0, Math.floor(atMs))).padStart(15, '0')}`;
}

/** The time in an item's `queue` value; null when it is not one. */
export function queueTimeMs(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const ms = Number(value.slice(value.indexOf(':') + 1));
  return Number.isFinite(ms) ? ms : null;
}

function toItem(doc: QueryDocumentSnapshot): IngestItem {
  const data = doc.get('data') as Record<string, unknown> | undefined;
  return {
    key: String(doc.get('key')),
    attempts: Number(doc.get('attempts') ?? 0),
    ...(data ? { data } : {}),
  };
}

/**
 * The front of each queue, in the planner's priority order. The planner takes the first kind
 * with work, so once one has items the others are not read; at most one batch's worth is.
 */
async function loadQueues(
  db: Firestore,
  collection: string,
  config: BatchingConfig,
  nowMs: number,
): Promise<BatchQueues<IngestItem>> {
  const queues: Record<BatchKind, IngestItem[]> = { peek: [], commit: [], light: [] };
  for (const kind of config.order) {
    // Light items wait for their due time; the others are due when queued.
    const upper = kind === 'light' ? queueValue('light', nowMs) : `${kind};`;
    const snapshot = await itemsRef(db, collection)
      .where('queue', '>=', `${kind}:`)
      .where('queue', '<=', upper)
      .orderBy('queue')
      .limit(config[kind].size)
      .get();
    queues[kind] = snapshot.docs.map(toItem);
    if (queues[kind].length > 0) break;
  }
  return queues;
}

/** When the next light update falls due, if one is scheduled. */
async function nextLightDue(
  db: Firestore,
  collection: string,
  nowMs: number,
): Promise<number | undefined> {
  const snapshot = await itemsRef(db, collection)
    .where('queue', '>', queueValue('light', nowMs))
    .where('queue', '<', 'light;')
    .orderBy('queue')
    .limit(1)
    .get();
  return snapshot.empty ? undefined : (queueTimeMs(snapshot.docs[0]!.get('queue')) ?? undefined);
}

interface Move {
  stage: IngestStage;
  counted: keyof MovedCounts;
  fields: Record<string, unknown>;
}

function nextMove(
  kind: BatchKind,
  result: IngestItemResult | undefined,
  attempts: number,
  nowMs: number,
  maxAttempts: number,
): Move {
  const outcome = result?.outcome;
  const accepted = kind === 'peek' ? ['survivor', 'rejected'] : ['stored', 'rejected'];
  if (outcome !== undefined && outcome !== 'failed' && !accepted.includes(outcome)) {
    logger.warn({ kind, key: result?.key, outcome }, 'ingest result does not fit its batch kind');
  }
  if (outcome === undefined || !accepted.includes(outcome)) {
    if (attempts + 1 >= maxAttempts) {
      return {
        stage: 'failed',
        counted: 'failed',
        fields: { stage: 'failed', queue: null, attempts: attempts + 1, outcome: 'failed' },
      };
    }
    return {
      stage: kind,
      counted: 'retried',
      fields: { queue: queueValue(kind, nowMs), attempts: attempts + 1 },
    };
  }
  if (outcome === 'rejected') {
    return {
      stage: 'done',
      counted: 'done',
      fields: { stage: 'done', queue: null, attempts: 0, outcome: 'rejected' },
    };
  }
  if (kind === 'peek') {
    return {
      stage: 'commit',
      counted: 'commit',
      fields: { stage: 'commit', queue: queueValue('commit', nowMs), attempts: 0 },
    };
  }
  const refreshAtMs = result?.refreshAtMs;
  if (refreshAtMs !== undefined) {
    return {
      stage: 'light',
      counted: 'light',
      fields: {
        stage: 'light',
        queue: queueValue('light', refreshAtMs),
        attempts: 0,
        outcome: 'stored',
        storedAt: Timestamp.fromMillis(nowMs),
      },
    };
  }
  return {
    stage: 'done',
    counted: 'done',
    fields: {
      stage: 'done',
      queue: null,
      attempts: 0,
      outcome: 'stored',
      storedAt: Timestamp.fromMillis(nowMs),
    },
  };
}

/**
 * Moves one batch's items on, in one transaction with the stage counts. Only items still in
 * the batch's stage move: applying the same batch again (a redelivered task, a retried
 * transaction) changes nothing.
 */
export async function applyIngestResults(
  db: Firestore,
  collection: string,
  kind: BatchKind,
  keys: readonly string[],
  results: readonly IngestItemResult[],
  nowMs: number,
  maxAttempts = DEFAULT_MAX_ATTEMPTS,
): Promise<MovedCounts> {
  const byKey = new Map(results.map((r) => [r.key, r]));
  const refs = [...new Set(keys)].map((key) => itemsRef(db, collection).doc(itemDocId(key)));
  if (refs.length === 0) return { commit: 0, light: 0, done: 0, failed: 0, retried: 0 };
  return db.runTransaction(async (tx) => {
    const moved: MovedCounts = { commit: 0, light: 0, done: 0, failed: 0, retried: 0 };
    const counts = new Map<IngestStage, number>();
    const snapshots = await tx.getAll(...refs);
    for (const snapshot of snapshots) {
      if (!snapshot.exists || snapshot.get('stage') !== kind) continue;
      const key = String(snapshot.get('key'));
      const attempts = Number(snapshot.get('attempts') ?? 0);
      const move = nextMove(kind, byKey.get(key), attempts, nowMs, maxAttempts);
      tx.update(snapshot.ref, { ...move.fields, updatedAt: Timestamp.fromMillis(nowMs) });
      moved[move.counted]++;
      counts.set(kind, (counts.get(kind) ?? 0) - 1);
      counts.set(move.stage, (counts.get(move.stage) ?? 0) + 1);
    }
    writeCounts(tx, stateRef(db, collection), counts, nowMs);
    return moved;
  });
}

function writeCounts(
  tx: FirebaseFirestore.Transaction,
  ref: FirebaseFirestore.DocumentReference,
  counts: Map<IngestStage, number>,
  nowMs: number,
): void {
  const changed = [...counts].filter(([, n]) => n !== 0);
  if (changed.length === 0) return;
  const increments = Object.fromEntries(changed.map(([s, n]) => [s, FieldValue.increment(n)]));
  tx.set(ref, { counts: increments, updatedAt: Timestamp.fromMillis(nowMs) }, { merge: true });
}

export interface NewIngestItem {
  key: string;
  data?: Record<string, unknown>;
}

export interface AddIngestItemsOptions {
  /** `peek` for discoveries (default); `light` for stored items due for a refresh. */
  stage?: 'peek' | 'light';
  nowMs: number;
  /** Light only: when the refresh falls due (default now). */
  dueAtMs?: number;
}

/** Items per transaction: reads plus writes plus the counts stay under Firestore's 500. */
const ADD_CHUNK = 200;

/**
 * Queues items. A key seen before keeps its state: rediscovering an item already peeked,
 * committed or rejected queues nothing. The one exception: a finished (done) item asked for
 * a light update goes back to the light queue.
 */
export async function addIngestItems(
  db: Firestore,
  collection: string,
  items: readonly NewIngestItem[],
  options: AddIngestItemsOptions,
): Promise<{ added: number; requeued: number; unchanged: number }> {
  const stage = options.stage ?? 'peek';
  const queue = queueValue(
    stage,
    stage === 'light' ? (options.dueAtMs ?? options.nowMs) : options.nowMs,
  );
  const unique = [...new Map(items.map((item) => [itemDocId(item.key), item])).entries()];
  // Every item document must fit Firestore's limits (discovery data is upstream data): a bad
  // one is refused, naming it, before any chunk is written.
  const at = Timestamp.fromMillis(options.nowMs);
  const itemDocs = itemsRef(db, collection);
  for (const [id, item] of unique) {
    assertWithinLimits(itemDocs.doc(id).path, newItemDocument(item, stage, queue, at));
  }
  const total = { added: 0, requeued: 0, unchanged: 0 };
  for (let i = 0; i < unique.length; i += ADD_CHUNK) {
    if (i > 0) await paceFirestoreWork(db, 'ingest');
    const chunk = unique.slice(i, i + ADD_CHUNK);
    const outcome = await db.runTransaction(async (tx) => {
      const result = { added: 0, requeued: 0, unchanged: 0 };
      const counts = new Map<IngestStage, number>();
      const refs = chunk.map(([id]) => itemsRef(db, collection).doc(id));
      const snapshots = await tx.getAll(...refs);
      snapshots.forEach((snapshot, j) => {
        const item = chunk[j]![1];
        if (!snapshot.exists) {
          tx.create(snapshot.ref, newItemDocument(item, stage, queue, at));
          counts.set(stage, (counts.get(stage) ?? 0) + 1);
          result.added++;
        } else if (stage === 'light' && snapshot.get('stage') === 'done') {
          tx.update(snapshot.ref, { stage, queue, attempts: 0, updatedAt: at });
          counts.set('done', (counts.get('done') ?? 0) - 1);
          counts.set(stage, (counts.get(stage) ?? 0) + 1);
          result.requeued++;
        } else {
          result.unchanged++;
        }
      });
      writeCounts(tx, stateRef(db, collection), counts, options.nowMs);
      return result;
    });
    total.added += outcome.added;
    total.requeued += outcome.requeued;
    total.unchanged += outcome.unchanged;
  }
  return total;
}

function newItemDocument(item: NewIngestItem, stage: BatchKind, queue: string, at: Timestamp) {
  return {
    key: item.key,
    ...(item.data ? { data: item.data } : {}),
    stage,
    queue,
    attempts: 0,
    addedAt: at,
    updatedAt: at,
  };
}

/** Items per stage, from the counts kept with every move. */
export async function ingestCounts(
  db: Firestore,
  collection: string,
): Promise<Record<IngestStage, number>> {
  const counts = ((await stateRef(db, collection).get()).get('counts') ?? {}) as Record<
    string,
    number
  >;
  const stages: IngestStage[] = [...batchKinds, 'done', 'failed'];
  return Object.fromEntries(stages.map((s) => [s, counts[s] ?? 0])) as Record<IngestStage, number>;
}

const OBSERVED_COSTS_FIELD = 'observedCostPerItem';

/** The observed cost per item of each kind's last batch, as kept with the ingest state. */
async function loadObservedCosts(db: Firestore, collection: string): Promise<CostPerItem> {
  const stored = (await stateRef(db, collection).get()).get(OBSERVED_COSTS_FIELD) as
    | Record<string, unknown>
    | undefined;
  const costs: CostPerItem = {};
  for (const kind of batchKinds) {
    const value = stored?.[kind];
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) costs[kind] = value;
  }
  return costs;
}

/** Keeps the observed costs for later slices. Losing them must not fail the slice. */
async function recordObservedCosts(db: Firestore, collection: string, costs: CostPerItem) {
  try {
    await stateRef(db, collection).set(
      { [OBSERVED_COSTS_FIELD]: costs },
      { mergeFields: [OBSERVED_COSTS_FIELD] },
    );
  } catch (error) {
    logger.warn({ err: error, collection }, 'ingest observed costs not recorded');
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
