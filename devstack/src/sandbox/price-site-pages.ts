import type { IncomingMessage, ServerResponse } from 'node:http';
import { escapeHtml, page, priceHistoryCsv, rands } from './price-site-formats.ts';
import type {
  PriceSiteMarketplace,
  PriceSiteMisbehaviour,
  PriceSiteOptions,
  PriceSiteState,
  SandboxPriceProduct,
} from './price-site-types.ts';
import { seededRandom } from './shared.ts';

/**
 * The site's pages: routing a path to the listing, a product page or a price-history CSV, each as
 * the current misbehaviour has it ('malformed', 'hostile-html'), and every answer's status counted.
 */

/** The link with malformed percent-encoding 'hostile-html' listings carry. */
export const MALFORMED_PRODUCT_HREF = '%E0%A4%A';

export interface PriceSitePagesOptions {
  opts: PriceSiteOptions;
  pageSize: number;
  /** Each marketplace's product ids, in listing order. */
  catalogue: Map<PriceSiteMarketplace, string[]>;
  /** The product as the site serves it now; undefined when not in the catalogue. */
  productOf: (marketplace: PriceSiteMarketplace, id: string) => SandboxPriceProduct | undefined;
  /** The current misbehaviour (misbehave sets it). */
  mode: () => PriceSiteMisbehaviour;
  /** The counts the answers add to. */
  state: Omit<PriceSiteState, 'mode'>;
}

/** `reply`, which counts each answer's status, and `route`, which answers a GET. */
export function priceSitePages({
  opts,
  pageSize,
  catalogue,
  productOf,
  mode,
  state,
}: PriceSitePagesOptions) {
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
    if (mode() === 'malformed') {
      reply(res, 200, page(`${name} products`, `<h1>${name}</h1><div class="produ`));
      return;
    }
    const hostile = mode() === 'hostile-html';
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
    const linked = mode() !== 'malformed' && p.defect !== 'missing-link';
    const link = linked
      ? `<p><a class="download" href="${escapeHtml(href)}" download>Download price history (CSV)</a></p>`
      : '<p class="notice">Price history export is temporarily unavailable.</p>';
    const current = p.points[p.points.length - 1]!.price;
    const hostile = mode() === 'hostile-html';
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
      mode() === 'malformed'
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

  return { reply, route };
}
