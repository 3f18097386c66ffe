import { badRequest } from './errors.ts';

// Object listing as GCS does it: names in UTF-8 byte order, `prefix` filter, `delimiter`
// folding names into `prefixes`, and pages of at most `maxResults` entries where items and
// prefixes both count. The page token is opaque to clients; ours records the last entry.

export interface ListQuery {
  prefix?: string;
  delimiter?: string;
  maxResults?: number;
  pageToken?: string;
  startOffset?: string;
  endOffset?: string;
  includeTrailingDelimiter?: boolean;
}

export interface ListPage<T> {
  items: T[];
  prefixes: string[];
  nextPageToken?: string;
}

const MAX_RESULTS = 1000;

interface Cursor {
  /** Last entry returned: an object name, or a prefix when `prefix` is true. */
  last: string;
  prefix: boolean;
}

export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

export function listPage<T extends { name: string }>(all: Iterable<T>, q: ListQuery): ListPage<T> {
  const prefix = q.prefix ?? '';
  const delimiter = q.delimiter || undefined;
  const max = Math.min(q.maxResults ?? MAX_RESULTS, MAX_RESULTS);
  if (!(max > 0)) throw badRequest('Invalid value for maxResults.');
  const cursor = q.pageToken ? decodeToken(q.pageToken) : undefined;

  const candidates = [...all]
    .filter(
      (o) =>
        o.name.startsWith(prefix) &&
        (q.startOffset === undefined || compareNames(o.name, q.startOffset) >= 0) &&
        (q.endOffset === undefined || compareNames(o.name, q.endOffset) < 0) &&
        !(cursor && isBeforeOrAt(o.name, cursor)),
    )
    .sort((a, b) => compareNames(a.name, b.name));

  const page: ListPage<T> = { items: [], prefixes: [] };
  let entries = 0;
  let last: Cursor | undefined;
  for (const o of candidates) {
    const folded = delimiter ? foldedPrefix(o.name, prefix, delimiter) : undefined;
    if (folded !== undefined && folded === page.prefixes.at(-1)) continue;
    if (entries === max) {
      page.nextPageToken = encodeToken(last!);
      break;
    }
    entries++;
    if (folded === undefined) {
      page.items.push(o);
      last = { last: o.name, prefix: false };
    } else {
      page.prefixes.push(folded);
      // An object named exactly like the prefix ("dir/") is listed as an item too on request.
      if (q.includeTrailingDelimiter && o.name === folded) page.items.push(o);
      last = { last: folded, prefix: true };
    }
  }
  return page;
}

function foldedPrefix(name: string, prefix: string, delimiter: string): string | undefined {
  const at = name.indexOf(delimiter, prefix.length);
  return at < 0 ? undefined : name.slice(0, at + delimiter.length);
}

function isBeforeOrAt(name: string, c: Cursor): boolean {
  return compareNames(name, c.last) <= 0 || (c.prefix && name.startsWith(c.last));
}

function encodeToken(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

function decodeToken(token: string): Cursor {
  try {
    const c = JSON.parse(Buffer.from(token, 'base64url').toString()) as Cursor;
    if (typeof c.last === 'string' && typeof c.prefix === 'boolean') return c;
  } catch {
    // fall through to the API's error
  }
  throw badRequest('Invalid page token.');
}
