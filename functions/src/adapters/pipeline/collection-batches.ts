import type { Firestore } from 'firebase-admin/firestore';
import { parseDocument } from '../../core/config';
import { LISTING_OPERATION } from '../../core/pipeline/category-work';
import type { Collection } from '../../core/pipeline/collection-schema';
import {
  generationKey,
  type HistoricalConfig,
  type HistoricalState,
  historicalStateSchema,
  markExhausted,
  planDiscovery,
  rewindDiscovery,
} from '../../core/pipeline/historical';
import { workItemSchema, workItemTaskId } from '../../core/pipeline/work-items';
import { logger } from '../../log';
import type { Enqueue } from '../queues/task-queue';
import { Registry } from '../registry';
import { CollectionsRepository } from './collections-repository';
import { loadPipelineConfig } from './pipeline-config';

/**
 * The historical collection batches schedule: for every running collection, its provider's
 * batch starter hands out the next batch of work. Upstream wiring registers the starters, so
 * this module knows no upstream.
 */

export const BATCHES_COLLECTION = 'batches';
export const DISCOVER_KIND = 'discover';

/** Starts a collection's next batch; returns a summary for the log. */
export type BatchStarter = (collection: Collection, nowMs: number) => Promise<unknown>;

const starters = new Registry<BatchStarter>();

export function registerBatchStarter(provider: string, starter: BatchStarter): () => void {
  return starters.register(provider, starter);
}

export function batchStarter(provider: string): BatchStarter | undefined {
  return starters.get(provider);
}

export interface BatchRunSummary {
  collection: string;
  outcome: 'started' | 'skipped' | 'failed';
  detail?: unknown;
}

/** Runs every running collection's starter; one collection's failure does not stop the rest. */
export async function runCollectionBatches(
  db: Firestore,
  nowMs: number,
  starterFor: (provider: string) => BatchStarter | undefined = batchStarter,
): Promise<BatchRunSummary[]> {
  const summaries: BatchRunSummary[] = [];
  for (const collection of await new CollectionsRepository(db).list()) {
    const starter = starterFor(collection.provider);
    if (collection.status !== 'running' || !starter) {
      summaries.push({
        collection: collection.id,
        outcome: 'skipped',
        detail: starter ? collection.status : 'no batch starter for its provider',
      });
      continue;
    }
    try {
      summaries.push({
        collection: collection.id,
        outcome: 'started',
        detail: await starter(collection, nowMs),
      });
    } catch (error) {
      logger.error({ err: error, collection: collection.id }, 'collection batch failed');
      summaries.push({ collection: collection.id, outcome: 'failed' });
    }
  }
  return summaries;
}

/** What the `discover` work item for one listing page carries. */
export interface DiscoverPayload {
  marketplace: string;
  page: number;
  /** Products of the page to collect (its first ones). */
  limit: number;
  /** The collection's restarts when the page was handed out (see generationKey). */
  generation?: number;
}

/**
 * The batch starter of listing-page collections: plans the pages to discover, enqueues one
 * `discover` work item per page (deterministic ids, so a re-run enqueues nothing twice), then
 * advances the cursor guarded by the state's update time. A concurrent run that advanced it
 * first had planned the same pages, whose enqueues were duplicates.
 */
export function discoveryStarter(deps: {
  db: Firestore;
  enqueue: Enqueue;
  queueFor: (provider: string) => string;
  config?: (db: Firestore) => Promise<HistoricalConfig>;
}): BatchStarter {
  const readConfig =
    deps.config ?? (async (db: Firestore) => (await loadPipelineConfig(db)).historical);
  return async (collection) => {
    const ref = deps.db.collection(BATCHES_COLLECTION).doc(collection.id);
    const snapshot = await ref.get();
    const state = readState(collection.id, snapshot.data());
    const plan = planDiscovery(collection, state, await readConfig(deps.db));
    let enqueued = 0;
    for (const { marketplace, page, limit } of plan.pages) {
      const item = workItemSchema.parse({
        collection: collection.id,
        kind: DISCOVER_KIND,
        key: generationKey(`${marketplace}~${page}`, collection.restarts),
        provider: collection.provider,
        category: collection.category,
        operation: LISTING_OPERATION,
        payload: {
          marketplace,
          page,
          limit,
          generation: collection.restarts,
        } satisfies DiscoverPayload,
      });
      const result = await deps.enqueue(deps.queueFor(collection.provider), item, {
        id: workItemTaskId(item),
      });
      if (result === 'enqueued') enqueued++;
    }
    if (plan.pages.length > 0) {
      const data = { ...plan.next, updatedAt: Date.now() };
      await (snapshot.exists
        ? ref.update(data, { lastUpdateTime: snapshot.updateTime })
        : ref.create(data)
      ).catch((error) =>
        logger.warn({ err: error, collection: collection.id }, 'discovery cursor moved meanwhile'),
      );
    }
    return { pages: plan.pages.length, enqueued };
  };
}

/** Records that a marketplace's listing ran out of pages, so no run hands out more. */
export async function markMarketplaceExhausted(
  db: Firestore,
  collection: string,
  marketplace: string,
): Promise<void> {
  const ref = db.collection(BATCHES_COLLECTION).doc(collection);
  await db.runTransaction(async (tx) => {
    const state = readState(collection, (await tx.get(ref)).data());
    tx.set(ref, { ...markExhausted(state, marketplace), updatedAt: Date.now() });
  });
}

function readState(collection: string, data: unknown): HistoricalState {
  return parseDocument(historicalStateSchema, `${BATCHES_COLLECTION}/${collection}`, data ?? {});
}

/**
 * A restarted collection's listing is discovered again from where its collected count stands
 * (rewindDiscovery); a collection without discovery state has nothing to rewind.
 */
export async function rewindCollectionDiscovery(
  db: Firestore,
  collection: Collection,
  config?: HistoricalConfig,
): Promise<void> {
  const ref = db.collection(BATCHES_COLLECTION).doc(collection.id);
  const historical = config ?? (await loadPipelineConfig(db)).historical;
  await db.runTransaction(async (tx) => {
    const snapshot = await tx.get(ref);
    if (!snapshot.exists) return;
    const state = readState(collection.id, snapshot.data());
    tx.set(ref, { ...rewindDiscovery(collection, state, historical), updatedAt: Date.now() });
  });
}
