// SmartProxy in the pipeline (the Buck.cheap price-history collection): the proxied client, the
// listing-page and price-history work handlers, and the instance's coalesced progress.

import { PRODUCT_OPERATION } from '../../core/pipeline/category-work';
import { DEFAULT_COLLECTION_CONFIG } from '../../core/pipeline/collection-schema';
import { generationKey } from '../../core/pipeline/historical';
import {
  type WorkItem,
  workItemSchema,
  workItemTaskId,
  workQueueName,
} from '../../core/pipeline/work-items';
import { db } from '../firebase';
import { type DiscoverPayload, markMarketplaceExhausted } from '../pipeline/collection-batches';
import { recordStoredCount } from '../pipeline/collection-progress';
import { loadPipelineConfig } from '../pipeline/pipeline-config';
import { productsRepository } from '../pipeline/products-repository';
import { ProgressBuffer } from '../pipeline/progress-buffer';
import { enqueueTask } from '../queues/task-queue';
import { installShutdownFlush } from '../storage/shutdown-flush';
import { createPriceHistoryHandler, discoverProducts, PRICE_HISTORY_KIND } from './price-history';
import { cached, instanceRawPayloads, providerConfig, required } from './provider-clients';
import { ProxiedHttpClient } from './proxied-fetch';
import { SMARTPROXY_PASSWORD, SMARTPROXY_USERNAME } from './secrets';

async function proxyClient(): Promise<{ client: ProxiedHttpClient; siteBaseUrl: string }> {
  const provider = await providerConfig('smartproxy');
  const siteBaseUrl = required(provider, 'endpoints.site');
  const options = {
    proxyUrl: required(provider, 'baseUrl'),
    username: SMARTPROXY_USERNAME.value(),
    password: SMARTPROXY_PASSWORD.value(),
    // Only the collected site's 403 (or the proxy's own) blocks the provider.
    quotaOrigins: [new URL(siteBaseUrl).origin],
  };
  const client = cached('smartproxy', options, () => new ProxiedHttpClient(options));
  return { client, siteBaseUrl };
}

/**
 * Progress of price-history collections, coalesced in the instance (one count per
 * `collections.progressBatch` products or `progressFlushSeconds`), not one write of the
 * collection's document per product; the heartbeat recounts what an instance took with it.
 */
let progress: ProgressBuffer | undefined;
let progressSettings = DEFAULT_COLLECTION_CONFIG;
function instanceProgress(): ProgressBuffer {
  if (!progress) {
    // The configured batch and interval, as soon as they are read (the defaults until then).
    loadPipelineConfig(db()).then(
      (config) => {
        progressSettings = config.collections;
      },
      () => undefined,
    );
    progress = new ProgressBuffer(
      async (collection, marketplace) => {
        await recordStoredCount(db(), collection, marketplace);
        progressSettings = (await loadPipelineConfig(db())).collections;
      },
      {
        batch: () => progressSettings.progressBatch,
        flushMs: () => progressSettings.progressFlushSeconds * 1000,
      },
    );
    // Scale-in sends SIGTERM: record what the instance holds rather than wait for a recount.
    const buffer = progress;
    installShutdownFlush({ flush: () => buffer.flushAll() });
  }
  return progress;
}

export async function handlePriceHistory(item: WorkItem) {
  const { client, siteBaseUrl } = await proxyClient();
  return createPriceHistoryHandler({
    client,
    siteBaseUrl,
    products: productsRepository(),
    raw: instanceRawPayloads(),
    recordProgress: (collection, marketplace) => instanceProgress().report(collection, marketplace),
  })(item);
}

/** A listing page: one price-history item per product, enqueued to the same provider's queue. */
export async function handleDiscover(item: WorkItem) {
  const { marketplace, page, limit, generation = 0 } = item.payload as DiscoverPayload;
  const { client, siteBaseUrl } = await proxyClient();
  const found = await discoverProducts({ client, siteBaseUrl, marketplace, page });
  if (found.productIds.length === 0) {
    await markMarketplaceExhausted(db(), item.collection, marketplace);
  }
  const wanted = found.productIds.slice(0, limit);
  // A page discovered again after a restart: what this collection stored is not paid twice.
  const stored =
    generation > 0
      ? await productsRepository().storedBy(item.collection, marketplace, wanted)
      : new Set<string>();
  for (const productId of wanted.filter((id) => !stored.has(id))) {
    const product = workItemSchema.parse({
      collection: item.collection,
      kind: PRICE_HISTORY_KIND,
      key: generationKey(`${marketplace}~${productId}`, generation),
      provider: item.provider,
      category: item.category,
      operation: PRODUCT_OPERATION,
      // Estimated as one request; the handler settles the page and its CSV it really made.
      payload: { marketplace, productId },
    });
    await enqueueTask(workQueueName(item.provider), product, {
      id: workItemTaskId(product),
    });
  }
  return { bytes: found.bytes, requests: found.requests };
}
