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

export const PRICE_SITE_MARKETPLACES = ['takealot', 'makro'] as const;
export type PriceSiteMarketplace = (typeof PRICE_SITE_MARKETPLACES)[number];

export type PriceSiteMisbehaviour =
  | 'none'
  | '5xx'
  | 'slow'
  | 'malformed'
  | 'block'
  | '429'
  | 'far-retry-after'
  | 'huge'
  | 'bomb'
  | 'hostile-html';

/** The link with malformed percent-encoding 'hostile-html' listings carry. */
export const MALFORMED_PRODUCT_HREF = '%E0%A4%A';

export const PRICE_SITE_DEFECTS = [
  'missing-link',
  'date-gap',
  'non-positive-price',
  'price-jump',
  'missing-barcode',
] as const;
export type PriceSiteDefect = (typeof PRICE_SITE_DEFECTS)[number];

export interface PriceSiteOptions {
  port?: number;
  /** Varies prices, titles and which products are defective. */
  seed?: string | number;
  /** Injected clock (ms): the CSV ends at its UTC date. */
  now?: () => number;
  /** Products per marketplace; 1000 takealot and 500 makro by default. */
  catalogue?: Partial<Record<PriceSiteMarketplace, number>>;
  /** Products per listing page (50 by default). */
  pageSize?: number;
  /** Daily points per CSV (90 by default). */
  historyDays?: number;
  /** Share of products with a defect (0.05 by default). */
  defectRate?: number;
  /** Retry-After of the '429' misbehaviour (60 s by default). */
  retryAfterSeconds?: number;
  /** Delay used by the 'slow' mode (3000 ms by default). */
  slowMs?: number;
  /** Injected sleep for the 'slow' mode (a real timer by default). */
  sleep?: (ms: number) => Promise<void>;
  /** The Retry-After of 'far-retry-after', as sent ('9999999999' by default). */
  farRetryAfter?: string;
  /** What the 'huge' and 'bomb' answers amount to (256 MiB by default). */
  hugeBytes?: number;
  /** The unclosed anchors a 'hostile-html' page starts with (1 MiB by default). */
  hostileHtmlBytes?: number;
  /** The other host a 'hostile-html' product page links its CSV on (`http://127.0.0.1:9`). */
  foreignOrigin?: string;
}

export interface PriceSiteState {
  mode: PriceSiteMisbehaviour;
  requests: number;
  byKind: { listing: number; product: number; csv: number; other: number };
  byStatus: Record<string, number>;
}

export interface PriceSiteSandbox {
  url: string;
  port: number;
  stop(): Promise<void>;
  state(): PriceSiteState;
  misbehave(mode: PriceSiteMisbehaviour): void;
  /** The catalogue's product ids of a marketplace, in listing order. */
  productIds(marketplace: PriceSiteMarketplace): string[];
  /** The product as the site serves it now (title, identifiers, defect, points). */
  product(marketplace: PriceSiteMarketplace, id: string): SandboxPriceProduct | undefined;
}

export interface SandboxPricePoint {
  date: string;
  price: number;
}

export interface SandboxPriceProduct {
  marketplace: PriceSiteMarketplace;
  id: string;
  title: string;
  identifiers: Record<string, string>;
  defect: PriceSiteDefect | null;
  /** What the CSV holds, oldest first (defects included). */
  points: SandboxPricePoint[];
}

const DEFAULT_CATALOGUE: Record<PriceSiteMarketplace, number> = { takealot: 1000, makro: 500 };
const DAY_MS = 86_400_000;
/** The days a 'date-gap' product is missing, counted back from the end of its history. */
export const GAP_DAYS = 10;
export const JUMP_FACTOR = 10;

/** The product id at a catalogue position: PLIDs on takealot, SKUs on makro. */
export function sandboxProductId(marketplace: PriceSiteMarketplace, index: number): string {
  return marketplace === 'takealot'
    ? `PLID${71_000_000 + index * 131}`
    : `MK${String(400_000 + index * 17).padStart(9, '0')}`;
}

/** The defect a product carries, if any: deterministic from (seed, marketplace, id). */
export function sandboxDefect(
  seed: string | number | undefined,
  marketplace: string,
  id: string,
  defectRate = 0.05,
): PriceSiteDefect | null {
  const r = seededRandom(`defect:${seed ?? ''}:${marketplace}:${id}`);
  if (r() >= defectRate) return null;
  return PRICE_SITE_DEFECTS[Math.floor(r() * PRICE_SITE_DEFECTS.length)]!;
}

/** An EAN-13 with a valid check digit. */
function ean13(r: () => number): string {
  let digits = '600'; // South Africa's GS1 prefix
  while (digits.length < 12) digits += String(Math.floor(r() * 10));
  const sum = [...digits].reduce((s, d, i) => s + Number(d) * (i % 2 === 0 ? 1 : 3), 0);
  return digits + String((10 - (sum % 10)) % 10);
}

const BRANDS = ['Defy', 'Samsung', 'Russell Hobbs', 'Hisense', 'Kenwood', 'Philips', 'Bosch', 'LG'];
const THINGS = [
  ['Microwave 20L', 1_299],
  ['Kettle 1.7L', 399],
  ['Fridge 300L', 8_999],
  ['Blender 600W', 749],
  ['Air Fryer 4.2L', 1_499],
  ['Smart TV 55"', 9_999],
  ['Vacuum Cleaner', 2_199],
  ['Steam Iron', 449],
] as const;
const VARIANTS = ['Black', 'Silver', 'White', 'Stainless Steel', 'Pro', 'Compact'];

/** Today's date (UTC) of an instant, as YYYY-MM-DD. */
function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** A product of the catalogue as the site shows it on `nowMs`'s date. */
export function sandboxPriceProduct(
  marketplace: PriceSiteMarketplace,
  id: string,
  nowMs: number,
  opts: { seed?: string | number; historyDays?: number; defectRate?: number } = {},
): SandboxPriceProduct {
  const seed = opts.seed ?? '';
  const r = seededRandom(`product:${seed}:${marketplace}:${id}`);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)] as T;
  const [thing, typical] = pick(THINGS);
  const title = `${pick(BRANDS)} ${thing} ${pick(VARIANTS)}`;
  const base = Math.max(49, Math.round(typical * (0.7 + r() * 0.6)));
  const barcode = ean13(r);
  const defect = sandboxDefect(opts.seed, marketplace, id, opts.defectRate);
  const identifiers: Record<string, string> =
    marketplace === 'takealot' ? { plid: id, barcode } : { sku: id, barcode };
  if (defect === 'missing-barcode') delete identifiers.barcode;

  const days = Math.max(2, opts.historyDays ?? 90);
  const end = Date.parse(`${isoDate(nowMs)}T00:00:00Z`);
  const points: SandboxPricePoint[] = [];
  for (let d = days - 1; d >= 0; d--) {
    const at = end - d * DAY_MS;
    // Prices change weekly by up to 15% either way around the product's base price.
    const week = Math.floor(at / (7 * DAY_MS));
    const w = seededRandom(`price:${seed}:${marketplace}:${id}:${week}`)();
    points.push({ date: isoDate(at), price: Math.round(base * (0.85 + w * 0.3)) });
  }
  const middle = Math.floor(points.length / 2);
  if (defect === 'date-gap') {
    const gap = Math.min(GAP_DAYS, points.length - 2);
    points.splice(Math.max(1, middle - Math.floor(gap / 2)), gap);
  } else if (defect === 'non-positive-price') {
    points[middle] = { ...points[middle]!, price: 0 };
  } else if (defect === 'price-jump') {
    points[middle] = { ...points[middle]!, price: points[middle]!.price * JUMP_FACTOR };
  }
  return { marketplace, id, title, identifiers, defect, points };
}

const escapeHtml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** `1 299` as South African shops print rands. */
function rands(price: number): string {
  return `R ${Math.round(price)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ' ')}`;
}

/** `1,299.00`. */
function grouped(price: number): string {
  const [whole, cents] = price.toFixed(2).split('.');
  return `${whole!.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${cents}`;
}

export function priceHistoryCsv(product: SandboxPriceProduct): string {
  if (product.marketplace === 'makro') {
    const rows = product.points.map((p) => `${p.date},"R${grouped(p.price)}"`);
    return `Date,Price (ZAR)\r\n${rows.join('\r\n')}\r\n`;
  }
  const rows = product.points.map((p) => `${p.date},${p.price.toFixed(2)}`);
  return `date,price\n${rows.join('\n')}\n`;
}

const page = (title: string, body: string) =>
  `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>\n<body>\n${body}\n</body></html>\n`;

const BOT_WALL = page(
  'Just a moment...',
  '<h1>Checking your browser</h1><p>Access denied. Please verify you are a human.</p>',
);

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

  const reply = (
    res: ServerResponse,
    status: number,
    body: string,
    type = 'text/html; charset=utf-8',
    extra: Record<string, string> = {},
  ) => {
    state.byStatus[status] = (state.byStatus[status] ?? 0) + 1;
    res.writeHead(status, {
      'content-type': type,
      'content-length': Buffer.byteLength(body),
      ...extra,
    });
    res.end(body);
  };
  const notFound = (res: ServerResponse) =>
    reply(res, 404, page('Not found', '<h1>Page not found</h1>'));

  /**
   * 'hostile-html': anchors that are never closed, in a block that hides them, after every
   * `</a>` of the page (a scanner looking for each one's `</a>` reads to the end every time).
   */
  const unclosedAnchors = () => {
    const anchor = '<a href="/promo">';
    const count = Math.ceil((opts.hostileHtmlBytes ?? 1024 * 1024) / anchor.length);
    return `<div hidden>${anchor.repeat(count)}</div>\n`;
  };

  const listing = (res: ServerResponse, marketplace: PriceSiteMarketplace, url: URL) => {
    const raw = url.searchParams.get('page') ?? '1';
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < 1) {
      reply(res, 400, page('Bad request', '<h1>page must be a positive integer</h1>'));
      return;
    }
    const ids = catalogue.get(marketplace)!;
    const slice = ids.slice((n - 1) * pageSize, n * pageSize);
    const name = marketplace === 'takealot' ? 'Takealot' : 'Makro';
    if (mode === 'malformed') {
      reply(res, 200, page(`${name} products`, `<h1>${name}</h1><div class="produ`));
      return;
    }
    const hostile = mode === 'hostile-html';
    const items = slice.map((id) => {
      const p = productOf(marketplace, id)!;
      const current = p.points[p.points.length - 1]!.price;
      return `<li class="product"><a class="product-link" href="/${marketplace}/product/${id}">${escapeHtml(p.title)}</a> <span class="price">${rands(current)}</span></li>`;
    });
    const nav = [
      n > 1 ? `<a rel="prev" href="/${marketplace}/products?page=${n - 1}">Previous</a>` : '',
      n * pageSize < ids.length
        ? `<a rel="next" href="/${marketplace}/products?page=${n + 1}">Next</a>`
        : '',
    ].join(' ');
    if (hostile && items.length > 0) {
      items.unshift(
        `<li class="product"><a class="product-link" href="/${marketplace}/product/${MALFORMED_PRODUCT_HREF}">Broken link</a></li>`,
      );
    }
    const list =
      items.length > 0
        ? `<ul class="products">\n${items.join('\n')}\n</ul>`
        : '<ul class="products"></ul>\n<p class="empty">No more products.</p>';
    reply(
      res,
      200,
      page(
        `${name} price history - page ${n}`,
        `<h1>${name} price history</h1>\n${list}\n<nav class="pages">${nav}</nav>${hostile ? `\n${unclosedAnchors()}` : ''}`,
      ),
    );
  };

  const productPage = (
    req: IncomingMessage,
    res: ServerResponse,
    marketplace: PriceSiteMarketplace,
    id: string,
  ) => {
    const p = productOf(marketplace, id);
    if (!p) {
      notFound(res);
      return;
    }
    const labels: Record<string, string> = { plid: 'PLID', sku: 'SKU', barcode: 'Barcode' };
    const ids = Object.entries(p.identifiers)
      .map(
        ([name, value]) =>
          `<dt>${labels[name] ?? name}</dt><dd data-identifier="${name}">${escapeHtml(value)}</dd>`,
      )
      .join('');
    const csvPath = `/${marketplace}/product/${id}/price-history.csv`;
    const style = Math.floor(seededRandom(`link:${opts.seed ?? ''}:${marketplace}:${id}`)() * 3);
    const href =
      style === 0
        ? csvPath
        : style === 1
          ? `${id}/price-history.csv`
          : `http://${req.headers.host ?? '127.0.0.1'}${csvPath}`;
    const linked = mode !== 'malformed' && p.defect !== 'missing-link';
    const link = linked
      ? `<p><a class="download" href="${escapeHtml(href)}" download>Download price history (CSV)</a></p>`
      : '<p class="notice">Price history export is temporarily unavailable.</p>';
    const current = p.points[p.points.length - 1]!.price;
    const hostile = mode === 'hostile-html';
    const foreign = `${opts.foreignOrigin ?? 'http://127.0.0.1:9'}${csvPath}`;
    reply(
      res,
      200,
      page(
        `${p.title} | Buck.cheap sandbox`,
        (hostile
          ? `<p><a class="download" href="${escapeHtml(foreign)}" download>Download price history (CSV)</a></p>\n`
          : '') +
          `<h1 class="product-title">${escapeHtml(p.title)}</h1>\n` +
          `<dl class="identifiers">${ids}</dl>\n` +
          `<p class="current">Current price: <strong>${rands(current)}</strong></p>\n${link}` +
          (hostile ? `\n${unclosedAnchors()}` : ''),
      ),
    );
  };

  const csv = (res: ServerResponse, marketplace: PriceSiteMarketplace, id: string) => {
    const p = productOf(marketplace, id);
    if (!p) {
      notFound(res);
      return;
    }
    const body =
      mode === 'malformed'
        ? '\u0000\u0007PK\u0003\u0004<<binary>>;;;\nlorem ipsum,,,\n\u00ff\u00fe'
        : priceHistoryCsv(p);
    reply(res, 200, body, 'text/csv; charset=utf-8', {
      'content-disposition': `attachment; filename="${id}-price-history.csv"`,
    });
  };

  const route = (req: IncomingMessage, res: ServerResponse, url: URL) => {
    let parts: string[];
    try {
      parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      reply(res, 400, page('Bad request', '<h1>Malformed URL</h1>'));
      return;
    }
    const marketplace = parts[0] as PriceSiteMarketplace;
    if (!catalogue.has(marketplace)) {
      notFound(res);
      return;
    }
    if (parts.length === 2 && parts[1] === 'products') {
      listing(res, marketplace, url);
    } else if (parts.length === 3 && parts[1] === 'product') {
      productPage(req, res, marketplace, parts[2]!);
    } else if (parts.length === 4 && parts[1] === 'product' && parts[3] === 'price-history.csv') {
      csv(res, marketplace, parts[2]!);
    } else {
      notFound(res);
    }
  };

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
