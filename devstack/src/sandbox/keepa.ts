import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  closeServer,
  FAR_RETRY_AFTER,
  gzipBomb,
  HUGE_BODY_BYTES,
  listenLocal,
  realSleep,
  seededRandom,
  streamHuge,
} from './shared.ts';

/**
 * A sandbox Keepa product API: the parts Tollgate uses, with Keepa's token-bucket semantics,
 * true to Keepa's official clients (keepacom/api_backend, keepacom/php_api) and its API
 * documentation; functions/test/upstreams/keepa-contract.test.ts checks it against them.
 *
 * - `GET /product?key&domain&asin=A,B&stats=N&offers=N&history=0|1&update=N`: 1 token per
 *   ASIN; with `offers` (20..100, else 400) 6 tokens per page of up to 10 offers found per ASIN
 *   instead (the products have 1 to 30 offers, so 6, 12 or 18 tokens), and at most 20 ASINs
 *   (else 400; 100 without offers); `update=0` one more token per ASIN (the data is always
 *   fresh here). Served while the balance is positive, even if the cost drives it negative; at
 *   a balance <= 0: 429, the wait in the body's `refillIn` (no Retry-After: Keepa sends none).
 *   `history=0` leaves out the `csv` price histories (same cost).
 * - `/deal`, GET with `selection=<url-encoded queryJSON>` or POST with the queryJSON as body
 *   (as the official clients send it): 5 tokens per call (same rule); the query needs a
 *   `domainId` Keepa serves and exactly one deal price type in `priceTypes`; `dateRange` 0..3
 *   and `sortType` are checked when given. The answer's `deals` is the DealResponse: `dr`, a
 *   deterministic page of up to 150 Deal objects of the domain's finite deal list (`deals` in
 *   the options; pages past the end are empty and still charged), and the root categories of
 *   all matched deals (`categoryIds`, `categoryNames`, `categoryCount`).
 * - `GET /token?key`: the token status, free.
 * - Domains: 1-6 and 8-12 (the official AmazonLocale; 0 and 7 reserved), else 400.
 * - Status codes are the ones the official clients know: 400 (a bad parameter, and a missing
 *   or unknown key: REQUEST_REJECTED), 404 (no such endpoint), 405 (another method), 429 (not
 *   enough tokens), 500. Errors have Keepa's `error` object ({type, message}).
 * - Every /product and /deal answer but a rejected key carries Keepa's meter fields:
 *   `timestamp`, `tokensLeft`, `refillIn`, `refillRate`, `tokensConsumed` (0 when nothing was
 *   charged).
 * - Tokens refill by `refillPerMinute` once per whole minute since start, capped at capacity.
 * - Misbehaviour for tests and demos: '429', '5xx', 'slow', 'malformed' (JSON cut short), and
 *   hostile answers: 'huge' (a 200 whose JSON goes on for `hugeBytes`, streamed without a
 *   length), 'gzip-bomb' (the same JSON as a Content-Encoding gzip bomb: about 1 KiB per MiB it
 *   inflates to), 'far-retry-after' (what Keepa never sends: a 429 with `Retry-After:
 *   farRetryAfter`, by default 9999999999 seconds, the year 2343, and a body of `hugeBytes`
 *   that never gets to the meter fields).
 */

export type KeepaMisbehaviour =
  | 'none'
  | '429'
  | '5xx'
  | 'slow'
  | 'malformed'
  | 'huge'
  | 'gzip-bomb'
  | 'far-retry-after';

export interface KeepaSandboxOptions {
  port?: number;
  capacity?: number;
  /** Tokens added at each minute boundary (Keepa plans refill per minute). */
  refillPerMinute?: number;
  /** Injected clock (ms). */
  now?: () => number;
  /** Varies the generated products. */
  seed?: string | number;
  /** Accepted API keys; `['sandbox-key']` by default. */
  keys?: string[];
  /** Delay used by the 'slow' mode (3000 ms by default). */
  slowMs?: number;
  /** Injected sleep for the 'slow' mode (a real timer by default). */
  sleep?: (ms: number) => Promise<void>;
  /** Deals each domain's /deal list holds (400 by default: pages of 150, 150 and 100). */
  deals?: number;
  /** What the 'huge' and 'gzip-bomb' answers amount to (256 MiB by default). */
  hugeBytes?: number;
  /** The Retry-After of 'far-retry-after', as sent ('9999999999' by default). */
  farRetryAfter?: string;
}

export interface KeepaSandboxState {
  capacity: number;
  refillRate: number;
  tokensLeft: number;
  refillIn: number;
  mode: KeepaMisbehaviour;
  /** Requests answered 200 by /product. */
  served: number;
  /** Requests answered 200 by /deal. */
  dealsServed: number;
  /** Requests answered 429. */
  rejected: number;
  /** Tokens charged since start. */
  tokensConsumed: number;
  /** The last 1,000 served /product requests: ASINs asked for, and whether with offers. */
  productRequests: Array<{ asins: number; offers: boolean }>;
  /** The last 1,000 served deal queries, as sent. */
  dealQueries: Array<Record<string, unknown>>;
}

export interface KeepaSandbox {
  url: string;
  port: number;
  stop(): Promise<void>;
  state(): KeepaSandboxState;
  misbehave(mode: KeepaMisbehaviour): void;
}

export const KEEPA_SANDBOX_KEY = 'sandbox-key';
const MINUTE = 60_000;
/** Keepa time: minutes since 2011-01-01 UTC. */
const KEEPA_EPOCH_MINUTES = 21_564_000;
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

const BRANDS = ['Anker', 'Philips', 'Bosch', 'LEGO', 'Logitech', 'Braun', 'Tefal', 'Sony'];
const THINGS = [
  'Power Bank',
  'Kettle',
  'Drill Set',
  'Building Kit',
  'Mouse',
  'Shaver',
  'Pan',
  'Headphones',
];
const VARIANTS = ['Black', 'Silver', '2-Pack', 'Pro', 'Compact', 'XL', 'Wireless', 'Classic'];
/** The sandbox's root categories: ids 1000 to 1006. */
const ROOT_CATEGORIES = ['Electronics', 'Kitchen', 'Tools', 'Toys', 'Computers', 'Beauty', 'Home'];
const ROOT_CATEGORY_BASE = 1000;

/**
 * A deterministic, plausible Keepa product for an ASIN. With `offers` it has up to that many of
 * its 1 to 30 marketplace offers (the count is the ASIN's, whatever is asked for).
 */
export function sandboxProduct(
  asin: string,
  domainId: number,
  nowMs: number,
  opts: { seed?: string | number; stats?: boolean; offers?: number } = {},
): Record<string, unknown> {
  const r = seededRandom(`${opts.seed ?? ''}:${asin}`);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)] as T;
  const title = `${pick(BRANDS)} ${pick(THINGS)} ${pick(VARIANTS)}`;
  const base = 999 + Math.floor(r() * 20_000); // cents
  const keepaNow = Math.floor(nowMs / MINUTE) - KEEPA_EPOCH_MINUTES;
  // csv[0] Amazon, csv[1] new: [keepaMinute, price, ...], oldest first, a point a day.
  const history = (spread: number) => {
    const out: number[] = [];
    for (let d = 6; d >= 0; d--) {
      out.push(keepaNow - d * 1440, Math.round(base * (1 + (r() - 0.5) * spread)));
    }
    return out;
  };
  const amazon = history(0.2);
  const fresh = history(0.3);
  const product: Record<string, unknown> = {
    asin,
    domainId,
    productType: 0,
    title,
    brand: title.split(' ')[0],
    lastUpdate: keepaNow,
    lastPriceChange: keepaNow - 1440,
    salesRankReference: -1,
    csv: [amazon, fresh],
  };
  if (opts.stats) {
    const current = new Array<number>(18).fill(-1);
    current[0] = amazon[amazon.length - 1] as number;
    current[1] = fresh[fresh.length - 1] as number;
    current[3] = 1_000 + Math.floor(r() * 200_000); // sales rank
    product.stats = { current };
  }
  if (opts.offers !== undefined) {
    // Its own random sequence: the offers are the ASIN's, with or without stats.
    const o = seededRandom(`${opts.seed ?? ''}:offers:${asin}`);
    const n = Math.min(opts.offers, 1 + Math.floor(o() * MAX_SANDBOX_OFFERS));
    product.offers = Array.from({ length: n }, (_, i) => ({
      offerId: i,
      sellerId: `A${Math.floor(o() * 1e12)
        .toString(36)
        .toUpperCase()}`,
      isFBA: o() < 0.5,
      condition: 1,
      offerCSV: [keepaNow, Math.round(base * (1 + o() * 0.1)), 0],
    }));
  }
  return product;
}

/** The deal list's ASIN at `index` for a domain: unique per index, deterministic per seed. */
export function sandboxDealAsin(
  index: number,
  domainId: number,
  seed: string | number = '',
): string {
  const r = seededRandom(`${seed}:deal:${domainId}:${index}`);
  const tail = Math.floor(r() * 36 ** 4)
    .toString(36)
    .toUpperCase()
    .padStart(4, '0');
  return `B0${index.toString(36).toUpperCase().padStart(4, '0')}${tail}`;
}

/**
 * One page of a domain's deals, as Keepa's Deal objects (api_backend structs/Deal.java).
 * `current` is the product's current values (the same as /product's `stats.current`);
 * `deltaPercent`, `delta` and `avg` hold, per date range (day, week, month, 90 days) and price
 * type, how far the value fell (negative) against its average, and that average; `deltaLast`
 * the last change, `currentSince` since when the value holds (Keepa minutes).
 */
export function sandboxDeals(
  domainId: number,
  page: number,
  nowMs: number,
  opts: { seed?: string | number; total?: number } = {},
): Record<string, unknown>[] {
  const total = opts.total ?? 400;
  const from = page * DEALS_PER_PAGE;
  const to = Math.min(total, from + DEALS_PER_PAGE);
  const keepaNow = Math.floor(nowMs / MINUTE) - KEEPA_EPOCH_MINUTES;
  const deals: Record<string, unknown>[] = [];
  for (let i = from; i < to; i++) {
    const asin = sandboxDealAsin(i, domainId, opts.seed);
    const product = sandboxProduct(asin, domainId, nowMs, { seed: opts.seed, stats: true });
    const current = (product.stats as { current: number[] }).current;
    const r = seededRandom(`${opts.seed ?? ''}:dealDelta:${asin}`);
    const ranges = [0, 1, 2, 3].map(() =>
      current.map((value, type) => (value > 0 && type !== 3 ? -(5 + Math.floor(r() * 45)) : -1)),
    );
    const rootCat = ROOT_CATEGORY_BASE + (i % ROOT_CATEGORIES.length);
    deals.push({
      asin,
      title: product.title,
      rootCat,
      categories: [rootCat],
      image: Array.from(`${asin}.jpg`, (c) => c.charCodeAt(0)),
      creationDate: keepaNow - 60 - (i % 600),
      lastUpdate: keepaNow - (i % 60),
      lightningEnd: 0,
      current,
      currentSince: current.map((value) => (value > 0 ? keepaNow - 60 - (i % 600) : -1)),
      deltaPercent: ranges,
      delta: ranges.map((range) =>
        range.map((pct, type) =>
          pct === -1 ? -1 : Math.round(((current[type] as number) * pct) / (100 + pct)),
        ),
      ),
      deltaLast: (ranges[0] as number[]).map((pct, type) =>
        pct === -1 ? -1 : Math.round(((current[type] as number) * pct) / (100 + pct)),
      ),
      avg: ranges.map((range) =>
        range.map((pct, type) =>
          pct === -1 ? -1 : Math.round(((current[type] as number) * 100) / (100 + pct)),
        ),
      ),
    });
  }
  return deals;
}

/**
 * The root categories of all of a domain's deals (not only one page's), as DealResponse has
 * them: three arrays that belong together by index.
 */
export function sandboxDealCategories(total: number): {
  categoryIds: number[];
  categoryNames: string[];
  categoryCount: number[];
} {
  const counts = ROOT_CATEGORIES.map(
    (_, c) =>
      Math.floor(total / ROOT_CATEGORIES.length) + (c < total % ROOT_CATEGORIES.length ? 1 : 0),
  );
  const present = ROOT_CATEGORIES.map((name, c) => ({ c, name })).filter(({ c }) => counts[c]! > 0);
  return {
    categoryIds: present.map(({ c }) => ROOT_CATEGORY_BASE + c),
    categoryNames: present.map(({ name }) => name),
    categoryCount: present.map(({ c }) => counts[c] as number),
  };
}

/** Tokens a /product request for these products costs, by Keepa's documented price list. */
export function sandboxProductTokens(
  products: ReadonlyArray<Record<string, unknown>>,
  params: { offers?: number; update?: number },
): number {
  let tokens = 0;
  for (const product of products) {
    if (params.offers === undefined) tokens += 1;
    else {
      const found = Array.isArray(product.offers) ? product.offers.length : 0;
      // No offer found: Keepa charges the request as if retrieving offers failed, 1 token.
      tokens += found > 0 ? Math.ceil(found / OFFERS_PER_PAGE) * TOKENS_PER_OFFER_PAGE : 1;
    }
    if (params.update === 0) tokens += 1;
  }
  return tokens;
}

/** Keepa's bucket: discrete refill at minute boundaries since start; balance may go negative. */
class KeepaBucket {
  balance: number;
  #minute = 0;
  constructor(
    readonly capacity: number,
    readonly refill: number,
    private readonly now: () => number,
    private readonly startedAt: number,
  ) {
    this.balance = capacity;
  }
  advance(): void {
    const m = Math.floor((this.now() - this.startedAt) / MINUTE);
    if (m > this.#minute) {
      this.balance = Math.min(this.capacity, this.balance + (m - this.#minute) * this.refill);
      this.#minute = m;
    }
  }
  /** ms until the next refill. */
  refillIn(): number {
    return this.startedAt + (this.#minute + 1) * MINUTE - this.now();
  }
}

function reply(res: ServerResponse, status: number, body: unknown, extra?: Record<string, string>) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...extra,
  });
  res.end(text);
}

const invalid = (message: string) => ({ error: { type: 'invalidParameter', message } });

/** POST bodies (deal queries) are read up to this much. */
const MAX_POST_BYTES = 64 * 1024;

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_POST_BYTES) {
        resolve(undefined);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(undefined));
  });
}

export async function startKeepaSandbox(opts: KeepaSandboxOptions = {}): Promise<KeepaSandbox> {
  const now = opts.now ?? Date.now;
  const capacity = opts.capacity ?? 300;
  const refillRate = opts.refillPerMinute ?? 20;
  const keys = new Set(opts.keys ?? [KEEPA_SANDBOX_KEY]);
  const slowMs = opts.slowMs ?? 3_000;
  const sleep = opts.sleep ?? realSleep;
  const bucket = new KeepaBucket(capacity, refillRate, now, now());
  let mode: KeepaMisbehaviour = 'none';
  const totalDeals = opts.deals ?? 400;
  let served = 0;
  const productRequests: KeepaSandboxState['productRequests'] = [];
  const dealQueries: KeepaSandboxState['dealQueries'] = [];
  let dealsServed = 0;
  let rejected = 0;
  let tokensConsumed = 0;

  const status = () => {
    bucket.advance();
    return {
      timestamp: now(),
      tokensLeft: bucket.balance,
      refillIn: bucket.refillIn(),
      refillRate,
      tokenFlowReduction: 0,
    };
  };

  /** Keepa answers errors with the meter fields too; nothing was charged. */
  const uncharged = () => ({ ...status(), tokensConsumed: 0, processingTimeInMs: 0 });

  /**
   * Not enough tokens: 429, the meter fields say when there will be (`refillIn`, with
   * `tokensLeft` and `refillRate`), as the official clients read them. No Retry-After.
   */
  const tooMany = (res: ServerResponse) => {
    rejected++;
    reply(res, 429, uncharged());
  };

  const badRequest = (res: ServerResponse, message: string) =>
    reply(res, 400, { ...invalid(message), ...uncharged() });

  /** Keepa's rule: runs while the balance is positive, charged in full. False: answered 429. */
  const charge = (res: ServerResponse, cost: number): boolean => {
    bucket.advance();
    if (bucket.balance <= 0) {
      tooMany(res);
      return false;
    }
    bucket.balance -= cost;
    tokensConsumed += cost;
    return true;
  };

  const isDomain = (value: unknown): value is number =>
    typeof value === 'number' && KEEPA_SANDBOX_DOMAINS.includes(value);
  const domainMessage = (field: string) =>
    `${field} must be a domain id Keepa serves (${KEEPA_SANDBOX_DOMAINS.join(', ')})`;

  /** The deal query's problem (what Keepa would answer 400 for), or undefined. */
  const dealQueryProblem = (selection: Record<string, unknown>): string | undefined => {
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

  const deal = (text: string | null | undefined, res: ServerResponse) => {
    let selection: unknown;
    try {
      selection = JSON.parse(text ?? '');
    } catch {
      badRequest(res, 'the query (selection) must be JSON');
      return;
    }
    if (!selection || typeof selection !== 'object' || Array.isArray(selection)) {
      badRequest(res, 'the query (selection) must be a JSON object');
      return;
    }
    const query = selection as Record<string, unknown>;
    const problem = dealQueryProblem(query);
    if (problem) {
      badRequest(res, problem);
      return;
    }
    if (!charge(res, DEAL_COST)) return;
    dealsServed++;
    dealQueries.push(query);
    if (dealQueries.length > 1_000) dealQueries.shift();
    const domainId = query.domainId as number;
    const dr = sandboxDeals(domainId, (query.page as number | undefined) ?? 0, now(), {
      seed: opts.seed,
      total: totalDeals,
    });
    reply(res, 200, {
      ...status(),
      tokensConsumed: DEAL_COST,
      processingTimeInMs: 0,
      deals: { dr, ...sandboxDealCategories(totalDeals) },
    });
  };

  const product = (q: URLSearchParams, res: ServerResponse) => {
    const domain = Number(q.get('domain'));
    if (!isDomain(domain)) {
      badRequest(res, domainMessage('domain'));
      return;
    }
    const asins = (q.get('asin') ?? '')
      .split(',')
      .map((a) => a.trim())
      .filter(Boolean);
    let offers: number | undefined;
    if (q.has('offers')) {
      offers = Number(q.get('offers'));
      if (!Number.isInteger(offers) || offers < 20 || offers > 100) {
        badRequest(res, 'offers must be an integer between 20 and 100');
        return;
      }
    }
    const most = offers === undefined ? MAX_ASINS : MAX_ASINS_WITH_OFFERS;
    if (asins.length === 0 || asins.length > most) {
      badRequest(
        res,
        offers === undefined
          ? `asin must list 1 to ${MAX_ASINS} ASINs`
          : `asin must list 1 to ${MAX_ASINS_WITH_OFFERS} ASINs when offers is used`,
      );
      return;
    }
    let update: number | undefined;
    if (q.has('update')) {
      update = Number(q.get('update'));
      if (!Number.isInteger(update) || update < -1) {
        badRequest(res, 'update must be an integer of at least -1');
        return;
      }
    }
    const t = now();
    const withHistory = q.get('history') !== '0';
    const products = asins.map((asin) => {
      const p = sandboxProduct(asin, domain, t, { seed: opts.seed, stats: q.has('stats'), offers });
      if (!withHistory) p.csv = null;
      return p;
    });
    const cost = sandboxProductTokens(products, { offers, update });
    if (!charge(res, cost)) return;
    served++;
    productRequests.push({ asins: asins.length, offers: offers !== undefined });
    if (productRequests.length > 1_000) productRequests.shift();
    reply(res, 200, { ...status(), tokensConsumed: cost, processingTimeInMs: 0, products });
  };

  const handle = (url: URL, res: ServerResponse, body?: string) => {
    const q = url.searchParams;
    const key = q.get('key');
    if (!key || !keys.has(key)) {
      // Keepa refuses a bad key as a rejected request (400): no client of it knows a 401.
      reply(res, 400, { error: { type: 'invalidKey', message: 'missing or unknown API key' } });
      return;
    }
    if (url.pathname === '/token') {
      reply(res, 200, uncharged());
      return;
    }
    if (url.pathname === '/deal') {
      deal(body ?? q.get('selection'), res);
      return;
    }
    if (url.pathname === '/product') {
      product(q, res);
      return;
    }
    reply(res, 404, { error: { type: 'notFound', message: `no endpoint ${url.pathname}` } });
  };

  const respond = (res: ServerResponse, url: URL, body?: string) => {
    switch (mode) {
      case '429':
        tooMany(res);
        return;
      case 'far-retry-after': {
        // Not Keepa: a Retry-After far away, and a body too long to read for its meter fields.
        rejected++;
        const head = `{"error":{"type":"notEnoughToken","message":"`;
        const bytes = opts.hugeBytes ?? HUGE_BODY_BYTES;
        void streamHuge(
          res,
          429,
          {
            'content-type': 'application/json',
            'retry-after': opts.farRetryAfter ?? FAR_RETRY_AFTER,
          },
          { head, filler: ' ', tail: '"}}', bytes },
        );
        return;
      }
      case 'huge':
      case 'gzip-bomb': {
        // Meter fields first, then a product list that never seems to end.
        const head = `${JSON.stringify({ ...uncharged(), tokensConsumed: 0 }).slice(0, -1)},"products":[`;
        const huge = { head, filler: ' ', tail: ']}', bytes: opts.hugeBytes ?? HUGE_BODY_BYTES };
        if (mode === 'huge') {
          void streamHuge(res, 200, { 'content-type': 'application/json' }, huge);
        } else {
          const bomb = gzipBomb(huge);
          res.writeHead(200, {
            'content-type': 'application/json',
            'content-encoding': 'gzip',
            'content-length': bomb.length,
          });
          res.end(bomb);
        }
        return;
      }
      case '5xx':
        reply(res, 500, { error: { type: 'internal', message: 'sandbox told to fail' } });
        return;
      case 'malformed':
        reply(res, 200, '{"timestamp": 1, "tokensLeft": , "products": [');
        return;
      case 'slow':
        sleep(slowMs).then(
          () => handle(url, res, body),
          () => reply(res, 500, { error: { type: 'internal', message: 'sleep failed' } }),
        );
        return;
      default:
        handle(url, res, body);
    }
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    if (req.method === 'POST' && url.pathname === '/deal') {
      // The official clients POST the deal query (Request.getDealsRequest: postData).
      readBody(req).then((body) => {
        if (body === undefined) {
          reply(res, 400, invalid(`the query must be at most ${MAX_POST_BYTES} bytes`));
          return;
        }
        respond(res, url, body);
      });
      return;
    }
    if (req.method !== 'GET') {
      reply(res, 405, {
        error: { type: 'methodNotAllowed', message: `${req.method} not allowed` },
      });
      return;
    }
    respond(res, url);
  });

  const port = await listenLocal(server, opts.port);

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    misbehave: (m) => {
      mode = m;
    },
    state: () => {
      bucket.advance();
      return {
        capacity,
        refillRate,
        tokensLeft: bucket.balance,
        refillIn: bucket.refillIn(),
        mode,
        served,
        dealsServed,
        rejected,
        tokensConsumed,
        productRequests: [...productRequests],
        dealQueries: [...dealQueries],
      };
    },
    stop: () => closeServer(server),
  };
}
