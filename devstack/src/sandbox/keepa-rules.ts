/**
 * What the Keepa sandbox enforces: its key, Keepa time, the domains Keepa serves, the limits and
 * costs of /product and /deal, and what a deal query is refused for.
 */

export const KEEPA_SANDBOX_KEY = 'sandbox-key';
export const MINUTE = 60_000;
/** Keepa time: minutes since 2011-01-01 UTC. */
export const KEEPA_EPOCH_MINUTES = 21_564_000;
/** The domain ids Keepa serves: the official AmazonLocale ordinals but RESERVED (0, 7). */
export const KEEPA_SANDBOX_DOMAINS: readonly number[] = [1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12];
/** ASINs per /product request; with offers. */
export const MAX_ASINS = 100;
export const MAX_ASINS_WITH_OFFERS = 20;
/** Offers come, and are charged, in pages of this many... */
export const OFFERS_PER_PAGE = 10;
/** ...at this many tokens a page found, per product (instead of the 1 token per ASIN). */
export const TOKENS_PER_OFFER_PAGE = 6;
/** Most offers a sandbox product has. */
export const MAX_SANDBOX_OFFERS = 30;
/** Tokens one /deal request costs, whatever it returns. */
export const DEAL_COST = 5;
/** Deals per /deal page (Keepa's page size). */
export const DEALS_PER_PAGE = 150;
/**
 * Price types a deal query may select: the official CsvType's deal-relevant ones, and 18,
 * which the documentation lists too.
 */
export const DEAL_PRICE_TYPES: readonly number[] = [
  0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 32, 33,
];

export const isDomain = (value: unknown): value is number =>
  typeof value === 'number' && KEEPA_SANDBOX_DOMAINS.includes(value);
export const domainMessage = (field: string) =>
  `${field} must be a domain id Keepa serves (${KEEPA_SANDBOX_DOMAINS.join(', ')})`;

/** The deal query's problem (what Keepa would answer 400 for), or undefined. */
export const dealQueryProblem = (selection: Record<string, unknown>): string | undefined => {
  const { domainId, page = 0, priceTypes, dateRange, sortType } = selection;
  if (!isDomain(domainId)) return domainMessage('selection.domainId');
  if (!Number.isInteger(page) || (page as number) < 0) {
    return 'selection.page must be a non-negative integer';
  }
  if (
    !Array.isArray(priceTypes) ||
    priceTypes.length !== 1 ||
    !DEAL_PRICE_TYPES.includes(priceTypes[0] as number)
  ) {
    return 'selection.priceTypes must hold exactly one deal price type';
  }
  if (dateRange !== undefined && ![0, 1, 2, 3].includes(dateRange as number)) {
    return 'selection.dateRange must be 0, 1, 2 or 3';
  }
  // 0: the official DealRequest's default when unset.
  if (sortType !== undefined && ![0, 1, 2, 3, 4, -2, -3, -4].includes(sortType as number)) {
    return 'selection.sortType must be 1 to 4 (2 to 4 may be negative)';
  }
  return undefined;
};
