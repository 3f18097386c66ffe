/**
 * Price-history extraction for sites in the manner of Buck.cheap: find the CSV link on a
 * product page (with the title and identifiers the page shows), and parse the CSV into dated
 * price points with a confidence per point and per product. Pure: no I/O, no clock.
 *
 * Confidence means "how sure is the extractor that it read what the site meant", not "is the
 * price plausible": a clean `0.00` is read with confidence 1 and left for validation to flag.
 */

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

export interface PriceHistoryPoint {
  /** YYYY-MM-DD. */
  date: string;
  /** null: the row had a date but no readable price. */
  price: number | null;
  /** 1 when read without guessing, lower when the price format was ambiguous, 0 when unread. */
  confidence: number;
}

export interface PriceHistoryParse {
  /** One per row with a readable date, in file order. */
  points: PriceHistoryPoint[];
  /** Product-level extraction confidence, 0..1. */
  confidence: number;
  /** Data rows seen (blank lines and the header excluded). */
  rows: number;
  /** Rows whose date and price were read with confidence 1. */
  cleanRows: number;
  /** A date column and a price column were found and at least one dated point read. */
  usable: boolean;
  header: boolean;
  /** The price or date column had to be guessed among several candidates. */
  ambiguousColumns: boolean;
  /** What lowered the confidence; the first few problems, for logs. */
  issues: string[];
}

export interface ParseOptions {
  /** False when the CSV was found without the page linking it (a guessed URL). */
  linkFound?: boolean;
}

/** Multipliers of the product-level confidence. */
export const CONFIDENCE_PENALTIES = {
  missingLink: 0.5,
  ambiguousColumns: 0.8,
  noHeader: 0.9,
} as const;

/** An ambiguous price (`1,299`: thousands or decimals?) is read with this confidence. */
export const AMBIGUOUS_PRICE_CONFIDENCE = 0.6;
const MAX_ISSUES = 10;

// ---------------------------------------------------------------------------------------------
// Product pages

const ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
};

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]{1,8}|#\d{1,8}|[a-z]{1,32});/gi, (whole, code: string) => {
    if (code[0] === '#') {
      const n =
        code[1] === 'x' || code[1] === 'X' ? parseInt(code.slice(2), 16) : Number(code.slice(1));
      return Number.isFinite(n) && n > 0 && n <= 0x10ffff ? String.fromCodePoint(n) : whole;
    }
    return ENTITIES[code.toLowerCase()] ?? whole;
  });
}

/**
 * A tag of a page: `<name attrs>` or `</name attrs>`, from its `<` to the first `>` after its
 * name, as the regular expressions it replaces (`<a\b([^>]*)>`) read tags.
 */
export interface HtmlTag {
  /** Lower case. */
  name: string;
  closing: boolean;
  /** What follows the name, up to the `>`. */
  attrs: string;
  /** Index of the `<`. */
  start: number;
  /** Index just past the `>`. */
  end: number;
}

const isNameChar = (code: number, first: boolean) =>
  (code >= 97 && code <= 122) || (code >= 65 && code <= 90) || (!first && code >= 48 && code <= 57);

/**
 * The tags of `html` in order, in one pass: time linear in its length whatever the markup
 * (unclosed anchors, `<` without `>`, tags inside attribute values). A tag runs from `<name`
 * (or `</name`) to the next `>`; a `<` that starts no name is text; once no `>` is left, no tag
 * can close and the scan ends. Every index moves forward only: the search for the next `>` is
 * shared by all the `<` before it, so no character is looked at more than a few times.
 */
export function* htmlTags(html: string): Generator<HtmlTag> {
  let pos = 0;
  let gt = -1;
  for (;;) {
    const lt = html.indexOf('<', pos);
    if (lt < 0) return;
    let i = lt + 1;
    const closing = html.charCodeAt(i) === 47; // '/'
    if (closing) i++;
    const nameStart = i;
    while (i < html.length && isNameChar(html.charCodeAt(i), i === nameStart)) i++;
    if (i === nameStart) {
      pos = lt + 1;
      continue;
    }
    if (gt < i) {
      gt = html.indexOf('>', i);
      if (gt < 0) return;
    }
    yield {
      name: html.slice(nameStart, i).toLowerCase(),
      closing,
      attrs: html.slice(i, gt),
      start: lt,
      end: gt + 1,
    };
    pos = gt + 1;
  }
}

/** `</name>` or `</name   >`: what `<\/name\s*>` matched. */
const isPlainClose = (tag: HtmlTag) => tag.closing && tag.attrs.trim() === '';

/**
 * Closing tags by name, for "the first `</name>` after this point" in amortised constant time:
 * each name's closes are in document order and each lookup cursor only moves forward, so a
 * pass asking in document order does linear work in all.
 */
class Closes {
  private readonly byName = new Map<string, HtmlTag[]>();
  private readonly cursors = new Map<string, number>();

  constructor(html: string) {
    for (const tag of htmlTags(html)) {
      if (!isPlainClose(tag)) continue;
      const list = this.byName.get(tag.name);
      if (list) list.push(tag);
      else this.byName.set(tag.name, [tag]);
    }
  }

  /** The first `</name>` starting at or after `from`; `from` must not decrease between calls. */
  next(name: string, from: number): HtmlTag | undefined {
    const list = this.byName.get(name);
    if (!list) return undefined;
    let k = this.cursors.get(name) ?? 0;
    while (k < list.length && list[k]!.start < from) k++;
    this.cursors.set(name, k);
    return list[k];
  }
}

/**
 * Visible text of an HTML fragment: tags dropped, entities decoded, whitespace collapsed. A tag
 * is `<` up to the next `>` (what `/<[^>]*>/g` removed), found in one linear pass.
 */
function textOf(html: string): string {
  let out = '';
  let pos = 0;
  let gt = -1;
  for (;;) {
    const lt = html.indexOf('<', pos);
    if (lt < 0) break;
    if (gt < lt) gt = html.indexOf('>', lt);
    if (gt < 0) break;
    out += `${html.slice(pos, lt)} `;
    pos = gt + 1;
  }
  out += html.slice(pos);
  return decodeEntities(out).replace(/\s+/g, ' ').trim();
}

function attributes(tag: string): Record<string, string> {
  const found: Record<string, string> = {};
  for (const m of tag.matchAll(/([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?/g)) {
    const name = m[1]!.toLowerCase();
    if (!(name in found)) found[name] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return found;
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

/** An anchor of a page: its attributes and the markup it encloses. */
interface Anchor {
  attrs: string;
  inner: string;
}

/**
 * The anchors of `html` in one linear pass. An anchor encloses what follows it up to `</a>`,
 * or up to the next `<a` (anchors do not nest: an HTML parser closes one there), or the end.
 */
function* anchors(html: string): Generator<Anchor> {
  let open: HtmlTag | undefined;
  for (const tag of htmlTags(html)) {
    if (tag.name !== 'a') continue;
    if (open) yield { attrs: open.attrs, inner: html.slice(open.end, tag.start) };
    open = tag.closing ? undefined : tag;
  }
  if (open) yield { attrs: open.attrs, inner: html.slice(open.end) };
}

/** `href` resolved against `base`: undefined when it is no URL. */
function resolve(href: string, base: string): URL | undefined {
  try {
    return new URL(href, base);
  } catch {
    return undefined;
  }
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

/** Text of the first `<name>` that is closed, up to its first `</name>`: one linear pass. */
function firstElementText(html: string, name: string): string | undefined {
  let open: HtmlTag | undefined;
  for (const tag of htmlTags(html)) {
    if (tag.name !== name) continue;
    if (!open) {
      if (!tag.closing) open = tag;
    } else if (isPlainClose(tag)) {
      return textOf(html.slice(open.end, tag.start));
    }
  }
  return undefined;
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

// ---------------------------------------------------------------------------------------------
// Listing pages

export interface ListingLinks {
  /** Product ids of the marketplace, decoded, in page order, without duplicates. */
  productIds: string[];
  /** A link with `rel="next"`. */
  hasNext: boolean;
  /** The page says it lists products (an element of class `products`), even if none. */
  hasProductList: boolean;
  /** Links passed over because their URL or its percent-encoding is malformed. */
  malformedLinks: number;
}

/**
 * The product ids a listing page links (`/{marketplace}/product/{id}`, relative links resolved
 * against `pageUrl`), in one linear pass. A link whose percent-encoding does not decode
 * (`%E0%A4%A`) or that is no URL is skipped and counted, never thrown.
 */
export function listingLinks(html: string, pageUrl: string, marketplace: string): ListingLinks {
  const ids: string[] = [];
  const seen = new Set<string>();
  let hasNext = false;
  let hasProductList = false;
  let malformedLinks = 0;
  for (const tag of htmlTags(html)) {
    if (tag.closing) continue;
    if (!hasProductList && /class\s*=\s*["'][^"']*\bproducts\b/i.test(tag.attrs)) {
      hasProductList = true;
    }
    if (tag.name !== 'a') continue;
    const href = /\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/i.exec(tag.attrs);
    const value = href ? (href[1] ?? href[2] ?? href[3] ?? '') : '';
    if (/\brel\s*=\s*["']?next\b/i.test(tag.attrs)) hasNext = true;
    if (!href) continue;
    const url = resolve(value.replace(/&amp;/g, '&'), pageUrl);
    if (!url) {
      malformedLinks++;
      continue;
    }
    const match = /\/([^/]+)\/product\/([^/]+)\/?$/.exec(url.pathname);
    if (!match) continue;
    const decoded = decodeComponents(match[1]!, match[2]!);
    if (!decoded) {
      malformedLinks++;
      continue;
    }
    const [linkMarketplace, id] = decoded;
    if (linkMarketplace !== marketplace || seen.has(id)) continue;
    seen.add(id);
    ids.push(id);
  }
  return { productIds: ids, hasNext, hasProductList, malformedLinks };
}

/** Both components decoded, or undefined when either is malformed percent-encoding. */
function decodeComponents(a: string, b: string): [string, string] | undefined {
  try {
    return [decodeURIComponent(a), decodeURIComponent(b)];
  } catch (error) {
    if (error instanceof URIError) return undefined;
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// CSV

/** RFC 4180 rows (quotes doubled inside quoted fields; CRLF, LF or CR line ends). */
export function csvRecords(text: string, delimiter = ','): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  const endRow = () => {
    row.push(field);
    rows.push(row);
    row = [];
    field = '';
  };
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else field += c;
      i++;
      continue;
    }
    if (c === '"' && field.trim() === '') {
      field = '';
      quoted = true;
    } else if (c === delimiter) {
      row.push(field);
      field = '';
    } else if (c === '\r' || c === '\n') {
      endRow();
      if (c === '\r' && text[i + 1] === '\n') i++;
    } else field += c;
    i++;
  }
  if (field !== '' || row.length > 0) endRow();
  return rows;
}

/** The delimiter of the first line among `,`, `;` and tab (outside quotes); `,` on a tie. */
function detectDelimiter(text: string): string {
  const line = text.split(/\r\n|\n|\r/).find((l) => l.trim() !== '') ?? '';
  const counts: Record<string, number> = { ',': 0, ';': 0, '\t': 0 };
  let quoted = false;
  for (const c of line) {
    if (c === '"') quoted = !quoted;
    else if (!quoted && c in counts) counts[c]!++;
  }
  let best = ',';
  for (const d of [';', '\t']) if (counts[d]! > counts[best]!) best = d;
  return best;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

function ymd(y: number, m: number, d: number): string | null {
  if (!(m >= 1 && m <= 12 && d >= 1 && d <= 31 && y >= 1900 && y <= 2999)) return null;
  const at = new Date(Date.UTC(y, m - 1, d));
  if (at.getUTCMonth() !== m - 1 || at.getUTCDate() !== d) return null;
  return at.toISOString().slice(0, 10);
}

/**
 * A date as YYYY-MM-DD: ISO dates and date-times, `YYYY/MM/DD`, day-first `DD/MM/YYYY` (as
 * South African sites write them; month-first only when the day-first reading is impossible),
 * `15 Mar 2026` and `Mar 15, 2026`. Null when it is none of these.
 */
export function parseDate(raw: string): string | null {
  const text = raw.trim();
  let m = /^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T\s].*)?$/.exec(text);
  if (m) return ymd(Number(m[1]), Number(m[2]), Number(m[3]));
  m = /^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$/.exec(text);
  if (m) {
    const [a, b, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
    return ymd(y, b, a) ?? ymd(y, a, b);
  }
  m = /^(\d{1,2})[\s-]+([a-z]{3})[a-z]*\.?[\s-]+(\d{4})$/i.exec(text);
  if (m) {
    const month = MONTHS.indexOf(m[2]!.toLowerCase());
    return month < 0 ? null : ymd(Number(m[3]), month + 1, Number(m[1]));
  }
  m = /^([a-z]{3})[a-z]*\.?\s+(\d{1,2}),?\s+(\d{4})$/i.exec(text);
  if (m) {
    const month = MONTHS.indexOf(m[1]!.toLowerCase());
    return month < 0 ? null : ymd(Number(m[3]), month + 1, Number(m[2]));
  }
  return null;
}

const NO_PRICE = /^(|-|--|—|n\/?a|null|none|nan|unavailable|out of stock)$/i;

/**
 * A price in any of the ways shops write them: `1299.00`, `R 1 299,00`, `R1,299.00`,
 * `ZAR 1299`, `1.299,00`. A lone separator followed by exactly three digits (`1,299`) could be
 * a thousands separator or decimals: read as thousands, with lower confidence.
 */
export function parsePrice(raw: string): { price: number | null; confidence: number } {
  let text = raw.trim();
  if (NO_PRICE.test(text)) return { price: null, confidence: 0 };
  let negative = false;
  if (/^\(.*\)$/.test(text)) {
    negative = true;
    text = text.slice(1, -1).trim();
  }
  if (text.startsWith('-')) {
    negative = !negative;
    text = text.slice(1).trim();
  }
  text = text
    .replace(/^(?:R|ZAR|USD|EUR|GBP|\$|€|£)\s*/i, '')
    .replace(/\s*(?:R|ZAR|USD|EUR|GBP|\$|€|£)$/i, '');
  if (text.startsWith('-')) {
    negative = !negative;
    text = text.slice(1);
  }
  const compact = text.replace(/[\s\u00a0\u202f\u2009']/g, '');
  if (!/^\d[\d.,]*$/.test(compact) || /[.,]$/.test(compact)) return { price: null, confidence: 0 };
  const lastDot = compact.lastIndexOf('.');
  const lastComma = compact.lastIndexOf(',');
  let whole = compact;
  let fraction = '';
  let confidence = 1;
  if (lastDot >= 0 && lastComma >= 0) {
    const decimal = lastDot > lastComma ? '.' : ',';
    const at = Math.max(lastDot, lastComma);
    whole = compact.slice(0, at);
    fraction = compact.slice(at + 1);
    const thousands = decimal === '.' ? ',' : '.';
    if (whole.includes(decimal) || !validGrouping(whole, thousands)) {
      return { price: null, confidence: 0 };
    }
    whole = whole.split(thousands).join('');
  } else if (lastDot >= 0 || lastComma >= 0) {
    const sep = lastDot >= 0 ? '.' : ',';
    const parts = compact.split(sep);
    if (parts.length > 2) {
      // Repeated: only a thousands separator repeats.
      if (!validGrouping(compact, sep)) return { price: null, confidence: 0 };
      whole = parts.join('');
    } else if (parts[1]!.length === 3 && /^\d{1,3}$/.test(parts[0]!)) {
      whole = parts.join('');
      confidence = AMBIGUOUS_PRICE_CONFIDENCE;
    } else {
      whole = parts[0]!;
      fraction = parts[1]!;
    }
  }
  if (!/^\d+$/.test(whole) || !/^\d*$/.test(fraction)) return { price: null, confidence: 0 };
  const value = Number(fraction ? `${whole}.${fraction}` : whole);
  if (!Number.isFinite(value)) return { price: null, confidence: 0 };
  return { price: negative && value !== 0 ? -value : value, confidence };
}

/** `1,299,000`-style grouping: 1-3 digits, then groups of exactly 3. */
function validGrouping(text: string, separator: string): boolean {
  const groups = text.split(separator);
  return groups.length === 1
    ? /^\d+$/.test(text)
    : /^\d{1,3}$/.test(groups[0]!) && groups.slice(1).every((g) => /^\d{3}$/.test(g));
}

const normalise = (header: string) => header.toLowerCase().replace(/[^a-z]/g, '');
const DATE_HEADER = /date|day|time|when|datum/;
const PRICE_HEADER = /price|amount|value|cost|zar|rand|sellingprice|prijs/;

interface Columns {
  date: number;
  price: number;
  header: boolean;
  ambiguous: boolean;
}

function pick(candidates: number[], names: string[], exact: string[]) {
  const preferred = candidates.filter((i) => exact.includes(names[i]!));
  if (preferred.length === 1) return { index: preferred[0]!, ambiguous: false };
  return { index: candidates[0]!, ambiguous: candidates.length > 1 };
}

function findColumns(first: string[]): Columns | undefined {
  const names = first.map(normalise);
  const dates = names.flatMap((n, i) => (DATE_HEADER.test(n) ? [i] : []));
  const prices = names.flatMap((n, i) => (PRICE_HEADER.test(n) && !dates.includes(i) ? [i] : []));
  if (dates.length > 0 && prices.length > 0) {
    const date = pick(dates, names, ['date', 'day']);
    const price = pick(prices, names, ['price', 'pricezar', 'zar', 'amount']);
    return {
      date: date.index,
      price: price.index,
      header: true,
      ambiguous: date.ambiguous || price.ambiguous,
    };
  }
  if (dates.length > 0 && first.length === 2) {
    // `date,whatever`: the other column must be the price, but that is a guess.
    return { date: dates[0]!, price: dates[0] === 0 ? 1 : 0, header: true, ambiguous: true };
  }
  // No header: the first row is data if one cell is a date and another a price.
  const date = first.findIndex((cell) => parseDate(cell) !== null);
  if (date < 0) return undefined;
  const price = first.findIndex((cell, i) => i !== date && parsePrice(cell).price !== null);
  if (price < 0) return undefined;
  return { date, price, header: false, ambiguous: first.length > 2 };
}

/**
 * Price points from a price-history CSV: header variants (`date,price`, `Date,Price (ZAR)`,
 * or none), `,`/`;`/tab delimiters, quoted fields, currency symbols and thousands separators,
 * blank lines, a byte-order mark. A row with a date but no readable price becomes a point
 * with a null price and confidence 0; a row without a readable date is dropped (and counts
 * against the confidence). The product's confidence is the share of rows read cleanly, times
 * the penalties for a guessed CSV URL, guessed columns or a missing header.
 */
export function parsePriceHistoryCsv(text: string, options: ParseOptions = {}): PriceHistoryParse {
  const issues: string[] = [];
  const note = (issue: string) => {
    if (issues.length < MAX_ISSUES) issues.push(issue);
  };
  const body = text.replace(/^\uFEFF/, '');
  const delimiter = detectDelimiter(body);
  const records = csvRecords(body, delimiter).filter((r) => r.some((cell) => cell.trim() !== ''));
  const empty = (rows: number): PriceHistoryParse => ({
    points: [],
    confidence: 0,
    rows,
    cleanRows: 0,
    usable: false,
    header: false,
    ambiguousColumns: false,
    issues,
  });
  if (records.length === 0) {
    note('no rows');
    return empty(0);
  }
  const columns = findColumns(records[0]!);
  if (!columns) {
    note('no date and price columns');
    return empty(records.length);
  }
  if (columns.ambiguous) note('columns guessed');
  if (!columns.header) note('no header');
  const data = columns.header ? records.slice(1) : records;
  const width = columns.header ? records[0]!.length : undefined;
  const points: PriceHistoryPoint[] = [];
  let cleanRows = 0;
  data.forEach((cells, n) => {
    const line = n + (columns.header ? 2 : 1);
    const date = parseDate(cells[columns.date] ?? '');
    if (date === null) {
      note(`row ${line}: unreadable date "${(cells[columns.date] ?? '').slice(0, 30)}"`);
      return;
    }
    let raw = cells[columns.price] ?? '';
    let cap = 1;
    if (width !== undefined && cells.length > width) {
      // More cells than the header: `2026-01-01,1299,00` or `2026-01-01,1,299` (an unquoted
      // separator split the price), or a shifted row. Either way the reading is a guess.
      cap = AMBIGUOUS_PRICE_CONFIDENCE;
      if (delimiter === ',' && columns.price === width - 1) {
        raw = cells.slice(columns.price).join(',');
      }
    }
    const { price, confidence: read } = parsePrice(raw);
    const confidence = Math.min(read, cap);
    if (price === null) note(`row ${line}: unreadable price "${raw.slice(0, 30)}"`);
    else if (confidence < 1) note(`row ${line}: ambiguous price "${raw.slice(0, 30)}"`);
    if (confidence === 1) cleanRows++;
    points.push({ date, price, confidence });
  });
  const rows = data.length;
  let confidence = rows === 0 ? 0 : cleanRows / rows;
  if (options.linkFound === false) {
    note('CSV not linked from the page');
    confidence *= CONFIDENCE_PENALTIES.missingLink;
  }
  if (columns.ambiguous) confidence *= CONFIDENCE_PENALTIES.ambiguousColumns;
  if (!columns.header) confidence *= CONFIDENCE_PENALTIES.noHeader;
  return {
    points,
    confidence,
    rows,
    cleanRows,
    usable: points.length > 0,
    header: columns.header,
    ambiguousColumns: columns.ambiguous,
    issues,
  };
}

/** First and last date of the points, the range the history covers; undefined when empty. */
export function coveredRange(
  points: readonly { date: string }[],
): { from: string; to: string } | undefined {
  if (points.length === 0) return undefined;
  let from = points[0]!.date;
  let to = from;
  for (const { date } of points) {
    if (date < from) from = date;
    if (date > to) to = date;
  }
  return { from, to };
}
