// SmartProxy in the pipeline (the Buck.cheap price-history collection): the proxied client, the
// listing-page and price-history work handlers.

import { PRODUCT_OPERATION } from '../../core/pipeline/category-work';
import { generationKey } from '../../core/pipeline/historical';
import {
  type WorkItem,
  workItemSchema,
  workItemTaskId,
  workQueueName,
} from '../../core/pipeline/work-items';
import { db } from '../firebase';
import { type DiscoverPayload, markMarketplaceExhausted } from '../pipeline/collection-batches';
import { instanceProducts } from '../pipeline/instance-products';
import { productsRepository } from '../pipeline/products-repository';
import { asRunningWork } from '../pipeline/running-work';
import { enqueueTask } from '../queues/task-queue';
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

export function handlePriceHistory(item: WorkItem) {
  // Counted while it runs: the product buffer flushes once every such task waits on it.
  return asRunningWork(async () => {
    const { client, siteBaseUrl } = await proxyClient();
    return createPriceHistoryHandler({
      client,
      siteBaseUrl,
      // Stored with the instance's other products; progress is reported per flush.
      products: instanceProducts(),
      raw: instanceRawPayloads(),
    })(item);
  });
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
