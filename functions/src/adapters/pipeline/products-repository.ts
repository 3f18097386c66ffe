import { FieldPath, type Firestore } from 'firebase-admin/firestore';
import { chunked } from '../../core/arrays';
import { db as instanceDb } from '../firebase';
import {
  type PriceHistoryUpsert,
  priceHistoryUpsertSchema,
  type UpsertOutcome,
} from './price-history-upsert';
import { PRODUCTS_PATH, productDocId, type StoredProduct } from './product-documents';
import { LOOKUP_CHUNK, MAX_PAGE_ENTRIES, productsOf } from './product-pages';
import { storeProducts } from './product-store';

/**
 * The product data the pipeline collects, in the shape validation reads (the core's
 * `ProductRecord`) plus the collection that gathered it and the time it last changed. Products
 * are stored several to a document (`product-pages.ts`): a flush of many collected products is
 * one write. Documents of one product each (`products/{marketplace}~{key}`, written before
 * pages) are still read and updated in place. Price points are merged by date in a
 * transaction, so a redelivered task writes nothing new and concurrent collectors of one
 * product lose nothing.
 */

/** Price points arrive from several tasks at once for popular products. */
const TRANSACTION_ATTEMPTS = 10;

export interface ProductPage {
  products: StoredProduct[];
  /** Pass as `startAfter` for the next page; null after the last one. */
  next: string | null;
}

export interface ProductsRepositoryOptions {
  now?: () => number;
}

export class ProductsRepository {
  private readonly now: () => number;

  constructor(
    private readonly db: Firestore,
    options: ProductsRepositoryOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Merges price points into a product's history by date (a new price for a known date
   * replaces the old one: re-collections correct bad data) and writes only when something
   * changed, so delivering the same data twice is a no-op.
   */
  async upsertPriceHistory(input: PriceHistoryUpsert): Promise<UpsertOutcome> {
    const [outcome] = await this.upsertMany([input]);
    return outcome!;
  }

  /**
   * Several upserts in one transaction (in order; one product may come more than once): new
   * products share pages, so the whole batch costs a write per page it changes. All or
   * nothing: an invalid input is refused before anything is read.
   */
  async upsertMany(inputs: readonly PriceHistoryUpsert[]): Promise<UpsertOutcome[]> {
    const updates = inputs.map((input) => priceHistoryUpsertSchema.parse(input));
    if (updates.length === 0) return [];
    return this.db.runTransaction((tx) => storeProducts(tx, this.db, updates, this.now()), {
      maxAttempts: TRANSACTION_ATTEMPTS,
    });
  }

  async get(marketplace: string, key: string): Promise<StoredProduct | undefined> {
    const id = productDocId(marketplace, key);
    const [own, pages] = await Promise.all([
      this.db.collection(PRODUCTS_PATH).doc(id).get(),
      this.db.collection(PRODUCTS_PATH).where('keys', 'array-contains', id).get(),
    ]);
    const found = [own, ...pages.docs].flatMap(productsOf).filter((p) => p.id === id);
    return found[0];
  }

  /**
   * Which of these keys of a marketplace the collection has stored already: a re-discovered
   * listing page skips them rather than pay for them again. Pages are found 30 keys a query.
   */
  async storedBy(
    collection: string,
    marketplace: string,
    keys: readonly string[],
  ): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    const ids = keys.map((key) => productDocId(marketplace, key));
    const own = await this.db.getAll(
      ...ids.map((id) => this.db.collection(PRODUCTS_PATH).doc(id)),
      {
        fieldMask: ['collection', 'page'],
      },
    );
    const stored = new Set(
      own.filter((s) => s.exists && s.get('collection') === collection).map((s) => s.id),
    );
    for (const chunk of chunked(ids, LOOKUP_CHUNK)) {
      // Filtered here, not by the query: `array-contains-any` with another field needs an index.
      const pages = await this.db
        .collection(PRODUCTS_PATH)
        .where('keys', 'array-contains-any', chunk)
        .select('keys', 'collection')
        .get();
      for (const page of pages.docs) {
        if (page.get('collection') !== collection) continue;
        for (const id of page.get('keys') as string[]) stored.add(id);
      }
    }
    return new Set(keys.filter((_, i) => stored.has(ids[i]!)));
  }

  /**
   * One page of a marketplace's products in document-id order (no composite index needed): at
   * most `pageSize` products (whole documents: a page holds up to 30), at least one document.
   */
  async listByMarketplace(
    marketplace: string,
    { pageSize = 100, startAfter }: { pageSize?: number; startAfter?: string | null } = {},
  ): Promise<ProductPage> {
    const documents = Math.max(1, Math.floor(pageSize / MAX_PAGE_ENTRIES));
    let query = this.db
      .collection(PRODUCTS_PATH)
      .where('marketplace', '==', marketplace)
      .orderBy(FieldPath.documentId())
      .limit(documents);
    if (startAfter) query = query.startAfter(startAfter);
    const { docs } = await query.get();
    return {
      products: docs.flatMap(productsOf).sort(byId),
      next: docs.length === documents ? docs[docs.length - 1]!.id : null,
    };
  }

  async listByCollection(collection: string): Promise<StoredProduct[]> {
    const { docs } = await this.db
      .collection(PRODUCTS_PATH)
      .where('collection', '==', collection)
      .orderBy(FieldPath.documentId())
      .get();
    return docs.flatMap(productsOf).sort(byId);
  }

  /**
   * Every marketplace that has products, sorted. Firestore has no DISTINCT, so this skips from
   * one value to the next: one single-document read per marketplace, whatever the product count.
   */
  async marketplaces(): Promise<string[]> {
    const found: string[] = [];
    const products = this.db.collection(PRODUCTS_PATH);
    for (;;) {
      const last = found[found.length - 1];
      const base = last === undefined ? products : products.where('marketplace', '>', last);
      const { docs } = await base.orderBy('marketplace').select('marketplace').limit(1).get();
      const next = docs[0]?.get('marketplace');
      if (typeof next !== 'string') return found;
      found.push(next);
    }
  }
}

function byId(a: StoredProduct, b: StoredProduct): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The instance's repository on the default app's Firestore. */
export function productsRepository(options: ProductsRepositoryOptions = {}) {
  return new ProductsRepository(instanceDb(), options);
}
