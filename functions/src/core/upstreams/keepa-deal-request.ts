import { KeepaCsvType } from './keepa-csv';
import { keepaDomainIdProblem } from './keepa-domains';

// The deal request's documented rules: what a /deal page costs, and a complete deal query.
//
// Sources: the official clients' DealRequest and DealResponse (keepacom/api_backend
// `structs/DealRequest.java`, `structs/DealResponse.java`, `structs/Deal.java`; keepacom/php_api
// `src/API/DealRequest.php`, `src/API/DealResponse.php`) and Keepa's API documentation,
// "Browsing Deals" (the copy keepa-product-request.ts cites): "Token Cost: 5 per request
// providing up to 150 deals"; GET `/deal?key=<key>&selection=<queryJSON>` or POST with the
// queryJSON; priceTypes "Not optional: exactly one price type must be specified"; dateRange 0..3).

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
