import type { z } from 'zod';
import { chunked } from '../../core/arrays';
import type { MeterReading } from '../../core/quota/meters';
import { KIB } from '../../core/storage/payloads';
import { type KeepaDealQuery, keepaDealQuery } from '../../core/upstreams/keepa-deal-request';
import { isKeepaDomainId, keepaDomainIdProblem } from '../../core/upstreams/keepa-domains';
import { type KeepaTokenFields, keepaMeterReading } from '../../core/upstreams/keepa-meter';
import {
  KEEPA_MAX_ASINS,
  KEEPA_MAX_ASINS_WITH_OFFERS,
  keepaMaxAsinsPerRequest,
} from '../../core/upstreams/keepa-product-request';
import { upstreamFetch } from './http';
import { readErrorText } from './http-body';
import { readJson } from './http-json';
import {
  dealBodySchema,
  type KeepaDeal,
  type KeepaProduct,
  productBodySchema,
  retryAfterFromBody,
  tokenBodySchema,
} from './keepa-answers';
import { keepaFailure } from './keepa-errors';
import { MIB, type UpstreamCall } from './upstream-call';

/**
 * The Keepa product API client: `/product` (batched by Keepa's 100 ASINs per request, 20 when
 * offers are asked for), `/deal` (a complete deal query) and the free `/token`, over the shared
 * HTTP helper (timeouts, bounded retries of 5xx/timeouts/network faults, 429 as
 * QuotaExceededError). Every answer's meter fields become a MeterReading returned with the
 * result, so callers feed the quota engine what Keepa said. The rules it follows are the
 * official clients' (keepacom/api_backend, keepacom/php_api) and Keepa's documentation; see
 * core/upstreams/keepa-*.ts and test/upstreams/keepa-contract.test.ts.
 *
 * Errors, by the status codes the official clients know (KeepaAPI.java and KeepaAPI.php:
 * 400 REQUEST_REJECTED, 402 PAYMENT_REQUIRED, 404 NOT_FOUND, 405 METHOD_NOT_ALLOWED, 429
 * NOT_ENOUGH_TOKEN, 500/503): 429 -> QuotaExceededError(provider, operation, the wait derived
 * from the body's tokensLeft/refillIn/refillRate as the official clients do; a Retry-After
 * header, which Keepa does not send, only when the body has no meter fields); 400 ->
 * UpstreamError 'credentials' when Keepa's error names the key, else 'configuration' (a
 * parameter Keepa does not support: a code or config defect, never retried); 402 (no active
 * subscription) and, from a stand-in or a proxy, 401/403 -> 'credentials'; 404/405 ->
 * 'configuration' (a wrong base URL, an endpoint the plan lacks); a body that does not fit the
 * schema -> 'malformed'; a body larger than the operation's cap (KEEPA_MAX_BODY_BYTES, after
 * gzip is undone) -> 'oversized', aborted as soon as it passes the cap; any other status 'http'.
 */

export const KEEPA_PROVIDER = 'keepa';
/**
 * Keepa's limits of ASINs per /product request: 100, 20 with offers (see
 * core/upstreams/keepa-product-request.ts).
 */
export { KEEPA_MAX_ASINS, KEEPA_MAX_ASINS_WITH_OFFERS };

export type KeepaOperation = 'product' | 'deal' | 'token';

/**
 * The largest answer read per operation (bytes, after gzip is undone). 100 products with
 * offers and every history are a few MiB; 150 deals well under one; the token status a few
 * hundred bytes. Far above what Keepa sends, far below what would exhaust a function's memory.
 */
export const KEEPA_MAX_BODY_BYTES: Readonly<Record<KeepaOperation, number>> = {
  product: 32 * MIB,
  deal: 8 * MIB,
  token: 64 * KIB,
};

export interface KeepaClientOptions {
  /** `https://api.keepa.com` in production; a sandbox or test server otherwise. */
  baseUrl: string;
  apiKey: string;
  /** Keepa's domain id (1 amazon.com, 3 amazon.de...; 1-6 and 8-12, see KEEPA_DOMAINS). */
  domainId: number;
  /** The quota provider id errors and readings are reported under (`keepa`). */
  provider?: string;
  /** The token bucket's size; default: 60 refills (Keepa's tokens expire after an hour). */
  capacity?: number;
  fetch?: typeof fetch;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  timeoutMs?: number;
  retries?: number;
  baseDelayMs?: number;
  /** Overrides KEEPA_MAX_BODY_BYTES per operation. */
  maxBodyBytes?: Partial<Record<KeepaOperation, number>>;
}

export interface KeepaProductOptions {
  /** `stats=<days>`: adds `stats` (current values, sales rank...) at no extra cost. */
  stats?: number;
  /**
   * `offers=<n>` (Keepa accepts 20..100): marketplace offers, 6 tokens per page of up to 10
   * offers found per ASIN instead of the 1 per ASIN; requests then carry at most 20 ASINs.
   */
  offers?: number;
  /** false sends `history=0`: no csv histories (smaller answers, same cost). */
  history?: boolean;
}

export interface KeepaAnswer {
  meter: MeterReading;
  /** The meter fields as Keepa sent them (refillIn: ms until the next refill). */
  tokens: KeepaTokenFields;
}

export interface KeepaProductsResult {
  products: KeepaProduct[];
  /** The last request's balance; `consumed` sums every request's tokensConsumed. */
  meter: MeterReading;
  /** Requests made (one per 100 ASINs, per 20 with offers). */
  requests: number;
}

/**
 * Keepa's deal query, as far as the caller sets it: the rest comes from the official
 * DealRequest's defaults (see keepaDealQuery), `domainId` from the client.
 */
export type KeepaDealSelection = Partial<KeepaDealQuery>;

export interface KeepaDealsResult extends KeepaAnswer {
  deals: KeepaDeal[];
  /** The complete query sent as `selection`. */
  query: KeepaDealQuery;
}

const defaultFetch: typeof fetch = (input, init) => fetch(input, init);

export class KeepaClient {
  readonly provider: string;
  readonly domainId: number;
  private readonly baseUrl: string;
  private readonly now: () => number;
  private readonly baseFetch: typeof fetch;

  constructor(private readonly options: KeepaClientOptions) {
    if (!options.apiKey) throw new Error('KeepaClient needs an API key');
    if (!isKeepaDomainId(options.domainId)) {
      throw new RangeError(keepaDomainIdProblem(options.domainId));
    }
    this.provider = options.provider ?? KEEPA_PROVIDER;
    this.domainId = options.domainId;
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.now = options.now ?? Date.now;
    this.baseFetch = options.fetch ?? defaultFetch;
  }

  /**
   * Products for `asins` (deduplicated, in order), in requests of at most 100 ASINs, or 20 when
   * `offers` is given (Keepa's limits). A failed request fails the call; the products of
   * requests before it are not returned (their tokens are spent: keep batches within one
   * request where that matters).
   */
  async products(
    asins: readonly string[],
    options: KeepaProductOptions = {},
  ): Promise<KeepaProductsResult> {
    const unique = [...new Set(asins.map((asin) => asin.trim()).filter(Boolean))];
    if (unique.length === 0) throw new RangeError('products() needs at least one ASIN');
    const products: KeepaProduct[] = [];
    let meter: MeterReading | undefined;
    let consumed = 0;
    let requests = 0;
    const perRequest = keepaMaxAsinsPerRequest(options);
    for (const chunk of chunked(unique, perRequest)) {
      const params: Record<string, string> = {
        domain: String(this.domainId),
        asin: chunk.join(','),
      };
      if (options.stats !== undefined) params.stats = String(options.stats);
      if (options.offers !== undefined) params.offers = String(options.offers);
      if (options.history !== undefined) params.history = options.history ? '1' : '0';
      const answer = await this.request('product', '/product', params, productBodySchema);
      products.push(...answer.body.products);
      meter = answer.meter;
      consumed += answer.meter.consumed ?? 0;
      requests++;
    }
    return { products, meter: { ...(meter as MeterReading), consumed }, requests };
  }

  /**
   * One page of deals (`/deal`, 5 tokens; up to 150 deals a page), for a complete query (the
   * DealRequest's fields, sent as `selection`, Keepa's GET form). A query Keepa would refuse
   * throws RangeError before anything is sent.
   */
  async deals(selection: KeepaDealSelection = {}): Promise<KeepaDealsResult> {
    const query = keepaDealQuery(selection, this.domainId);
    const answer = await this.request(
      'deal',
      '/deal',
      { selection: JSON.stringify(query) },
      dealBodySchema,
    );
    return { deals: answer.body.deals.dr, query, meter: answer.meter, tokens: answer.tokens };
  }

  /** The free token status (`/token`). */
  async tokenStatus(): Promise<KeepaAnswer> {
    const { meter, tokens } = await this.request('token', '/token', {}, tokenBodySchema);
    return { meter, tokens };
  }

  private call(operation: KeepaOperation): UpstreamCall {
    const { options } = this;
    return {
      provider: this.provider,
      operation,
      fetch: this.fetchWithRetryAfter,
      now: this.now,
      maxBodyBytes: options.maxBodyBytes?.[operation] ?? KEEPA_MAX_BODY_BYTES[operation],
      ...(options.sleep ? { sleep: options.sleep } : {}),
      ...(options.random ? { random: options.random } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.retries !== undefined ? { retries: options.retries } : {}),
      ...(options.baseDelayMs !== undefined ? { baseDelayMs: options.baseDelayMs } : {}),
    };
  }

  private async request<T extends z.ZodType<KeepaTokenFields>>(
    operation: KeepaOperation,
    path: string,
    params: Record<string, string>,
    schema: T,
  ): Promise<KeepaAnswer & { body: z.infer<T> }> {
    const call = this.call(operation);
    const url = new URL(`${this.baseUrl}${path}`);
    url.searchParams.set('key', this.options.apiKey);
    for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
    const response = await upstreamFetch(
      url,
      { method: 'GET', headers: { accept: 'application/json' } },
      call,
    );
    if (!response.ok) throw await keepaFailure(response, call, params);
    const body = await readJson(response, schema, call);
    const tokens: KeepaTokenFields = {
      tokensLeft: body.tokensLeft,
      refillIn: body.refillIn,
      refillRate: body.refillRate,
      ...(body.tokensConsumed === undefined ? {} : { tokensConsumed: body.tokensConsumed }),
      ...(body.timestamp === undefined ? {} : { timestamp: body.timestamp }),
    };
    const meter = keepaMeterReading(tokens, {
      nowMs: this.now(),
      ...(this.options.capacity === undefined ? {} : { capacity: this.options.capacity }),
    });
    return { body, meter, tokens };
  }

  /**
   * Keepa's 429 says when tokens return in its body (tokensLeft, refillIn, refillRate), never in
   * a Retry-After header: the official clients wait `refillIn` (KeepaAPI.java and KeepaAPI.php,
   * sendRequestWithRetry). The shared helper reads only the header, so set it here from the
   * body, replacing whatever header came. A header stays only when the body has no meter fields
   * (a stand-in or a proxy, not Keepa).
   */
  private readonly fetchWithRetryAfter: typeof fetch = async (input, init) => {
    const response = await this.baseFetch(input, init);
    if (response.status !== 429) return response;
    // Read only as far as a meter answer goes: a 429 is no reason to take in a huge body.
    const text = await readErrorText(response, this.provider);
    const headers = new Headers(response.headers);
    const seconds = retryAfterFromBody(text);
    if (seconds !== undefined) headers.set('retry-after', String(seconds));
    return new Response(text, { status: 429, statusText: response.statusText, headers });
  };
}
