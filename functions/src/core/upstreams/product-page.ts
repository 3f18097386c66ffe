/**
 * A product page of the price site read: the price-history CSV it links on the site's own
 * origin, the product's title and the identifiers the page shows. Pure: no I/O, no clock.
 */

import {
  anchors,
  attributes,
  Closes,
  firstElementText,
  htmlTags,
  resolve,
  textOf,
} from './html-scan';

export interface ProductPageExtract {
  /** Absolute URL of the price-history CSV on the site's origin; null when the page links none. */
  csvUrl: string | null;
  title: string | null;
  /** Lower-case names (`plid`, `sku`, `barcode`, `mpn`) to values, as the page shows them. */
  identifiers: Record<string, string>;
  /** CSV-looking links not followed: to another origin, or not a URL at all. */
  skippedLinks: SkippedLinks;
}

/** Links a page scan passed over, by reason, for a counted warning. */
export interface SkippedLinks {
  /** Links to another origin than the site's: never followed (any host could be named). */
  offOrigin: number;
  /** Links that are no URL, or whose percent-encoding does not decode. */
  malformed: number;
}

const IDENTIFIER_ALIASES: Record<string, string> = {
  barcode: 'barcode',
  ean: 'barcode',
  ean13: 'barcode',
  gtin: 'barcode',
  gtin13: 'barcode',
  gtin12: 'barcode',
  upc: 'barcode',
  plid: 'plid',
  sku: 'sku',
  mpn: 'mpn',
};

/** The canonical identifier names. */
const KNOWN_IDENTIFIERS = new Set(Object.values(IDENTIFIER_ALIASES));

function identifierName(raw: string): string {
  const key = raw.toLowerCase().replace(/[^a-z0-9]/g, '');
  return IDENTIFIER_ALIASES[key] ?? key;
}

function scoreCsvLink(href: string, text: string, attrs: Record<string, string>): number {
  const path = href.split(/[?#]/)[0]!.toLowerCase();
  const words = `${text} ${attrs.title ?? ''} ${attrs.class ?? ''}`.toLowerCase();
  let score = 0;
  if (path.endsWith('.csv')) score += 4;
  else if (/\bcsv\b/.test(words) && /csv|export|download/.test(href.toLowerCase())) score += 3;
  else return 0;
  if (/price[-_ ]?history/.test(path)) score += 2;
  if (/price/.test(words)) score += 1;
  if ('download' in attrs) score += 1;
  return score;
}

export interface FindLinkOptions {
  /** The site's origin: CSV links elsewhere are not followed. The page's own by default. */
  origin?: string;
}

/**
 * The price-history CSV a product page links (relative links resolved against `pageUrl`), the
 * product's title and the identifiers the page shows (`data-identifier` attributes,
 * schema.org `itemprop`s, else labels such as `PLID`, `SKU`, `Barcode`/`EAN` in the text).
 * Only a link on the site's own origin is followed: a page naming another host (any host, the
 * proxy would fetch it) has that link counted in `skippedLinks.offOrigin` and passed over.
 * Linear in the page's length, whatever its markup.
 */
export function findPriceHistoryLink(
  html: string,
  pageUrl: string,
  options: FindLinkOptions = {},
): ProductPageExtract {
  const origin = options.origin ?? new URL(pageUrl).origin;
  const skippedLinks: SkippedLinks = { offOrigin: 0, malformed: 0 };
  let best: { url: string; score: number } | undefined;
  for (const anchor of anchors(html)) {
    const attrs = attributes(anchor.attrs);
    const href = attrs.href?.trim();
    if (!href) continue;
    const score = scoreCsvLink(href, textOf(anchor.inner), attrs);
    if (score === 0 || (best && best.score >= score)) continue;
    const url = resolve(href, pageUrl);
    if (!url) {
      skippedLinks.malformed++;
      continue;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') continue;
    if (url.origin !== origin) {
      skippedLinks.offOrigin++;
      continue;
    }
    best = { url: url.toString(), score };
  }
  return {
    csvUrl: best?.url ?? null,
    title: titleOf(html),
    identifiers: identifiersOf(html),
    skippedLinks,
  };
}

function titleOf(html: string): string | null {
  const fromH1 = firstElementText(html, 'h1') ?? '';
  if (fromH1) return fromH1;
  for (const tag of htmlTags(html)) {
    if (tag.name !== 'meta' || tag.closing) continue;
    const attrs = attributes(tag.attrs);
    if ((attrs.property ?? attrs.name) === 'og:title' && attrs.content?.trim()) {
      return attrs.content.trim();
    }
  }
  const title = firstElementText(html, 'title');
  const fromTitle = title ? title.split(/\s+[|–—]\s+/)[0]!.trim() : '';
  return fromTitle || null;
}

function identifiersOf(html: string): Record<string, string> {
  const found: Record<string, string> = {};
  const add = (name: string, value: string) => {
    const v = value.trim();
    const n = identifierName(name);
    if (v && n && !(n in found)) found[n] = v;
  };
  // `<x data-identifier="...">value</x>`; what such an element encloses is not searched again.
  let closes = new Closes(html);
  let skipUntil = 0;
  for (const tag of htmlTags(html)) {
    if (tag.closing || tag.start < skipUntil || !/\bdata-identifier\s*=/i.test(tag.attrs)) continue;
    const close = closes.next(tag.name, tag.end);
    if (!close) continue;
    skipUntil = close.end;
    const attrs = attributes(tag.attrs);
    const name = attrs['data-identifier'];
    if (name) add(name, attrs.content ?? textOf(html.slice(tag.end, close.start)));
  }
  // schema.org: `<meta itemprop="gtin13" content="...">` or `<span itemprop="sku">...</span>`.
  closes = new Closes(html);
  for (const tag of htmlTags(html)) {
    if (tag.closing || !/\bitemprop\s*=/i.test(tag.attrs)) continue;
    const attrs = attributes(tag.attrs);
    const name = attrs.itemprop ?? '';
    if (!KNOWN_IDENTIFIERS.has(identifierName(name))) continue;
    if (attrs.content) add(name, attrs.content);
    else {
      const close = closes.next(tag.name, tag.end);
      if (close) add(name, textOf(html.slice(tag.end, close.start)));
    }
  }
  const text = textOf(html);
  const plid = /\bPLID\s*[:#]?\s*(\d{4,})\b/i.exec(text) ?? /\b(PLID\d{4,})\b/i.exec(text);
  if (plid) add('plid', /^plid/i.test(plid[1]!) ? plid[1]!.toUpperCase() : `PLID${plid[1]}`);
  const barcode = /\b(?:barcode|ean(?:-?13)?|gtin(?:-?1[234])?|upc)\s*[:#]?\s*(\d{8,14})\b/i.exec(
    text,
  );
  if (barcode) add('barcode', barcode[1]!);
  const sku = /\bSKU\s*[:#]?\s*([A-Z0-9][A-Z0-9-]{2,})\b/i.exec(text);
  if (sku) add('sku', sku[1]!);
  return found;
}
