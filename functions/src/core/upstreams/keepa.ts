/**
 * Keepa's data model, pure: time in Keepa minutes, price histories as flat `csv` arrays,
 * domains, and the meter fields every answer carries. No I/O here; the HTTP client is
 * `adapters/upstreams/keepa.ts`.
 */

// Its parts, one module each: time and price histories (keepa-csv.ts), domains
// (keepa-domains.ts), the meter (keepa-meter.ts), and the documented rules of /product
// (keepa-product-request.ts) and /deal (keepa-deal-request.ts). Importers use this module.
export {
  isoDate,
  KEEPA_EPOCH_MINUTES,
  KeepaCsvType,
  type KeepaHistoryOptions,
  type KeepaPeekFilterOptions,
  type KeepaPeekProduct,
  type KeepaPricePoint,
  keepaCurrentPrice,
  keepaHasShipping,
  keepaMinuteToMs,
  keepaPeekFilter,
  keepaPrice,
  keepaPriceHistory,
  keepaSalesRank,
  keepaTypeHistory,
  msToKeepaMinute,
} from './keepa-csv';
export {
  KEEPA_DEAL_DATE_RANGES,
  KEEPA_DEAL_PRICE_TYPES,
  KEEPA_DEAL_QUERY_DEFAULTS,
  KEEPA_DEAL_REQUEST_COST,
  KEEPA_DEAL_SORT_TYPES,
  KEEPA_DEALS_PER_PAGE,
  type KeepaDealQuery,
  type KeepaDealSwitches,
  keepaDealQuery,
} from './keepa-deal-request';
export {
  isKeepaDomainId,
  KEEPA_DOMAIN_IDS,
  KEEPA_DOMAINS,
  type KeepaDomain,
  keepaDomain,
  keepaDomainIdProblem,
  keepaMarketplace,
} from './keepa-domains';
export {
  type KeepaTokenFields,
  keepaMeterReading,
  keepaSecondsUntilPositive,
} from './keepa-meter';
export {
  KEEPA_INGEST_COMMIT_OFFERS,
  KEEPA_MAX_ASINS,
  KEEPA_MAX_ASINS_WITH_OFFERS,
  KEEPA_OFFERS_PER_PAGE,
  KEEPA_TOKENS_PER_OFFER_PAGE,
  type KeepaProductParams,
  keepaIngestCostPerItem,
  keepaIngestParams,
  keepaMaxAsinsPerRequest,
  keepaOfferPages,
  keepaProductCost,
  keepaProductTokensPerAsin,
} from './keepa-product-request';
