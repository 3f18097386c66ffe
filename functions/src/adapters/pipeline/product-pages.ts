// Product pages: several products of one collection and marketplace in one document of
// `products`, so a flush of many collected products is one write, not one per product.
import { randomUUID } from 'node:crypto';
import type { DocumentSnapshot, QueryDocumentSnapshot } from 'firebase-admin/firestore';
import { documentSize } from '../../core/storage/firestore-storage-size';
import { parseProduct, type StoredProduct, storedProductSchema } from './product-documents';

/**
 * A page document: `{page: true, marketplace, collection, keys, size, entries}`. `entries` holds
 * each product as a product document would (marketplace, key, collection, identifiers, prices,
 * confidence, rawPayload, expectedRange, updatedAt); `keys[i]` is entry i's product id
 * (`productDocId`), which `array-contains` finds; `size` is the entry count, which progress sums.
 */
export interface PageData {
  page: true;
  marketplace: string;
  collection: string;
  keys: string[];
  size: number;
  entries: Record<string, unknown>[];
}

/** A page is written with room to grow: re-collections add points to its products later. */
export const PAGE_TARGET_BYTES = 256 * 1024;
/** A page written past this moves the products that grew to a new page (Firestore takes 1 MiB). */
export const PAGE_MAX_BYTES = 960 * 1024;
/** Products one flush looks up at once: Firestore's `array-contains-any` takes 30 values. */
export const LOOKUP_CHUNK = 30;
/** Products a new page holds at most: listings bound what one read returns by it. */
export const MAX_PAGE_ENTRIES = 30;

export function isPage(data: Record<string, unknown> | undefined): boolean {
  return data?.page === true && Array.isArray(data.entries) && Array.isArray(data.keys);
}

/**
 * A new page's id. Product ids are `{marketplace}~{key}` with `%` escaped as `%25`, so `%page`
 * can never be one.
 */
export function newPageId(marketplace: string): string {
  return `${marketplace}~%page-${randomUUID()}`;
}

export function pageData(
  marketplace: string,
  collection: string,
  entries: ReadonlyMap<string, Record<string, unknown>>,
): PageData {
  return {
    page: true,
    marketplace,
    collection,
    keys: [...entries.keys()],
    size: entries.size,
    entries: [...entries.values()],
  };
}

export function pageBytes(path: string, data: PageData): number {
  return documentSize(path, data as unknown as Record<string, unknown>);
}

/** A page's entries by product id (a malformed entry is skipped: it names no product). */
export function pageEntries(data: Record<string, unknown>): Map<string, Record<string, unknown>> {
  const keys = data.keys as unknown[];
  const entries = data.entries as unknown[];
  const out = new Map<string, Record<string, unknown>>();
  keys.forEach((id, i) => {
    const entry = entries[i];
    if (typeof id === 'string' && entry && typeof entry === 'object') {
      out.set(id, entry as Record<string, unknown>);
    }
  });
  return out;
}

/** The products a document holds: a page's entries, or the one product of a product document. */
export function productsOf(snapshot: QueryDocumentSnapshot | DocumentSnapshot): StoredProduct[] {
  const data = snapshot.data();
  if (!isPage(data)) return snapshot.exists ? [parseProduct(snapshot)] : [];
  const page = data as Record<string, unknown>;
  return [...pageEntries(page)].map(([id, entry]) => ({
    ...storedProductSchema.parse({
      ...entry,
      marketplace: entry.marketplace ?? page.marketplace,
      collection: entry.collection ?? page.collection,
    }),
    id,
  }));
}

/** Products a document counts for its collection's progress. */
export function productsInDocument(data: Record<string, unknown> | undefined): number {
  return isPage(data) ? (data!.keys as unknown[]).length : 1;
}
