// The product request's documented rules: how many ASINs one may carry, and what it costs.
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
