import type { MeterReading } from '../quota/meters';

/**
 * Keepa's data model, pure: time in Keepa minutes, price histories as flat `csv` arrays,
 * domains, and the meter fields every answer carries. No I/O here; the HTTP client is
 * `adapters/upstreams/keepa.ts`.
 */

/** Keepa time is minutes since 2011-01-01T00:00Z; this is that instant in Unix minutes. */
export const KEEPA_EPOCH_MINUTES = 21_564_000;
const MINUTE_MS = 60_000;

export function keepaMinuteToMs(keepaMinute: number): number {
  return (keepaMinute + KEEPA_EPOCH_MINUTES) * MINUTE_MS;
}

export function msToKeepaMinute(ms: number): number {
  return Math.floor(ms / MINUTE_MS) - KEEPA_EPOCH_MINUTES;
}

/** Indexes of a product's `csv` histories and of `stats.current` (Keepa's CsvType). */
export const KeepaCsvType = {
  AMAZON: 0,
  NEW: 1,
  USED: 2,
  SALES: 3,
  LIST_PRICE: 4,
  COLLECTIBLE: 5,
  REFURBISHED: 6,
  NEW_FBM_SHIPPING: 7,
  LIGHTNING_DEAL: 8,
  WAREHOUSE: 9,
  NEW_FBA: 10,
  COUNT_NEW: 11,
  COUNT_USED: 12,
  RATING: 16,
  COUNT_REVIEWS: 17,
  BUY_BOX_SHIPPING: 18,
} as const;

/** Histories stored as [time, price, shipping] triples rather than [time, price] pairs. */
const WITH_SHIPPING = new Set([7, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 32]);

/** Whether a csv type's history is [time, price, shipping] triples. */
export function keepaHasShipping(csvType: number): boolean {
  return WITH_SHIPPING.has(csvType);
}

export interface KeepaDomain {
  id: number;
  host: string;
  /** Tollgate's marketplace id for products of this domain (`amazon-de`). */
  marketplace: string;
  currency: string;
  /** Keepa prices are integers in the currency's smallest unit: divide by this. */
  divisor: number;
}

const domain = (id: number, host: string, currency: string, divisor = 100): KeepaDomain => ({
  id,
  host,
  marketplace: host.replace(/\./g, '-'),
  currency,
  divisor,
});

/**
 * Keepa's domain ids: the ordinals of the official clients' Amazon locale enum (keepacom/api_backend
 * `structs/AmazonLocale.java`: RESERVED, US, GB, DE, FR, JP, CA, RESERVED2, IT, ES, IN, MX, BR;
 * keepacom/php_api `src/objects/AmazonLocale.php`). 0 and 7 are reserved (7 was amazon.cn, no
 * longer served); there is no 13. Requests for any other id are refused.
 */
export const KEEPA_DOMAINS: Readonly<Record<number, KeepaDomain>> = Object.freeze({
  1: domain(1, 'amazon.com', 'USD'),
  2: domain(2, 'amazon.co.uk', 'GBP'),
  3: domain(3, 'amazon.de', 'EUR'),
  4: domain(4, 'amazon.fr', 'EUR'),
  5: domain(5, 'amazon.co.jp', 'JPY', 1),
  6: domain(6, 'amazon.ca', 'CAD'),
  8: domain(8, 'amazon.it', 'EUR'),
  9: domain(9, 'amazon.es', 'EUR'),
  10: domain(10, 'amazon.in', 'INR'),
  11: domain(11, 'amazon.com.mx', 'MXN'),
  12: domain(12, 'amazon.com.br', 'BRL'),
});

/** The domain ids Keepa serves, ascending: 1-6 and 8-12. */
export const KEEPA_DOMAIN_IDS: readonly number[] = Object.freeze(
  Object.keys(KEEPA_DOMAINS)
    .map(Number)
    .sort((a, b) => a - b),
);

export function isKeepaDomainId(value: unknown): value is number {
  return typeof value === 'number' && Object.hasOwn(KEEPA_DOMAINS, value);
}

/**
 * What is wrong with a configured Keepa domain id (the `keepa` provider's `settings.domainId`,
 * a number or a numeric string), or undefined when Keepa serves it.
 */
export function keepaDomainIdProblem(value: unknown): string | undefined {
  const id = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (isKeepaDomainId(id)) return undefined;
  return `Keepa serves domain ids ${KEEPA_DOMAIN_IDS.join(', ')} (the official clients' AmazonLocale; 7 is reserved), not ${JSON.stringify(value)}`;
}

export function keepaDomain(domainId: number): KeepaDomain {
  if (!isKeepaDomainId(domainId)) throw new RangeError(keepaDomainIdProblem(domainId));
  return KEEPA_DOMAINS[domainId] as KeepaDomain;
}

/** `amazon-de` for domain 3, `amazon-co-uk` for 2, `amazon-com` for 1. */
export function keepaMarketplace(domainId: number): string {
  return keepaDomain(domainId).marketplace;
}

/** One point of a product's price history as the products repository stores it. */
export interface KeepaPricePoint {
  /** ISO date (UTC day), `2026-01-31`. */
  date: string;
  /** In currency units (19.99); null: no offer / no data at that time (Keepa's -1). */
  price: number | null;
}

/** A Keepa price (smallest currency unit, negative = none) in currency units, or null. */
export function keepaPrice(value: number | null | undefined, divisor = 100): number | null {
  if (value == null || !Number.isFinite(value) || value < 0) return null;
  return value / divisor;
}

export function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export interface KeepaHistoryOptions {
  /** Smallest currency units per unit (100; 1 for yen). See `KeepaDomain.divisor`. */
  divisor?: number;
  /** The history is [time, price, shipping] triples; the point is price plus shipping. */
  withShipping?: boolean;
}

/**
 * A Keepa csv history (`[keepaMinute, price, keepaMinute, price, ...]`, -1 = no offer) as
 * daily price points, oldest first. Keepa records every change, so a day can have several
 * entries: the day's last one wins (the price the day closed at, which is what a daily
 * history would have recorded). A trailing incomplete entry is ignored; entries with a time
 * that is not a number are skipped.
 */
export function keepaPriceHistory(
  series: readonly number[] | null | undefined,
  options: KeepaHistoryOptions = {},
): KeepaPricePoint[] {
  if (!series) return [];
  const divisor = options.divisor ?? 100;
  const stride = options.withShipping ? 3 : 2;
  const entries: Array<{ atMs: number; price: number | null }> = [];
  for (let i = 0; i + stride <= series.length; i += stride) {
    const minute = series[i];
    if (minute === undefined || !Number.isFinite(minute)) continue;
    let cents = series[i + 1];
    if (options.withShipping && cents !== undefined && cents >= 0) {
      const shipping = series[i + 2];
      if (shipping !== undefined && shipping > 0) cents += shipping;
    }
    entries.push({ atMs: keepaMinuteToMs(minute), price: keepaPrice(cents, divisor) });
  }
  // Keepa sends histories oldest first; sort anyway (stable), so the last of a day wins.
  entries.sort((a, b) => a.atMs - b.atMs);
  const byDay = new Map<string, number | null>();
  for (const entry of entries) byDay.set(isoDate(entry.atMs), entry.price);
  return [...byDay].map(([date, price]) => ({ date, price }));
}

/** The csv history of one type from a product's `csv` (null entries are absent types). */
export function keepaTypeHistory(
  csv: ReadonlyArray<readonly number[] | null | undefined> | null | undefined,
  csvType: number,
  divisor = 100,
): KeepaPricePoint[] {
  return keepaPriceHistory(csv?.[csvType], { divisor, withShipping: keepaHasShipping(csvType) });
}

/** A current value from `stats.current` (or a deal's `current`) as a price, or null. */
export function keepaCurrentPrice(
  current: readonly number[] | null | undefined,
  csvType: number,
  divisor = 100,
): number | null {
  return keepaPrice(current?.[csvType], divisor);
}

/** The sales rank from `stats.current`, or null when Keepa has none (-1). */
export function keepaSalesRank(current: readonly number[] | null | undefined): number | null {
  const rank = current?.[KeepaCsvType.SALES];
  return rank == null || rank < 0 ? null : rank;
}

export interface KeepaPeekFilterOptions {
  /** The price that must exist (a csv type index; NEW by default). */
  priceType?: number;
  /** Products ranked at or above this (or without a rank) are rejected. 100 000 by default. */
  maxSalesRank?: number;
}

/** What the peek filter sees of a product: its asin and `stats.current`. */
export interface KeepaPeekProduct {
  asin: string;
  stats?: { current?: readonly number[] | null } | null;
}

/** The default peek filter: a current price of `priceType` and a sales rank below the bound. */
export function keepaPeekFilter(
  options: KeepaPeekFilterOptions = {},
): (product: KeepaPeekProduct) => boolean {
  const priceType = options.priceType ?? KeepaCsvType.NEW;
  const maxSalesRank = options.maxSalesRank ?? 100_000;
  return (product) => {
    const current = product.stats?.current;
    if (keepaCurrentPrice(current, priceType) === null) return false;
    const rank = keepaSalesRank(current);
    return rank !== null && rank < maxSalesRank;
  };
}

/** The meter fields every Keepa answer carries. */
export interface KeepaTokenFields {
  tokensLeft: number;
  /** ms until the next refill. */
  refillIn: number;
  /** Tokens per minute. */
  refillRate: number;
  tokensConsumed?: number;
  /** Keepa's server time (ms) of the answer. */
  timestamp?: number;
}

/**
 * Keepa's meter as a MeterReading. Keepa does not report its bucket's size; tokens expire an
 * hour after they are generated, so without a configured capacity it is 60 refills (and at
 * least the balance reported, for accounts that bought extra tokens).
 */
export function keepaMeterReading(
  tokens: KeepaTokenFields,
  options: { capacity?: number; nowMs: number },
): MeterReading {
  const capacity = options.capacity ?? Math.max(tokens.refillRate * 60, tokens.tokensLeft);
  return {
    balance: tokens.tokensLeft,
    atMs: tokens.timestamp ?? options.nowMs,
    ratePerSecond: tokens.refillRate / 60,
    capacity,
    ...(tokens.tokensConsumed === undefined ? {} : { consumed: tokens.tokensConsumed }),
  };
}

/**
 * Seconds until Keepa runs requests again (its balance is positive), from an answer's meter
 * fields: the next refill, plus a minute per further refill the deficit needs. For a 429 that
 * came without Retry-After.
 */
export function keepaSecondsUntilPositive(tokens: KeepaTokenFields): number {
  const refillInMs = Math.max(0, tokens.refillIn);
  if (tokens.tokensLeft > 0) return Math.max(1, Math.ceil(refillInMs / 1000));
  if (!(tokens.refillRate > 0)) return 3600;
  const refills = Math.floor(-tokens.tokensLeft / tokens.refillRate) + 1;
  return Math.max(1, Math.ceil((refillInMs + (refills - 1) * MINUTE_MS) / 1000));
}

// ---- The product request's documented rules ------------------------------------------------
//
// Sources: the official clients' product request (keepacom/api_backend
// `structs/Request.java` getProductRequest, keepacom/php_api `src/API/Request.php`
// getProductRequest: "ASINs to request, must contain between 1 and 100 ASINs - or max 20 ASINs
// if the offers parameter is used") and Keepa's API documentation, "Product Request" (on
// discuss.keepa.com; read from the copy at agentarbitrage.co/Documentation/Archive/
// Keepa_Documentation-official-2.md): "Token Cost: 1 per product"; offers:
// "6 for every found offer page (contains up to 10 offers) per product", "Positive integer value
// between 20 and 100", "When using the offers parameter, the basic 1 token cost per ASIN of the
// product request does not apply"; update: "Use the value 0 ... this consumes 1 extra token";
// rating: "Up to 1 extra token per product"; buybox: "2 per product", "If the offers parameter
// is used, the buybox parameter is ignored"; stock: "2 per product"; stats, history, days:
// "No extra token cost").

/** ASINs one /product request may carry. */
export const KEEPA_MAX_ASINS = 100;
/** ASINs one /product request may carry when it asks for offers. */
export const KEEPA_MAX_ASINS_WITH_OFFERS = 20;
/** Offers are retrieved, and charged, in pages of this many. */
export const KEEPA_OFFERS_PER_PAGE = 10;
/** Tokens per offer page found, per product (the base token per ASIN is then waived). */
export const KEEPA_TOKENS_PER_OFFER_PAGE = 6;

/** The parameters of a /product request that decide what it may cost. */
export interface KeepaProductParams {
  /** `offers=<n>`: n up-to-date marketplace offers (20..100); sent whenever defined. */
  offers?: number;
  /** `stats=<days>`: free. */
  stats?: number;
  /** `history=0|1`: free. */
  history?: boolean;
  /** `update=<hours>`: 0 forces live data (one more token when the data was fresh). */
  update?: number;
  /** `rating=1`: up to one more token. */
  rating?: boolean;
  /** `buybox=1`: two more tokens, unless offers are asked for (then it is ignored). */
  buybox?: boolean;
  /** `stock=1` (with offers): two more tokens. */
  stock?: boolean;
}

/** Whether the request asks for offers (the client sends `offers` whenever it is given). */
function withOffers(params: KeepaProductParams): boolean {
  return params.offers !== undefined;
}

/** Offers the ingest asks for on a commit (`offers=20`, Keepa's least). */
export const KEEPA_INGEST_COMMIT_OFFERS = 20;

/** The /product parameters of each ingest batch kind (keepa-ingest.ts sends these). */
export function keepaIngestParams(
  statsDays: number,
  offers: number = KEEPA_INGEST_COMMIT_OFFERS,
): { peek: KeepaProductParams; commit: KeepaProductParams; light: KeepaProductParams } {
  const light: KeepaProductParams = { stats: statsDays, history: false };
  return { peek: light, commit: { stats: statsDays, offers, history: true }, light };
}

/**
 * The documented price of one item of each ingest batch kind: what the runner reserves at
 * least, and what the share check prices ingest calls at, so a category's share is checked
 * against what its batches will really ask of the gate (commits: 12 tokens per ASIN).
 */
export function keepaIngestCostPerItem(offers: number = KEEPA_INGEST_COMMIT_OFFERS): {
  peek: number;
  commit: number;
  light: number;
} {
  // stats and history are free, so the days asked for do not change the price.
  const params = keepaIngestParams(0, offers);
  return {
    peek: keepaProductTokensPerAsin(params.peek),
    commit: keepaProductTokensPerAsin(params.commit),
    light: keepaProductTokensPerAsin(params.light),
  };
}

/** ASINs one /product request with these parameters may carry: 20 with offers, else 100. */
export function keepaMaxAsinsPerRequest(params: KeepaProductParams = {}): number {
  return withOffers(params) ? KEEPA_MAX_ASINS_WITH_OFFERS : KEEPA_MAX_ASINS;
}

/** Offer pages one product may be charged for: the offers asked for, in pages of 10. */
export function keepaOfferPages(offers: number): number {
  return Math.max(1, Math.ceil(offers / KEEPA_OFFERS_PER_PAGE));
}

/**
 * The most one ASIN of a /product request costs, by Keepa's documented price list: 1 token, or
 * with offers 6 per page of 10 offers asked for (Keepa charges the pages it finds, never more
 * than asked), plus the extras. An upper bound: Keepa's `tokensConsumed` says what a request
 * really cost (fewer offers found, data already fresh...).
 */
export function keepaProductTokensPerAsin(params: KeepaProductParams = {}): number {
  const offers = withOffers(params);
  let tokens = offers ? keepaOfferPages(params.offers as number) * KEEPA_TOKENS_PER_OFFER_PAGE : 1;
  if (params.update === 0) tokens += 1;
  if (params.rating) tokens += 1;
  if (params.buybox && !offers) tokens += 2;
  if (params.stock && offers) tokens += 2;
  return tokens;
}

/** The most a /product call for `asins` ASINs costs (see keepaProductTokensPerAsin). */
export function keepaProductCost(asins: number, params: KeepaProductParams = {}): number {
  return Math.max(0, asins) * keepaProductTokensPerAsin(params);
}

// ---- The deal request's documented rules -----------------------------------------------------
//
// Sources: the official clients' DealRequest and DealResponse (keepacom/api_backend
// `structs/DealRequest.java`, `structs/DealResponse.java`, `structs/Deal.java`; keepacom/php_api
// `src/API/DealRequest.php`, `src/API/DealResponse.php`) and Keepa's API documentation,
// "Browsing Deals" (same copy as above): "Token Cost: 5 per request providing up to 150
// deals"; GET `/deal?key=<key>&selection=<queryJSON>` or POST with the queryJSON;
// priceTypes "Not optional: exactly one price type must be specified"; dateRange 0..3).

/** Tokens one /deal request costs, whatever it returns. */
export const KEEPA_DEAL_REQUEST_COST = 5;
/** Deals per /deal page: a shorter page is the last one. */
export const KEEPA_DEALS_PER_PAGE = 150;

/**
 * The price types a deal query may select: the CsvType entries the official client marks deal
 * relevant (api_backend `structs/Product.java` CsvType, `isDealRelevant`), with BUY_BOX_SHIPPING
 * (18) which the documentation's table lists as well.
 */
export const KEEPA_DEAL_PRICE_TYPES: readonly number[] = Object.freeze([
  0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 32, 33,
]);
/** dateRange: 0 day, 1 week, 2 month, 3 ninety days. */
export const KEEPA_DEAL_DATE_RANGES: readonly number[] = Object.freeze([0, 1, 2, 3]);
/** sortType: 1 deal age (not invertible), 2 absolute delta, 3 sales rank, 4 percent delta. */
export const KEEPA_DEAL_SORT_TYPES: readonly number[] = Object.freeze([1, 2, 3, 4, -2, -3, -4]);

/**
 * Keepa's deal query (the queryJSON sent as /deal's `selection`), as the official DealRequest
 * serialises it: gson writes every primitive field (the page, the domain, the date range, the
 * sort and the boolean switches, false when unset) and the objects that are set (priceTypes,
 * which Keepa requires, ranges, categories, title search...).
 */
export interface KeepaDealQuery extends KeepaDealSwitches {
  domainId: number;
  /** Optional filters of the DealRequest (deltaPercentRange, includeCategories...). */
  [filter: string]: unknown;
}

/** The deal query's fields but the domain, all of which the official DealRequest always sends. */
export interface KeepaDealSwitches {
  page: number;
  /** Exactly one price type (a csv type index). */
  priceTypes: number[];
  dateRange: number;
  sortType: number;
  isLowest: boolean;
  isLowest90: boolean;
  isLowestOffer: boolean;
  isBackInStock: boolean;
  isOutOfStock: boolean;
  isRangeEnabled: boolean;
  isFilterEnabled: boolean;
  filterErotic: boolean;
  hasReviews: boolean;
  isPrimeExclusive: boolean;
  mustHaveAmazonOffer: boolean;
  mustNotHaveAmazonOffer: boolean;
}

/**
 * What a query leaves out: the DealRequest's defaults (false, 0), except that a price type is
 * required (NEW, the price the ingest stores) and the sort is a documented one (newest first).
 */
export const KEEPA_DEAL_QUERY_DEFAULTS: Readonly<KeepaDealSwitches> = Object.freeze({
  page: 0,
  priceTypes: [KeepaCsvType.NEW],
  dateRange: 0,
  sortType: 1,
  isLowest: false,
  isLowest90: false,
  isLowestOffer: false,
  isBackInStock: false,
  isOutOfStock: false,
  isRangeEnabled: false,
  isFilterEnabled: false,
  filterErotic: false,
  hasReviews: false,
  isPrimeExclusive: false,
  mustHaveAmazonOffer: false,
  mustNotHaveAmazonOffer: false,
});

/**
 * A complete deal query: the defaults, then `selection`, on `domainId` unless the selection
 * names another. Throws RangeError for what Keepa would refuse (an unknown domain, no or several
 * price types, a date range or sort type it does not know, a negative page).
 */
export function keepaDealQuery(
  selection: Partial<KeepaDealQuery>,
  domainId: number,
): KeepaDealQuery {
  const query: KeepaDealQuery = {
    ...KEEPA_DEAL_QUERY_DEFAULTS,
    priceTypes: [...KEEPA_DEAL_QUERY_DEFAULTS.priceTypes],
    domainId,
    ...Object.fromEntries(Object.entries(selection).filter(([, value]) => value !== undefined)),
  } as KeepaDealQuery;
  const problem = (message: string) => new RangeError(`Keepa deal query: ${message}`);
  if (!Number.isInteger(query.page) || query.page < 0) {
    throw problem(`page must be a non-negative integer, not ${JSON.stringify(query.page)}`);
  }
  const domain = keepaDomainIdProblem(query.domainId);
  if (domain || typeof query.domainId !== 'number') throw problem(domain ?? 'domainId');
  if (
    !Array.isArray(query.priceTypes) ||
    query.priceTypes.length !== 1 ||
    !KEEPA_DEAL_PRICE_TYPES.includes(query.priceTypes[0] as number)
  ) {
    throw problem(
      `priceTypes must hold exactly one deal price type (${KEEPA_DEAL_PRICE_TYPES.join(', ')}), not ${JSON.stringify(query.priceTypes)}`,
    );
  }
  if (!KEEPA_DEAL_DATE_RANGES.includes(query.dateRange)) {
    throw problem(`dateRange must be 0, 1, 2 or 3, not ${JSON.stringify(query.dateRange)}`);
  }
  if (!KEEPA_DEAL_SORT_TYPES.includes(query.sortType)) {
    throw problem(
      `sortType must be one of ${KEEPA_DEAL_SORT_TYPES.join(', ')}, not ${JSON.stringify(query.sortType)}`,
    );
  }
  return query;
}
