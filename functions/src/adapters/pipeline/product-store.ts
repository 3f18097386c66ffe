// One transaction storing many price-history upserts: each merged into its product wherever it
// is stored (a page, or a product document of its own), new products gathered into new pages.
import { isDeepStrictEqual } from 'node:util';
import type {
  CollectionReference,
  DocumentReference,
  Firestore,
  Transaction,
} from 'firebase-admin/firestore';
import { chunked } from '../../core/arrays';
import { assertWithinLimits } from '../../core/storage/firestore-limits';
import { documentSize } from '../../core/storage/firestore-storage-size';
import {
  mergeIdentifiers,
  mergePricePoints,
  type PriceHistoryUpdate,
  type PriceHistoryUpsert,
  type UpsertOutcome,
} from './price-history-upsert';
import { PRODUCTS_PATH, productDocId } from './product-documents';
import {
  isPage,
  LOOKUP_CHUNK,
  MAX_PAGE_ENTRIES,
  newPageId,
  PAGE_MAX_BYTES,
  PAGE_TARGET_BYTES,
  pageBytes,
  pageData,
  pageEntries,
} from './product-pages';

type Entry = Record<string, unknown>;

/**
 * The most one flush writes in a commit. Firestore takes 10 MiB a request; the local emulator's
 * gRPC server 4 MiB. Pages are written up to 256 KiB and grow to 960 KiB at most.
 */
const MAX_COMMIT_BYTES = 3 * 1024 * 1024;

/** A batch whose writes would not fit one commit: store its products one by one. */
export class FlushTooLargeError extends Error {
  constructor(readonly bytes: number) {
    super(`a flush of ${bytes} bytes is more than one commit carries`);
    this.name = 'FlushTooLargeError';
  }
}

interface StoredPage {
  ref: DocumentReference;
  marketplace: string;
  collection: string;
  entries: Map<string, Entry>;
  dirty: boolean;
}

/** Where a product is stored now: a page, a product document of its own, or (new) nowhere yet. */
type Place = { page: StoredPage } | { own: DocumentReference } | { fresh: string };

/**
 * Reads where each product is stored (pages found by `keys array-contains-any`, product
 * documents by id), merges every update in order, and writes each changed document once: pages
 * whole, new products as new pages per collection and marketplace, packed to PAGE_TARGET_BYTES.
 * A product whose collection changed moves to a page of its new collection, so a page's
 * `size` is what its collection stored. A product found on two pages (two flushes that created
 * it at once) is folded into one.
 */
export async function storeProducts(
  tx: Transaction,
  db: Firestore,
  updates: PriceHistoryUpdate[],
  nowMs: number,
): Promise<UpsertOutcome[]> {
  const products = db.collection(PRODUCTS_PATH);
  const ids = [...new Set(updates.map((u) => productDocId(u.marketplace, u.key)))];
  const pages = new Map<string, StoredPage>();
  for (const chunk of chunked(ids, LOOKUP_CHUNK)) {
    const found = await tx.get(
      db.collection(PRODUCTS_PATH).where('keys', 'array-contains-any', chunk),
    );
    for (const doc of found.docs) {
      const data = doc.data();
      if (!isPage(data) || pages.has(doc.id)) continue;
      pages.set(doc.id, {
        ref: doc.ref,
        marketplace: String(data.marketplace),
        collection: String(data.collection),
        entries: pageEntries(data),
        dirty: false,
      });
    }
  }
  const own = await tx.getAll(...ids.map((id) => products.doc(id)));
  const owned = new Map(own.filter((s) => s.exists && !isPage(s.data())).map((s) => [s.id, s]));

  const places = new Map<string, Place>();
  const current = new Map<string, Entry>();
  const ownWrites = new Map<string, { ref: DocumentReference; data: Entry }>();
  /** Products found twice: written whatever the update brings, so the copies' points stay. */
  const folded = new Set<string>();
  const ordered = [...pages.values()].sort((a, b) => (a.ref.id < b.ref.id ? -1 : 1));
  for (const id of ids) {
    const snapshot = owned.get(id);
    if (snapshot) {
      places.set(id, { own: snapshot.ref });
      current.set(id, snapshot.data() as Entry);
    }
    for (const page of ordered) {
      const entry = page.entries.get(id);
      if (!entry) continue;
      const place = places.get(id);
      if (place) {
        // A second copy (two flushes that created it at once, a restore, a product document
        // of its own written before pages): its points join the first, and it leaves its page.
        const first = current.get(id)!;
        current.set(id, {
          ...first,
          prices: mergePricePoints(first.prices, pointsOf(entry)).prices,
        });
        page.entries.delete(id);
        page.dirty = true;
        folded.add(id);
      } else {
        places.set(id, { page });
        current.set(id, entry);
      }
    }
  }

  /** New pages' products, by collection and marketplace. */
  const fresh = new Map<string, Map<string, Entry>>();
  const addFresh = (group: string, id: string, entry: Entry) => {
    if (!fresh.has(group)) fresh.set(group, new Map());
    fresh.get(group)!.set(id, entry);
  };
  const outcomes = updates.map((update) => {
    const id = productDocId(update.marketplace, update.key);
    const place = places.get(id);
    const existing = current.get(id) ?? {};
    const merged = mergePricePoints(existing.prices, update.prices);
    const { updatedAt: _, ...before } = existing;
    const after: Entry = {
      ...before,
      marketplace: update.marketplace,
      key: update.key,
      collection: update.collection,
      identifiers: mergeIdentifiers(existing.identifiers, update.identifiers),
      prices: merged.prices,
    };
    if (update.confidence !== undefined) after.confidence = update.confidence;
    if (update.rawPayload !== undefined) after.rawPayload = update.rawPayload;
    if (update.expectedRange) after.expectedRange = update.expectedRange;
    const created = place === undefined;
    const moved =
      place !== undefined && 'page' in place && place.page.collection !== update.collection;
    const written = created || moved || folded.has(id) || !isDeepStrictEqual(before, after);
    if (written) {
      const entry = { ...after, updatedAt: nowMs };
      current.set(id, entry);
      if (place && 'own' in place) {
        assertWithinLimits(place.own.path, entry);
        ownWrites.set(id, { ref: place.own, data: entry });
      } else if (place && 'page' in place && !moved) {
        place.page.entries.set(id, entry);
        place.page.dirty = true;
      } else {
        if (place && 'page' in place) {
          place.page.entries.delete(id);
          place.page.dirty = true;
        }
        if (place && 'fresh' in place) fresh.get(place.fresh)!.delete(id);
        const group = JSON.stringify([update.marketplace, update.collection]);
        addFresh(group, id, entry);
        places.set(id, { fresh: group });
      }
    }
    return {
      id,
      created,
      added: merged.added,
      replaced: merged.replaced,
      points: merged.prices.length,
      written,
    };
  });

  const writes: Array<{ ref: DocumentReference; data?: Entry; create?: boolean }> = [];
  for (const page of pages.values()) {
    if (!page.dirty) continue;
    // A page that grew too large keeps its other products; those written now move out.
    let data = pageData(page.marketplace, page.collection, page.entries);
    if (page.entries.size > 0 && pageBytes(page.ref.path, data) > PAGE_MAX_BYTES) {
      const group = JSON.stringify([page.marketplace, page.collection]);
      for (const update of updates) {
        const id = productDocId(update.marketplace, update.key);
        const entry = page.entries.get(id);
        if (!entry) continue;
        page.entries.delete(id);
        addFresh(group, id, entry);
      }
      data = pageData(page.marketplace, page.collection, page.entries);
    }
    writes.push(
      page.entries.size === 0
        ? { ref: page.ref }
        : { ref: page.ref, data: data as unknown as Entry },
    );
  }
  for (const { ref, data } of ownWrites.values()) writes.push({ ref, data });
  for (const [group, entries] of fresh) {
    const [marketplace, collection] = JSON.parse(group) as [string, string];
    for (const packed of pack(products, marketplace, collection, entries)) {
      writes.push({ ref: packed.ref, data: packed.data as unknown as Entry, create: true });
    }
  }
  // Grown pages are rewritten whole: a batch touching many could pass what one commit may
  // carry. Refused here, so the caller stores its products one by one instead.
  const bytes = writes.reduce((sum, w) => sum + (w.data ? documentSize(w.ref.path, w.data) : 0), 0);
  if (updates.length > 1 && bytes > MAX_COMMIT_BYTES) throw new FlushTooLargeError(bytes);
  for (const { ref, data, create } of writes) {
    if (!data) tx.delete(ref);
    else if (create) tx.create(ref, data);
    else tx.set(ref, data);
  }
  return outcomes;
}

function pointsOf(entry: Entry): PriceHistoryUpsert['prices'] {
  return Array.isArray(entry.prices) ? (entry.prices as PriceHistoryUpsert['prices']) : [];
}

/**
 * New pages for a group's products, each filled up to PAGE_TARGET_BYTES. A product too large
 * for a page of its own is refused with the product named, before anything is committed.
 */
function pack(
  products: CollectionReference,
  marketplace: string,
  collection: string,
  entries: Map<string, Entry>,
) {
  const out: Array<{ ref: DocumentReference; data: ReturnType<typeof pageData> }> = [];
  let open = new Map<string, Entry>();
  let ref = products.doc(newPageId(marketplace));
  const close = () => {
    if (open.size > 0) out.push({ ref, data: pageData(marketplace, collection, open) });
    open = new Map();
    ref = products.doc(newPageId(marketplace));
  };
  for (const [id, entry] of entries) {
    const alone = pageData(marketplace, collection, new Map([[id, entry]]));
    if (pageBytes(ref.path, alone) > PAGE_MAX_BYTES) {
      assertWithinLimits(products.doc(id).path, entry);
      assertWithinLimits(ref.path, alone as unknown as Entry);
    }
    if (open.size >= MAX_PAGE_ENTRIES) close();
    open.set(id, entry);
    if (
      open.size > 1 &&
      pageBytes(ref.path, pageData(marketplace, collection, open)) > PAGE_TARGET_BYTES
    ) {
      open.delete(id);
      close();
      open.set(id, entry);
    }
  }
  close();
  return out;
}
