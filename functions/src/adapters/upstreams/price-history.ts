import { z } from 'zod';
import type { WorkItem } from '../../core/pipeline/work-items';
import { listingLinks } from '../../core/upstreams/listing-page';
import { coveredRange, parsePriceHistoryCsv } from '../../core/upstreams/price-history';
import { findPriceHistoryLink } from '../../core/upstreams/product-page';
import { logger } from '../../log';
import { upstreamSkippedLinks } from '../observability/metrics';
import type { ProductsRepository } from '../pipeline/products-repository';
import type { WorkHandler, WorkResult } from '../pipeline/work-runner';
import type { RawPayloads } from '../storage/raw-payloads';
import type { ProxiedGetOptions, ProxiedResponse } from './proxied-fetch';
import { UpstreamError, upstreamFailure } from './upstream-call';

/**
 * The proxied price-history pattern (Buck.cheap through SmartProxy): a listing page names
 * products; each product's page links its price-history CSV; the CSV's points are merged into
 * `products/{marketplace}~{productId}` with the identifiers the page shows, the extraction
 * confidence and the range the history covers.
 *
 * Decisions:
 * - A page that links no CSV: the conventional URL (`{productPage}/price-history.csv`) is
 *   tried, and what it yields is stored at half confidence, so validation flags it and a
 *   re-collection follows. If that URL is not there either, the product is stored with its
 *   identifiers, no points and confidence 0.
 * - A CSV with nothing usable in it (no date and price columns, no dated row: garbage, an
 *   HTML error page) is a typed `UpstreamError` 'malformed' and nothing is written: a
 *   transient fault must not overwrite good data, and the task queue retries the item.
 *   A CSV that is partly unreadable is stored, its confidence the share of clean rows.
 * - A product page answering 404 is gone: nothing is written, the item is done.
 * - Progress is recorded only when the product document was created by this item, so a
 *   redelivered or re-collected item never counts twice. (A crash between the write and the
 *   progress call loses that one count rather than doubling it.)
 * - The result reports the traffic (`bytes`) and the proxy requests made (`actualCost`), so
 *   the quota engine meters the byte window and the request rate with what was spent.
 * - Only a CSV on the site's own origin is followed: a page linking one elsewhere is treated
 *   as linking none (the conventional URL is tried), with a counted warning. No host a page
 *   names is ever fetched through the proxy, nor can its 403 cool the provider down.
 * - Every body is read under its operation's cap (PRICE_HISTORY_MAX_BODY_BYTES): a page or
 *   CSV past it is aborted, a typed `oversized` UpstreamError, and the item is retried by the
 *   queue like any other typed failure. Pages are scanned in time linear in their length.
 */

export const PRICE_HISTORY_KIND = 'price-history';
export const RECOLLECT_KIND = 'recollect';

export const OPERATIONS = {
  listing: 'listing-page',
  product: 'product-page',
  csv: 'price-history-csv',
} as const;

/**
 * The largest body read per operation, in bytes after Content-Encoding is undone. Real pages
 * are a few hundred KiB and a CSV of years of daily prices well under one MiB; anything near
 * these caps is not a page the site meant to serve.
 */
export const PRICE_HISTORY_MAX_BODY_BYTES: Readonly<Record<PriceHistoryOperation, number>> = {
  [OPERATIONS.listing]: 4 * 1024 * 1024,
  [OPERATIONS.product]: 4 * 1024 * 1024,
  [OPERATIONS.csv]: 4 * 1024 * 1024,
};
export type PriceHistoryOperation = (typeof OPERATIONS)[keyof typeof OPERATIONS];

const marketplaceSchema = z.string().regex(/^[A-Za-z0-9_-]+$/, 'a marketplace slug');

export const priceHistoryPayloadSchema = z.object({
  marketplace: marketplaceSchema,
  productId: z.string().min(1),
});

/** A validation fix (`FixWorkItem` of the core) re-collecting one product. */
export const recollectPayloadSchema = z.object({
  marketplace: marketplaceSchema,
  productKey: z.string().min(1),
  identifiers: z.record(z.string(), z.string()).default({}),
  rules: z.array(z.string()).default([]),
  runId: z.string().optional(),
});

const payloadSchema = z.union([priceHistoryPayloadSchema, recollectPayloadSchema]);

/** What the handler needs of the HTTP client: `ProxiedHttpClient` fits. */
export interface PriceHistoryClient {
  readonly provider: string;
  get(url: string, operation: string, options?: ProxiedGetOptions): Promise<ProxiedResponse>;
}

/** A get under its operation's body cap. */
function capped(client: PriceHistoryClient, url: string, operation: PriceHistoryOperation) {
  return client.get(url, operation, { maxBodyBytes: PRICE_HISTORY_MAX_BODY_BYTES[operation] });
}

/** Counts and logs the links a page scan passed over. */
function reportSkipped(
  client: PriceHistoryClient,
  operation: PriceHistoryOperation,
  url: string,
  skipped: Partial<Record<'malformed' | 'off-origin', number>>,
): void {
  let any = false;
  for (const [reason, count] of Object.entries(skipped)) {
    if (!count) continue;
    any = true;
    upstreamSkippedLinks.inc({ provider: client.provider, operation, reason }, count);
  }
  if (any) logger.warn({ provider: client.provider, operation, url, skipped }, 'links skipped');
}

export interface PriceHistoryHandlerOptions {
  client: PriceHistoryClient;
  siteBaseUrl: string;
  products: Pick<ProductsRepository, 'upsertPriceHistory'>;
  /** Called once per product newly stored, e.g. to advance the collection's count. */
  recordProgress?: (collection: string, marketplace: string) => Promise<void>;
  /** Keeps each CSV the history was made from (the product references it as `rawPayload`). */
  raw?: RawPayloads;
}

function siteUrl(siteBaseUrl: string, path: string): string {
  const base = siteBaseUrl.endsWith('/') ? siteBaseUrl : `${siteBaseUrl}/`;
  return new URL(path, base).toString();
}

export function productPageUrl(siteBaseUrl: string, marketplace: string, productId: string) {
  return siteUrl(
    siteBaseUrl,
    `${encodeURIComponent(marketplace)}/product/${encodeURIComponent(productId)}`,
  );
}

export function listingPageUrl(siteBaseUrl: string, marketplace: string, page: number) {
  return siteUrl(siteBaseUrl, `${encodeURIComponent(marketplace)}/products?page=${page}`);
}

function unexpectedStatus(
  client: PriceHistoryClient,
  operation: string,
  response: ProxiedResponse,
): UpstreamError {
  return upstreamFailure(
    new UpstreamError(
      client.provider,
      operation,
      'http',
      `unexpected HTTP ${response.status}`,
      response.status,
    ),
  );
}

const ok = (status: number) => status >= 200 && status < 300;

/**
 * The work handler of price-history items (`{ marketplace, productId }`) and of validation's
 * re-collections (`{ marketplace, productKey, identifiers, rules, runId }`): both fetch the
 * product page and its CSV and merge the history. Throws `QuotaExceededError` when the proxy
 * or the site says stop, `UpstreamError` for typed failures.
 */
export function createPriceHistoryHandler(options: PriceHistoryHandlerOptions): WorkHandler {
  const { client, siteBaseUrl, products, recordProgress, raw } = options;
  return async (item: WorkItem): Promise<WorkResult> => {
    const parsed = payloadSchema.safeParse(item.payload);
    if (!parsed.success) {
      throw new TypeError(
        `${item.kind} item ${item.key}: payload is neither {marketplace, productId} nor a re-collection: ${parsed.error.issues[0]?.message}`,
      );
    }
    const payload = parsed.data;
    const marketplace = payload.marketplace;
    const productId = 'productId' in payload ? payload.productId : payload.productKey;
    let bytes = 0;
    let requests = 0;
    const get = async (url: string, operation: PriceHistoryOperation) => {
      const response = await capped(client, url, operation);
      bytes += response.bytes;
      requests += response.requests;
      return response;
    };
    const done = (): WorkResult => ({ bytes, requests });

    const pageUrl = productPageUrl(siteBaseUrl, marketplace, productId);
    const page = await get(pageUrl, OPERATIONS.product);
    if (page.status === 404) {
      logger.warn({ collection: item.collection, marketplace, productId }, 'product is gone');
      return done();
    }
    if (!ok(page.status)) throw unexpectedStatus(client, OPERATIONS.product, page);
    const found = findPriceHistoryLink(page.text, pageUrl, {
      origin: new URL(siteBaseUrl).origin,
    });
    reportSkipped(client, OPERATIONS.product, pageUrl, {
      malformed: found.skippedLinks.malformed,
      'off-origin': found.skippedLinks.offOrigin,
    });
    const linkFound = found.csvUrl !== null;
    const csvUrl = found.csvUrl ?? `${pageUrl}/price-history.csv`;
    const csv = await get(csvUrl, OPERATIONS.csv);
    if (!ok(csv.status) && !(csv.status === 404 && !linkFound)) {
      throw unexpectedStatus(client, OPERATIONS.csv, csv);
    }
    const history = ok(csv.status) ? parsePriceHistoryCsv(csv.text, { linkFound }) : undefined;
    if (history && !history.usable) {
      throw upstreamFailure(
        new UpstreamError(
          client.provider,
          OPERATIONS.csv,
          'malformed',
          `no price history in ${csvUrl} (${history.issues[0] ?? 'no rows'})`,
          csv.status,
        ),
      );
    }
    const points = history?.points ?? [];
    // Durable before the product that references it, so a reference never dangles.
    const rawPayload =
      raw && ok(csv.status)
        ? await raw.keep('price-history-csv', `${marketplace}~${productId}`, csv.text, 'text/csv')
        : undefined;
    const outcome = await products.upsertPriceHistory({
      ...(rawPayload ? { rawPayload } : {}),
      marketplace,
      key: productId,
      collection: item.collection,
      identifiers: found.identifiers,
      prices: points,
      confidence: history?.confidence ?? 0,
      expectedRange: coveredRange(points),
    });
    logger.info(
      {
        collection: item.collection,
        kind: item.kind,
        marketplace,
        productId,
        title: found.title,
        linkFound,
        points: points.length,
        confidence: history?.confidence ?? 0,
        issues: history?.issues.slice(0, 3),
        created: outcome.created,
        added: outcome.added,
        replaced: outcome.replaced,
        bytes,
      },
      'price history stored',
    );
    if (outcome.created && recordProgress) await recordProgress(item.collection, marketplace);
    return done();
  };
}

export interface DiscoveredPage {
  /** Product ids in listing order, without duplicates. */
  productIds: string[];
  /** The page links a next page. */
  hasNext: boolean;
  bytes: number;
  requests: number;
}

export interface DiscoverProductsOptions {
  client: PriceHistoryClient;
  siteBaseUrl: string;
  marketplace: string;
  /** 1-based. */
  page: number;
}

/**
 * The product ids a listing page links (`/{marketplace}/product/{id}`). A page that says it
 * lists nothing (an empty product list) yields none: the catalogue is exhausted. A page with
 * neither product links nor a product list is a typed 'malformed' error, so a broken page is
 * never mistaken for the end of the catalogue.
 */
export async function discoverProducts(options: DiscoverProductsOptions): Promise<DiscoveredPage> {
  const { client, siteBaseUrl, marketplace, page } = options;
  const url = listingPageUrl(siteBaseUrl, marketplace, page);
  const response = await capped(client, url, OPERATIONS.listing);
  const base = { bytes: response.bytes, requests: response.requests };
  if (response.status === 404) return { productIds: [], hasNext: false, ...base };
  if (!ok(response.status)) throw unexpectedStatus(client, OPERATIONS.listing, response);
  const links = listingLinks(response.text, url, marketplace);
  reportSkipped(client, OPERATIONS.listing, url, { malformed: links.malformedLinks });
  if (links.productIds.length === 0 && !links.hasProductList) {
    throw upstreamFailure(
      new UpstreamError(
        client.provider,
        OPERATIONS.listing,
        'malformed',
        `listing ${url} has neither product links nor a product list`,
        response.status,
      ),
    );
  }
  return { productIds: links.productIds, hasNext: links.hasNext, ...base };
}
