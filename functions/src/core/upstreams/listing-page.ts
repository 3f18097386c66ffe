/**
 * A listing page of the price site read: the product ids it links for a marketplace, whether
 * it has a next page and whether it lists products at all. Pure: no I/O, no clock.
 */

import { htmlTags, resolve } from './html-scan';

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
