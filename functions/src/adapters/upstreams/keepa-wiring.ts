// Keepa in the pipeline (the deals ingestor): its client, ingest fetchers, the deal-scan work
// handler and batch starter, and the re-collection of a product failing validation.

import {
  KEEPA_DEAL_OPERATION,
  KEEPA_DEAL_PAGE_COST,
  keepaDealPages,
} from '../../core/pipeline/category-work';
import type { Collection } from '../../core/pipeline/collection-schema';
import {
  type WorkItem,
  workItemSchema,
  workItemTaskId,
  workQueueName,
} from '../../core/pipeline/work-items';
import { db } from '../firebase';
import { recordStoredCount } from '../pipeline/collection-progress';
import type { IngestFetcher, IngestFetchers } from '../pipeline/ingest';
import { addIngestItems } from '../pipeline/ingest-queue-writes';
import { productsRepository } from '../pipeline/products-repository';
import { rescheduleIngest } from '../queues/ingest-queue';
import { enqueueTask } from '../queues/task-queue';
import { instanceQuotaEngine } from '../quota/instance-quota-engine';
import { KeepaClient } from './keepa';
import { createKeepaIngestFetchers, discoverDeals } from './keepa-ingest';
import { cached, instanceRawPayloads, providerConfig, required } from './provider-clients';
import { KEEPA_API_KEY } from './secrets';

export async function keepaClient(): Promise<KeepaClient> {
  const provider = await providerConfig('keepa');
  const bucket = provider.limits.find((l) => l.kind === 'tokenBucket');
  const options = {
    baseUrl: required(provider, 'baseUrl'),
    apiKey: KEEPA_API_KEY.value(),
    domainId: Number(provider.settings.domainId ?? 1),
    capacity: bucket?.kind === 'tokenBucket' ? bucket.capacity : undefined,
  };
  return cached('keepa', options, () => new KeepaClient(options));
}

/** Stored products count as the collection's progress after every commit batch. */
function withProgress(fetcher: IngestFetcher, collection: Collection): IngestFetcher {
  return async (items) => {
    const result = await fetcher(items);
    if (result.results.some((r) => r.outcome === 'stored')) {
      for (const marketplace of Object.keys(collection.marketplaces)) {
        await recordStoredCount(db(), collection.id, marketplace);
      }
    }
    return result;
  };
}

export async function keepaIngestFetchers(collection: Collection): Promise<IngestFetchers> {
  const fetchers = createKeepaIngestFetchers({
    client: await keepaClient(),
    products: productsRepository(),
    collection: collection.id,
    marketplace: Object.keys(collection.marketplaces)[0],
    raw: instanceRawPayloads(),
  });
  return { ...fetchers, commit: withProgress(fetchers.commit, collection) };
}

export const KEEPA_DEALS_KIND = 'keepa-deals';

/** A deal scan for the collection, then its ingest slices take over. */
export async function handleKeepaDeals(item: WorkItem) {
  const { pages } = (item.payload ?? {}) as { pages?: number };
  const client = await keepaClient();
  const result = await discoverDeals({
    client,
    db: db(),
    collection: item.collection,
    pages: pages ?? 1,
  });
  if (result.meter) instanceQuotaEngine().observe('keepa', result.meter);
  await rescheduleIngest(item.collection, Date.now());
  return { actualCost: result.meter?.consumed };
}

/** Each scheduled batch scans the deal pages once (one item per run slot) and starts ingest. */
export async function startKeepaBatch(collection: Collection, nowMs: number) {
  const provider = await providerConfig('keepa');
  const pages = keepaDealPages(provider);
  const slot = new Date(nowMs).toISOString().slice(0, 13); // one scan per hour at most
  const item = workItemSchema.parse({
    collection: collection.id,
    kind: KEEPA_DEALS_KIND,
    key: slot,
    provider: 'keepa',
    category: collection.category,
    operation: KEEPA_DEAL_OPERATION,
    cost: pages * KEEPA_DEAL_PAGE_COST,
    payload: { pages },
  });
  const result = await enqueueTask(workQueueName('keepa'), item, {
    id: workItemTaskId(item),
  });
  return { dealScan: result, pages };
}

/** A Keepa product failing validation is refreshed by its collection's ingest. */
export async function recollectKeepa(item: WorkItem) {
  const { productKey } = (item.payload ?? {}) as { productKey?: string };
  if (!productKey) throw new TypeError(`recollect item ${item.key}: no productKey`);
  await addIngestItems(db(), item.collection, [{ key: productKey }], {
    stage: 'light',
    nowMs: Date.now(),
  });
  await rescheduleIngest(item.collection, Date.now());
  return undefined;
}
