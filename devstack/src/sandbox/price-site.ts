import { createServer } from 'node:http';
import {
  DEFAULT_CATALOGUE,
  sandboxPriceProduct,
  sandboxProductId,
} from './price-site-catalogue.ts';
import { BOT_WALL, page } from './price-site-formats.ts';
import { priceSitePages } from './price-site-pages.ts';
import {
  PRICE_SITE_MARKETPLACES,
  type PriceSiteMarketplace,
  type PriceSiteMisbehaviour,
  type PriceSiteOptions,
  type PriceSiteSandbox,
  type PriceSiteState,
} from './price-site-types.ts';
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
 * A sandbox price-history site in the manner of Buck.cheap, for the marketplaces `takealot`
 * and `makro`, with a finite deterministic catalogue:
 *
 * - `GET /{marketplace}/products?page=N` (1-based): an HTML listing with links to
 *   `/{marketplace}/product/{id}`, `pageSize` per page, and a `rel="next"` link while more
 *   pages follow. A page past the end lists nothing and says so.
 * - `GET /{marketplace}/product/{id}`: an HTML page with the title, identifiers (takealot:
 *   PLID and barcode; makro: SKU and barcode) and a link to the price history CSV, written
 *   root-relative, relative or absolute depending on the product.
 * - `GET /{marketplace}/product/{id}/price-history.csv`: daily points up to today (UTC on the
 *   injected clock). takealot writes `date,price` with `1299.00`; makro writes
 *   `Date,Price (ZAR)` with quoted `"R1,299.00"`. Prices are deterministic from (seed, id).
 * - A known fraction (`defectRate`, 5% by default) of products carries one defect, chosen
 *   deterministically from (seed, marketplace, id); `sandboxDefect` tells which:
 *   'missing-link' (the page links no CSV; the CSV is still served), 'date-gap' (10 days
 *   missing), 'non-positive-price' (one 0.00), 'price-jump' (one day at 10x) and
 *   'missing-barcode' (the page shows no barcode).
 * - Misbehaviour for tests and demos: '5xx' (503), 'slow' (answers after `slowMs`),
 *   'malformed' (listings and pages without links, CSV garbage), 'block' (403 bot wall) and
 *   '429' (with Retry-After), and hostile answers: 'far-retry-after' (429 with
 *   `Retry-After: farRetryAfter`, 9999999999 seconds by default), 'huge' (every answer a 200
 *   streamed for `hugeBytes`), 'bomb' (every answer a Content-Encoding gzip bomb inflating to
 *   `hugeBytes`), 'hostile-html' (pages end with `hostileHtmlBytes` of unclosed anchors;
 *   listings also link a product with malformed percent-encoding; product pages also link a
 *   price-history CSV on `foreignOrigin` before their own).
 *
 * Where each rule comes from (issue 16: what is documented, what is assumed): Buck.cheap
 * publishes no API or format description, so the page layout, the URLs, the CSV columns and
 * their number formats are assumed, modelled on the seed's description of the site (listing
 * pages, product pages with identifiers, a price-history CSV per product). What is not assumed:
 * - 429 with `Retry-After` (delta-seconds), 503 and 403 are HTTP's own (RFC 6585 §4, RFC 9110
 *   §10.2.3, §15.6.4, §15.5.4); a bot wall answering 403 with an HTML page is what sites behind
 *   common bot protection do.
 * - `rel="next"` pagination: HTML's link type (HTML Living Standard, "Link type next").
 * - Relative, root-relative and absolute links resolve by RFC 3986 §5, as a browser would.
 * - South African prices: rand with two decimals, written `1299.00` or `R1,299.00` (the ZAR
 *   convention); which site writes which is assumed.
 * The hostile modes ('huge', 'bomb', 'hostile-html', 'far-retry-after') are attacks, not
 * imitations.
 */

// Its parts, one module each: the types (price-site-types.ts), the catalogue
// (price-site-catalogue.ts), how the site writes (price-site-formats.ts) and its pages
// (price-site-pages.ts).

export async function startPriceSiteSandbox(
  opts: PriceSiteOptions = {},
): Promise<PriceSiteSandbox> {
  const now = opts.now ?? Date.now;
  const pageSize = opts.pageSize ?? 50;
  const retryAfter = opts.retryAfterSeconds ?? 60;
  const slowMs = opts.slowMs ?? 3_000;
  const sleep = opts.sleep ?? realSleep;
  const sizes = { ...DEFAULT_CATALOGUE, ...opts.catalogue };
  const catalogue = new Map<PriceSiteMarketplace, string[]>();
  const positions = new Map<string, number>();
  for (const marketplace of PRICE_SITE_MARKETPLACES) {
    const ids = Array.from({ length: sizes[marketplace] }, (_, i) =>
      sandboxProductId(marketplace, i),
    );
    catalogue.set(marketplace, ids);
    ids.forEach((id, i) => {
      positions.set(`${marketplace}/${id}`, i);
    });
  }
  const productOf = (marketplace: PriceSiteMarketplace, id: string) =>
    positions.has(`${marketplace}/${id}`)
      ? sandboxPriceProduct(marketplace, id, now(), {
          seed: opts.seed,
          historyDays: opts.historyDays,
          defectRate: opts.defectRate,
        })
      : undefined;

  let mode: PriceSiteMisbehaviour = 'none';
  const state: Omit<PriceSiteState, 'mode'> = {
    requests: 0,
    byKind: { listing: 0, product: 0, csv: 0, other: 0 },
    byStatus: {},
  };

  const { reply, route } = priceSitePages({
    opts,
    pageSize,
    catalogue,
    productOf,
    mode: () => mode,
    state,
  });

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    state.requests++;
    const kind = url.pathname.endsWith('/products')
      ? 'listing'
      : url.pathname.endsWith('.csv')
        ? 'csv'
        : /\/product\/[^/]+$/.test(url.pathname)
          ? 'product'
          : 'other';
    state.byKind[kind]++;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      reply(res, 405, page('Method not allowed', '<h1>GET only</h1>'), undefined, {
        allow: 'GET, HEAD',
      });
      return;
    }
    switch (mode) {
      case '429':
        reply(res, 429, page('Too many requests', '<h1>Slow down</h1>'), undefined, {
          'retry-after': String(retryAfter),
        });
        return;
      case 'far-retry-after':
        reply(res, 429, page('Too many requests', '<h1>Come back later</h1>'), undefined, {
          'retry-after': opts.farRetryAfter ?? FAR_RETRY_AFTER,
        });
        return;
      case 'huge':
      case 'bomb': {
        state.byStatus['200'] = (state.byStatus['200'] ?? 0) + 1;
        const body = {
          head: '<!doctype html><html><body>',
          filler: ' ',
          tail: '</body></html>',
          bytes: opts.hugeBytes ?? HUGE_BODY_BYTES,
        };
        if (mode === 'huge') {
          void streamHuge(res, 200, { 'content-type': 'text/html; charset=utf-8' }, body);
          return;
        }
        const bomb = gzipBomb(body);
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'content-encoding': 'gzip',
          'content-length': bomb.length,
        });
        res.end(bomb);
        return;
      }
      case '5xx':
        reply(res, 503, page('Service unavailable', '<h1>Back soon</h1>'));
        return;
      case 'block':
        reply(res, 403, BOT_WALL);
        return;
      case 'slow':
        sleep(slowMs).then(
          () => route(req, res, url),
          () => reply(res, 500, page('Error', '<h1>sleep failed</h1>')),
        );
        return;
      default:
        route(req, res, url);
    }
  });

  const port = await listenLocal(server, opts.port);

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    misbehave: (m) => {
      mode = m;
    },
    state: () => ({
      mode,
      requests: state.requests,
      byKind: { ...state.byKind },
      byStatus: { ...state.byStatus },
    }),
    productIds: (marketplace) => [...(catalogue.get(marketplace) ?? [])],
    product: (marketplace, id) => productOf(marketplace, id),
    stop: () => closeServer(server),
  };
}
