import { ConfigError, type Provider } from '../../core/config';
import {
  KEEPA_DEAL_OPERATION,
  KEEPA_DEAL_PAGE_COST,
  keepaDealPages,
  PRODUCT_OPERATION,
  REALTIME_SALES_SYNC,
} from '../../core/pipeline/category-work';
import { type Collection, DEFAULT_COLLECTION_CONFIG } from '../../core/pipeline/collections';
import { generationKey } from '../../core/pipeline/historical';
import {
  type WorkItem,
  workItemSchema,
  workItemTaskId,
  workQueueName,
} from '../../core/pipeline/work-items';
import { db } from '../firebase';
import { connectFleetStats, runsAsFunction } from '../observability/fleet-recorder';
import { registerAutoSyncFetcher } from '../pipeline/autosync-fetchers';
import {
  DISCOVER_KIND,
  type DiscoverPayload,
  discoveryStarter,
  markMarketplaceExhausted,
  registerBatchStarter,
} from '../pipeline/collection-batches';
import { recordStoredCount } from '../pipeline/collection-progress';
import type { IngestFetcher, IngestFetchers } from '../pipeline/ingest';
import { registerIngestFetchers } from '../pipeline/ingest-fetchers';
import { addIngestItems } from '../pipeline/ingest-queue-writes';
import { loadPipelineConfig } from '../pipeline/pipeline-config';
import { productsRepository } from '../pipeline/products-repository';
import { ProgressBuffer } from '../pipeline/progress-buffer';
import { SalesRepository } from '../pipeline/sales-repository';
import { registerWorkHandler } from '../pipeline/work-handlers';
import type { WorkHandler } from '../pipeline/work-runner';
import { rescheduleIngest } from '../queues/ingest-queue';
import { enqueueTask } from '../queues/task-queue';
import { instanceQuotaEngine } from '../quota/instance-quota-engine';
import { payloadStore } from '../storage/payload-store';
import { type RawPayloads, rawPayloads } from '../storage/raw-payloads';
import { installShutdownFlush, instanceWriteBuffer } from '../storage/write-buffer';
import { KeepaClient } from './keepa';
import { createKeepaIngestFetchers, discoverDeals } from './keepa-ingest';
import {
  createPriceHistoryHandler,
  discoverProducts,
  PRICE_HISTORY_KIND,
  RECOLLECT_KIND,
} from './price-history';
import { ProxiedHttpClient } from './proxied-fetch';
import {
  KEEPA_API_KEY,
  SMARTPROXY_PASSWORD,
  SMARTPROXY_USERNAME,
  SPAPI_LWA_CLIENT_ID,
  SPAPI_LWA_CLIENT_SECRET,
  SPAPI_REFRESH_TOKEN,
} from './secrets';
import { SpApiReportsClient } from './spapi-reports';
import { createRealtimeSalesFetcher } from './spapi-sales-fetcher';

/**
 * Connects the upstream clients to the pipeline: each client is built from its provider
 * document (base URL, endpoints, settings: changeable at runtime) and its secrets, and
 * registered as the fetchers, work handlers and batch starters the queues and schedules look
 * up. Entry points that run upstream work import this module for its effect.
 */

// Every upstream call of a function instance counts in the fleet statistics (through the
// instance's write buffer, created on first use); tests and tools that load this module do not.
if (runsAsFunction()) connectFleetStats(instanceWriteBuffer);

/** The provider document, through the quota engine's short-lived configuration cache. */
async function providerConfig(id: string): Promise<Provider> {
  const config = await instanceQuotaEngine().contexts.runtimeConfig();
  const provider = config.providers.find((p) => p.id === id);
  if (!provider) {
    throw new ConfigError(`providers/${id}`, [{ path: '', message: 'not configured' }]);
  }
  return provider;
}

function required(provider: Provider, field: 'baseUrl' | `endpoints.${string}`): string {
  const value =
    field === 'baseUrl' ? provider.baseUrl : provider.endpoints[field.slice('endpoints.'.length)];
  if (!value) {
    throw new ConfigError(`providers/${provider.id}`, [{ path: field, message: 'required' }]);
  }
  return value;
}

let raw: RawPayloads | undefined;
/** Raw upstream payloads go to the instance's payload store (temporary: cleaned up by age). */
function instanceRawPayloads(): RawPayloads {
  raw ??= rawPayloads(payloadStore());
  return raw;
}

/** One client per configuration: rebuilt when the document or a secret changes, else reused. */
const clients = new Map<string, { key: string; client: unknown }>();
function cached<T>(name: string, config: unknown, build: () => T): T {
  const key = JSON.stringify(config);
  const entry = clients.get(name);
  if (entry?.key === key) return entry.client as T;
  const client = build();
  clients.set(name, { key, client });
  return client;
}

// ---- Keepa: the deals ingestor ------------------------------------------------------------

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

async function keepaIngestFetchers(collection: Collection): Promise<IngestFetchers> {
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
async function handleKeepaDeals(item: WorkItem) {
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
async function startKeepaBatch(collection: Collection, nowMs: number) {
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
async function recollectKeepa(item: WorkItem) {
  const { productKey } = (item.payload ?? {}) as { productKey?: string };
  if (!productKey) throw new TypeError(`recollect item ${item.key}: no productKey`);
  await addIngestItems(db(), item.collection, [{ key: productKey }], {
    stage: 'light',
    nowMs: Date.now(),
  });
  await rescheduleIngest(item.collection, Date.now());
  return undefined;
}

// ---- SP-API: vendor real-time sales -------------------------------------------------------

export async function spapiClient(): Promise<SpApiReportsClient> {
  const provider = await providerConfig('spapi');
  const marketplaceIds = provider.settings.marketplaceIds;
  const options = {
    baseUrl: required(provider, 'baseUrl'),
    lwaUrl: provider.endpoints.lwa ?? 'https://api.amazon.com/auth/o2/token',
    marketplaceIds: Array.isArray(marketplaceIds) ? marketplaceIds : ['ATVPDKIKX0DER'],
    credentials: {
      clientId: SPAPI_LWA_CLIENT_ID.value(),
      clientSecret: SPAPI_LWA_CLIENT_SECRET.value(),
      refreshToken: SPAPI_REFRESH_TOKEN.value(),
    },
  };
  return cached(
    'spapi',
    options,
    () =>
      new SpApiReportsClient({
        ...options,
        // SP-API announces each operation's rate; the engine warns when it is below the config.
        onRateLimit: (operation, rate) =>
          void instanceQuotaEngine()
            .observeRateLimit('spapi', operation, String(rate))
            .catch(() => undefined),
      }),
  );
}

/** Amazon SP-API vendor real-time sales (defined with the work the share check counts). */
export { REALTIME_SALES_SYNC };
export const REALTIME_SALES_SOURCE = REALTIME_SALES_SYNC.source;

registerAutoSyncFetcher(REALTIME_SALES_SOURCE, async (window, options) => {
  const provider = await providerConfig('spapi');
  const fetcher = createRealtimeSalesFetcher({
    client: await spapiClient(),
    // The cycle's Firestore: an operator's refresh stores through its audited one.
    store: new SalesRepository(options?.db ?? db()),
    pollIntervalMs: Number(provider.settings.reportPollMs ?? 15_000),
    raw: instanceRawPayloads(),
  });
  return fetcher(window, options);
});

// ---- SmartProxy: the Buck.cheap price-history collection ----------------------------------

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

async function handlePriceHistory(item: WorkItem) {
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
async function handleDiscover(item: WorkItem) {
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

// ---- Registration ------------------------------------------------------------------------

/** Validation's re-collections go to whichever upstream the product came from. */
const recollectors: Record<string, WorkHandler> = {
  keepa: recollectKeepa,
  smartproxy: handlePriceHistory,
};

registerIngestFetchers('keepa', keepaIngestFetchers);
registerWorkHandler(KEEPA_DEALS_KIND, handleKeepaDeals);
registerBatchStarter('keepa', startKeepaBatch);
registerWorkHandler(PRICE_HISTORY_KIND, handlePriceHistory);
registerWorkHandler(DISCOVER_KIND, handleDiscover);
registerBatchStarter('smartproxy', (collection, nowMs) =>
  discoveryStarter({ db: db(), enqueue: enqueueTask, queueFor: workQueueName })(collection, nowMs),
);
registerWorkHandler(RECOLLECT_KIND, async (item) => {
  const recollect = recollectors[item.provider];
  if (!recollect) throw new TypeError(`no re-collection for provider "${item.provider}"`);
  return recollect(item);
});
