import type { Firestore } from 'firebase-admin/firestore';
import type { MeterReading } from '../../core/quota/meters';
import {
  isoDate,
  KeepaCsvType,
  type KeepaPricePoint,
  keepaCurrentPrice,
  keepaPeekFilter,
  keepaTypeHistory,
} from '../../core/upstreams/keepa-csv';
import { KEEPA_DEALS_PER_PAGE } from '../../core/upstreams/keepa-deal-request';
import { keepaDomain } from '../../core/upstreams/keepa-domains';
import {
  KEEPA_INGEST_COMMIT_OFFERS,
  keepaIngestCostPerItem,
  keepaIngestParams,
} from '../../core/upstreams/keepa-product-request';
import { logger } from '../../log';
import type { IngestBatchResult, IngestFetchers } from '../pipeline/ingest';
import { addIngestItems, type IngestItemResult } from '../pipeline/ingest-queue-writes';
import type { IngestItem } from '../pipeline/ingest-queues';
import {
  type PriceHistoryUpsert,
  priceHistoryUpsertSchema,
} from '../pipeline/price-history-upsert';
import { storeTogetherOrEach } from '../pipeline/product-buffer';
import type { ProductsRepository } from '../pipeline/products-repository';
import type { RawPayloads } from '../storage/raw-payloads';
import type { KeepaClient, KeepaDealSelection } from './keepa';
import type { KeepaProduct } from './keepa-answers';
import { UpstreamError } from './upstream-call';

/**
 * Keepa as the ingest runner's upstream (see adapters/pipeline/ingest.ts):
 * - peek: `stats` only, no offers, no histories (1 token per ASIN); survivors pass the peek
 *   filter (default: a current NEW price and a sales rank below 100 000).
 * - commit: `stats` and `offers=20` with histories (6 tokens per page of up to 10 offers found:
 *   6 or 12 per ASIN, at most 20 ASINs a request); the product's price history of `priceType`
 *   plus today's current price go to the products repository, which merges by date (storing
 *   the same answer twice writes nothing). Stored items come back for light updates after
 *   `refreshAfterMs`.
 * - light: the peek request again; today's current price is merged into the history.
 * - status: the free /token call.
 * - costPerItem: each kind's request at Keepa's documented price (keepaProductTokensPerAsin, an
 *   upper bound), which the runner's estimate starts from.
 * Every batch returns Keepa's meter (tokensLeft, refillRate, tokensConsumed), so the runner
 * settles what the batch really cost and learns the cost per item from it.
 */

const DAY_MS = 86_400_000;
export const DEFAULT_REFRESH_AFTER_MS = DAY_MS;
export const DEFAULT_STATS_DAYS = 90;
export const DEFAULT_COMMIT_OFFERS = KEEPA_INGEST_COMMIT_OFFERS;

/** ASINs are upper case; Keepa answers with them as it stores them. */
const asinKey = (asin: string) => asin.trim().toUpperCase();

export interface KeepaIngestOptions {
  client: KeepaClient;
  products: ProductsRepository;
  /** The collection products are stored under. */
  collection: string;
  /** Tollgate's marketplace id; default from the client's domain (`amazon-de` for 3). */
  marketplace?: string;
  /** Which peeked products are worth the full request; default `keepaPeekFilter()`. */
  peekFilter?: (product: KeepaProduct) => boolean;
  /** When a stored product is due for its next light update; null: never. One day by default. */
  refreshAfterMs?: number | null;
  /** The csv type stored as the price history (`KeepaCsvType.NEW` by default). */
  priceType?: number;
  /** `stats=<days>` on every request (90 by default). */
  statsDays?: number;
  /** `offers=<n>` on commits (20 by default; Keepa accepts 20..100, at 6 tokens per 10). */
  offers?: number;
  now?: () => number;
  /** Keeps each commit batch's product answer (its products reference it as `rawPayload`). */
  raw?: RawPayloads;
}

export function createKeepaIngestFetchers(options: KeepaIngestOptions): IngestFetchers {
  const { client, products: repository, collection } = options;
  const domain = keepaDomain(client.domainId);
  const marketplace = options.marketplace ?? domain.marketplace;
  const peekFilter = options.peekFilter ?? keepaPeekFilter();
  const refreshAfterMs =
    options.refreshAfterMs === undefined ? DEFAULT_REFRESH_AFTER_MS : options.refreshAfterMs;
  const priceType = options.priceType ?? KeepaCsvType.NEW;
  const stats = options.statsDays ?? DEFAULT_STATS_DAYS;
  const offers = options.offers ?? DEFAULT_COMMIT_OFFERS;
  const now = options.now ?? Date.now;
  const { light: lightParams, commit: fullParams } = keepaIngestParams(stats, offers);

  /**
   * The batch's products. An answer too large to read (`oversized`: Keepa's, or a hostile
   * stand-in's) fails the batch's items, not the slice: they go to the back of their queue and
   * are parked after the maximum attempts, and the slice goes on with the next batch.
   */
  const fetchByKey = async (
    items: IngestItem[],
    full: boolean,
  ): Promise<{ byAsin: Map<string, KeepaProduct>; meter?: MeterReading }> => {
    let result: Awaited<ReturnType<KeepaClient['products']>>;
    try {
      result = await client.products(
        items.map((item) => item.key),
        full ? fullParams : lightParams,
      );
    } catch (error) {
      if (!(error instanceof UpstreamError) || error.kind !== 'oversized') throw error;
      logger.warn(
        { collection, items: items.length, err: error },
        'keepa answer too large: the batch items failed, the slice goes on',
      );
      return { byAsin: new Map() };
    }
    const byAsin = new Map(result.products.map((p) => [asinKey(p.asin), p]));
    return { byAsin, meter: result.meter };
  };

  /** Today's point: the current price on the day Keepa answered. */
  const currentPoint = (product: KeepaProduct, meter: MeterReading): KeepaPricePoint => ({
    date: isoDate(meter.atMs),
    price: keepaCurrentPrice(product.stats?.current, priceType, domain.divisor),
  });

  const store = async (
    items: IngestItem[],
    byAsin: Map<string, KeepaProduct>,
    pointsOf: (product: KeepaProduct) => KeepaPricePoint[],
    rawPayload?: string,
  ): Promise<IngestItemResult[]> => {
    const refreshAtMs = refreshAfterMs === null ? undefined : now() + refreshAfterMs;
    const results: IngestItemResult[] = [];
    const batch: Array<{ item: IngestItem; update: PriceHistoryUpsert }> = [];
    for (const item of items) {
      const product = byAsin.get(asinKey(item.key));
      if (!product) continue; // Keepa said nothing about it: failed, retried later
      const prices = pointsOf(product);
      if (prices.length === 0) {
        results.push({ key: item.key, outcome: 'rejected' });
        continue;
      }
      const update = {
        marketplace,
        key: product.asin,
        collection,
        identifiers: { asin: product.asin },
        prices,
        ...(rawPayload ? { rawPayload } : {}),
      };
      const checked = priceHistoryUpsertSchema.safeParse(update);
      if (checked.success) batch.push({ item, update });
      else {
        logger.warn(
          { err: checked.error, asin: product.asin, collection },
          'keepa product not stored',
        );
        results.push({ key: item.key, outcome: 'failed' });
      }
    }
    // The batch's products in one transaction (new ones share pages, a write per page); if it
    // fails, each alone, so one product that cannot be stored fails alone.
    const stored = await storeTogetherOrEach(
      (updates) => repository.upsertMany(updates),
      batch.map((b) => b.update),
    );
    batch.forEach(({ item, update }, i) => {
      const { error } = stored[i] ?? {};
      if (error !== undefined) {
        logger.warn({ err: error, asin: update.key, collection }, 'keepa product not stored');
        results.push({ key: item.key, outcome: 'failed' });
      } else {
        results.push({
          key: item.key,
          outcome: 'stored',
          ...(refreshAtMs === undefined ? {} : { refreshAtMs }),
        });
      }
    });
    // In the order the items came.
    const order = new Map(items.map((item, i) => [item.key, i]));
    return results.sort((a, b) => order.get(a.key)! - order.get(b.key)!);
  };

  return {
    async peek(items): Promise<IngestBatchResult> {
      const { byAsin, meter } = await fetchByKey(items, false);
      const results: IngestItemResult[] = [];
      for (const item of items) {
        const product = byAsin.get(asinKey(item.key));
        if (product) {
          results.push({ key: item.key, outcome: peekFilter(product) ? 'survivor' : 'rejected' });
        }
      }
      return meter ? { results, meter } : { results };
    },

    async commit(items): Promise<IngestBatchResult> {
      const { byAsin, meter } = await fetchByKey(items, true);
      if (!meter) return { results: [] };
      // One payload per batch answer (the products as Keepa described them), durable before
      // the products that reference it.
      const answered = [...byAsin.values()];
      const rawPayload =
        options.raw && answered.length > 0
          ? await options.raw.keep(
              'keepa-products',
              `${collection}~${marketplace}`,
              JSON.stringify(answered),
              'application/json',
            )
          : undefined;
      const results = await store(
        items,
        byAsin,
        (product) => {
          const history = keepaTypeHistory(product.csv, priceType, domain.divisor);
          const today = currentPoint(product, meter);
          // Nothing known at all (an unknown ASIN): nothing to store.
          if (history.length === 0 && today.price === null) return [];
          return [...history.filter((point) => point.date !== today.date), today];
        },
        rawPayload,
      );
      return { results, meter };
    },

    async light(items): Promise<IngestBatchResult> {
      const { byAsin, meter } = await fetchByKey(items, false);
      if (!meter) return { results: [] };
      const results = await store(items, byAsin, (product) => [currentPoint(product, meter)]);
      return { results, meter };
    },

    status: async () => (await client.tokenStatus()).meter,

    costPerItem: keepaIngestCostPerItem(offers),
  };
}

export interface DiscoverDealsInput {
  client: KeepaClient;
  db: Firestore;
  /** The ingest collection the ASINs are queued in (stage peek). */
  collection: string;
  /** Pages to read, from `firstPage` on; stops early after a short (last) page. */
  pages: number;
  firstPage?: number;
  /** Further deal filters (Keepa's selection fields); page and domainId are set here. */
  selection?: Omit<KeepaDealSelection, 'page'>;
  now?: () => number;
}

export interface DiscoverDealsResult {
  /** Pages requested (5 tokens each). */
  pages: number;
  /** Distinct ASINs found. */
  asins: number;
  added: number;
  requeued: number;
  unchanged: number;
  /** The last answer's meter, `consumed` summed over the pages; absent if no page was read. */
  meter?: MeterReading;
}

/** Keepa's deal page size: a shorter page is the last one. */
const DEALS_PER_PAGE = KEEPA_DEALS_PER_PAGE;

/**
 * Discovery: reads deal pages and queues their ASINs for peeking. Each page's ASINs are
 * queued before the next page is requested, so a quota error midway keeps what was found.
 * Idempotent: an ASIN already queued, peeked or stored is left as it is. The tokens (5 a page)
 * are spent outside the gate: feed the returned meter to the quota engine.
 */
export async function discoverDeals(input: DiscoverDealsInput): Promise<DiscoverDealsResult> {
  const { client, db, collection } = input;
  const now = input.now ?? Date.now;
  const first = input.firstPage ?? 0;
  const seen = new Set<string>();
  const result: DiscoverDealsResult = { pages: 0, asins: 0, added: 0, requeued: 0, unchanged: 0 };
  let consumed = 0;
  for (let page = first; page < first + input.pages; page++) {
    const answer = await client.deals({ ...input.selection, page });
    result.pages++;
    consumed += answer.meter.consumed ?? 0;
    result.meter = { ...answer.meter, consumed };
    const fresh = answer.deals.map((deal) => deal.asin).filter((asin) => !seen.has(asin));
    for (const asin of fresh) seen.add(asin);
    if (fresh.length > 0) {
      const added = await addIngestItems(
        db,
        collection,
        fresh.map((key) => ({ key, data: { domainId: client.domainId } })),
        { nowMs: now() },
      );
      result.added += added.added;
      result.requeued += added.requeued;
      result.unchanged += added.unchanged;
    }
    if (answer.deals.length < DEALS_PER_PAGE) break;
  }
  result.asins = seen.size;
  return result;
}
