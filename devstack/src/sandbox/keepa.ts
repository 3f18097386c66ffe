import { createServer, type ServerResponse } from 'node:http';
import { KeepaBucket } from './keepa-bucket.ts';
import { type KeepaCounts, keepaEndpoints } from './keepa-endpoints.ts';
import { invalid, MAX_POST_BYTES, readBody, reply } from './keepa-http.ts';
import { KEEPA_SANDBOX_KEY } from './keepa-rules.ts';
import type {
  KeepaMisbehaviour,
  KeepaSandbox,
  KeepaSandboxOptions,
  KeepaSandboxState,
} from './keepa-types.ts';
import {
  closeServer,
  FAR_RETRY_AFTER,
  gzipBomb,
  HUGE_BODY_BYTES,
  listenLocal,
  realSleep,
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

// Its parts, one module each: the types (keepa-types.ts), the rules (keepa-rules.ts), the
// products (keepa-products.ts) and deals (keepa-deals.ts), the token bucket (keepa-bucket.ts),
// the HTTP helpers (keepa-http.ts) and the metered endpoints (keepa-endpoints.ts).

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
  const counts: KeepaCounts = { served: 0, dealsServed: 0, rejected: 0, tokensConsumed: 0 };
  const productRequests: KeepaSandboxState['productRequests'] = [];
  const dealQueries: KeepaSandboxState['dealQueries'] = [];
  const { uncharged, tooMany, deal, product } = keepaEndpoints({
    opts,
    now,
    bucket,
    refillRate,
    totalDeals,
    counts,
    productRequests,
    dealQueries,
  });

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
        counts.rejected++;
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
        served: counts.served,
        dealsServed: counts.dealsServed,
        rejected: counts.rejected,
        tokensConsumed: counts.tokensConsumed,
        productRequests: [...productRequests],
        dealQueries: [...dealQueries],
      };
    },
    stop: () => closeServer(server),
  };
}
