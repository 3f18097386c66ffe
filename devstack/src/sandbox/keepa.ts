import { createServer, type ServerResponse } from 'node:http';
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
 * A sandbox Keepa product API: the parts Tollgate uses, with Keepa's token-bucket semantics.
 *
 * - `GET /product?key&domain&asin=A,B&stats=N&offers=N&history=0|1`: 1 token per ASIN, plus 6
 *   per ASIN when `offers` is given (20..100, else 400 invalidParameter). Served while the
 *   balance is positive, even if the cost drives it negative; at a balance <= 0: 429 with
 *   `Retry-After`. `history=0` leaves out the `csv` price histories (same cost).
 * - `GET /deal?key&selection=<url-encoded JSON {domainId, page}>`: 5 tokens per call (same
 *   rule), a deterministic page of up to 150 deals of the domain's finite deal list
 *   (`deals` in the options); pages past the end are empty (and still charged).
 * - `GET /token?key`: the token status, free.
 * - Every /product and /deal answer but a 401 carries Keepa's meter fields: `timestamp`,
 *   `tokensLeft`, `refillIn`, `refillRate`, `tokensConsumed` (0 when nothing was charged).
 * - Tokens refill by `refillPerMinute` once per whole minute since start, capped at capacity.
 * - Missing or unknown key: 401.
 * - Misbehaviour for tests and demos: '429', '5xx', 'slow', 'malformed' (JSON cut short), and
 *   hostile answers: 'huge' (a 200 whose JSON goes on for `hugeBytes`, streamed without a
 *   length), 'gzip-bomb' (the same JSON as a Content-Encoding gzip bomb: about 1 KiB per MiB it
 *   inflates to), 'far-retry-after' (429 with `Retry-After: farRetryAfter`, by default
 *   9999999999 seconds: the year 2343).
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
export const OFFERS_SURCHARGE = 6;
/** Tokens one /deal request costs, whatever it returns. */
export const DEAL_COST = 5;
/** Deals per /deal page (Keepa's page size). */
export const DEALS_PER_PAGE = 150;

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

/** A deterministic, plausible Keepa product for an ASIN. */
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
    const n = Math.min(opts.offers, 1 + Math.floor(r() * 5));
    product.offers = Array.from({ length: n }, (_, i) => ({
      offerId: i,
      sellerId: `A${Math.floor(r() * 1e12)
        .toString(36)
        .toUpperCase()}`,
      isFBA: r() < 0.5,
      condition: 1,
      offerCSV: [keepaNow, Math.round(base * (1 + r() * 0.1)), 0],
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
 * One page of a domain's deals, in Keepa's deal shape. `current` is the product's current
 * values (the same as /product's `stats.current`); `deltaPercent` and `delta` hold, per range
 * (day, week, month, 90 days), how far each price type fell (negative) against its average.
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
    deals.push({
      asin,
      title: product.title,
      rootCat: 1000 + (i % 7),
      categories: [1000 + (i % 7)],
      creationDate: keepaNow - 60 - (i % 600),
      lastUpdate: keepaNow - (i % 60),
      current,
      deltaPercent: ranges,
      delta: ranges.map((range) =>
        range.map((pct, type) =>
          pct === -1 ? -1 : Math.round(((current[type] as number) * pct) / (100 + pct)),
        ),
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
  /** ms until the balance is positive again (0 if it is). */
  untilPositive(): number {
    if (this.balance > 0) return 0;
    if (this.refill <= 0) return 86_400_000;
    const minutes = Math.floor(-this.balance / this.refill) + 1;
    return this.refillIn() + (minutes - 1) * MINUTE;
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

  const tooMany = (res: ServerResponse) => {
    rejected++;
    bucket.advance();
    const wait = mode === '429' ? Math.max(bucket.refillIn(), 1) : bucket.untilPositive();
    reply(res, 429, uncharged(), {
      'retry-after': String(Math.max(1, Math.ceil(wait / 1000))),
    });
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

  const deal = (q: URLSearchParams, res: ServerResponse) => {
    let selection: unknown;
    try {
      selection = JSON.parse(q.get('selection') ?? '');
    } catch {
      badRequest(res, 'selection must be URL-encoded JSON');
      return;
    }
    if (!selection || typeof selection !== 'object' || Array.isArray(selection)) {
      badRequest(res, 'selection must be a JSON object');
      return;
    }
    const { domainId, page = 0 } = selection as { domainId?: unknown; page?: unknown };
    if (!Number.isInteger(domainId) || (domainId as number) < 1 || (domainId as number) > 13) {
      badRequest(res, 'selection.domainId must be an integer between 1 and 13');
      return;
    }
    if (!Number.isInteger(page) || (page as number) < 0) {
      badRequest(res, 'selection.page must be a non-negative integer');
      return;
    }
    if (!charge(res, DEAL_COST)) return;
    dealsServed++;
    const dr = sandboxDeals(domainId as number, page as number, now(), {
      seed: opts.seed,
      total: totalDeals,
    });
    reply(res, 200, {
      ...status(),
      tokensConsumed: DEAL_COST,
      processingTimeInMs: 0,
      deals: {
        dr,
        drDateIndex: ['day', 'week', 'month', '90'],
        sortType: 1,
        categoryIds: [],
        categoryNames: [],
        categoryCount: [],
      },
    });
  };

  const handle = (url: URL, res: ServerResponse) => {
    const q = url.searchParams;
    const key = q.get('key');
    if (!key || !keys.has(key)) {
      reply(res, 401, { error: { type: 'invalidKey', message: 'missing or unknown API key' } });
      return;
    }
    if (url.pathname === '/token') {
      reply(res, 200, uncharged());
      return;
    }
    if (url.pathname === '/deal') {
      deal(q, res);
      return;
    }
    if (url.pathname !== '/product') {
      reply(res, 404, { error: { type: 'notFound', message: `no route ${url.pathname}` } });
      return;
    }
    const domain = Number(q.get('domain'));
    if (!Number.isInteger(domain) || domain < 1 || domain > 13) {
      badRequest(res, 'domain must be an integer between 1 and 13');
      return;
    }
    const asins = (q.get('asin') ?? '')
      .split(',')
      .map((a) => a.trim())
      .filter(Boolean);
    if (asins.length === 0 || asins.length > 100) {
      badRequest(res, 'asin must list 1 to 100 ASINs');
      return;
    }
    let offers: number | undefined;
    if (q.has('offers')) {
      offers = Number(q.get('offers'));
      if (!Number.isInteger(offers) || offers < 20 || offers > 100) {
        badRequest(res, 'offers must be an integer between 20 and 100');
        return;
      }
    }
    const cost = asins.length * (1 + (offers === undefined ? 0 : OFFERS_SURCHARGE));
    if (!charge(res, cost)) return;
    served++;
    productRequests.push({ asins: asins.length, offers: offers !== undefined });
    if (productRequests.length > 1_000) productRequests.shift();
    const t = now();
    const withHistory = q.get('history') !== '0';
    const products = asins.map((asin) => {
      const product = sandboxProduct(asin, domain, t, {
        seed: opts.seed,
        stats: q.has('stats'),
        offers,
      });
      if (!withHistory) product.csv = null;
      return product;
    });
    reply(res, 200, { ...status(), tokensConsumed: cost, processingTimeInMs: 0, products });
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    if (req.method !== 'GET') {
      reply(res, 405, { error: { type: 'methodNotAllowed', message: 'GET only' } });
      return;
    }
    switch (mode) {
      case '429':
        tooMany(res);
        return;
      case 'far-retry-after':
        rejected++;
        reply(res, 429, uncharged(), { 'retry-after': opts.farRetryAfter ?? FAR_RETRY_AFTER });
        return;
      case 'huge':
      case 'gzip-bomb': {
        // Meter fields first, then a product list that never seems to end.
        const head = `${JSON.stringify({ ...uncharged(), tokensConsumed: 0 }).slice(0, -1)},"products":[`;
        const body = { head, filler: ' ', tail: ']}', bytes: opts.hugeBytes ?? HUGE_BODY_BYTES };
        if (mode === 'huge') {
          void streamHuge(res, 200, { 'content-type': 'application/json' }, body);
        } else {
          const bomb = gzipBomb(body);
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
          () => handle(url, res),
          () => reply(res, 500, { error: { type: 'internal', message: 'sleep failed' } }),
        );
        return;
      default:
        handle(url, res);
    }
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
      };
    },
    stop: () => closeServer(server),
  };
}
