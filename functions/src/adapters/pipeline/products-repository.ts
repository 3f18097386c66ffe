import { isDeepStrictEqual } from 'node:util';
import { FieldPath, type Firestore } from 'firebase-admin/firestore';
import { assertWithinLimits } from '../../core/storage/firestore-limits';
import { db as instanceDb } from '../firebase';
import {
  mergeIdentifiers,
  mergePricePoints,
  type PriceHistoryUpsert,
  priceHistoryUpsertSchema,
  type UpsertOutcome,
} from './price-history-upsert';
import { PRODUCTS_PATH, parseProduct, productDocId, type StoredProduct } from './product-documents';

/**
 * The product data the pipeline collects, one document `products/{marketplace}~{key}` in the
 * shape validation reads (the core's `ProductRecord`) plus the collection that gathered it and
 * the time it last changed. Price points are merged by date in a transaction, so a redelivered
 * task writes nothing new and concurrent collectors of one product lose nothing.
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
    const update = priceHistoryUpsertSchema.parse(input);
    const id = productDocId(update.marketplace, update.key);
    const ref = this.db.collection(PRODUCTS_PATH).doc(id);
    return this.db.runTransaction(
      async (tx) => {
        const snapshot = await tx.get(ref);
        const existing = (snapshot.data() ?? {}) as Record<string, unknown>;
        const merged = mergePricePoints(existing.prices, update.prices);
        const { updatedAt: _, ...before } = existing;
        const after: Record<string, unknown> = {
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
        const written = !snapshot.exists || !isDeepStrictEqual(before, after);
        if (written) {
          const data = { ...after, updatedAt: this.now() };
          // A history that outgrew 1 MiB is refused here, naming the product, not by the commit.
          assertWithinLimits(ref.path, data);
          tx.set(ref, data);
        }
        return {
          id,
          created: !snapshot.exists,
          added: merged.added,
          replaced: merged.replaced,
          points: merged.prices.length,
          written,
        };
      },
      { maxAttempts: TRANSACTION_ATTEMPTS },
    );
  }

  async get(marketplace: string, key: string): Promise<StoredProduct | undefined> {
    const snapshot = await this.db
      .collection(PRODUCTS_PATH)
      .doc(productDocId(marketplace, key))
      .get();
    return snapshot.exists ? parseProduct(snapshot) : undefined;
  }

  /**
   * Which of these keys of a marketplace the collection has stored already (one batched read):
   * a re-discovered listing page skips them rather than pay for them again.
   */
  async storedBy(
    collection: string,
    marketplace: string,
    keys: readonly string[],
  ): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    const refs = keys.map((key) =>
      this.db.collection(PRODUCTS_PATH).doc(productDocId(marketplace, key)),
    );
    const snapshots = await this.db.getAll(...refs, { fieldMask: ['collection'] });
    return new Set(
      keys.filter((_, i) => snapshots[i]!.exists && snapshots[i]!.get('collection') === collection),
    );
  }

  /** One page of a marketplace's products in document-id order (no composite index needed). */
  async listByMarketplace(
    marketplace: string,
    { pageSize = 100, startAfter }: { pageSize?: number; startAfter?: string | null } = {},
  ): Promise<ProductPage> {
    let query = this.db
      .collection(PRODUCTS_PATH)
      .where('marketplace', '==', marketplace)
      .orderBy(FieldPath.documentId())
      .limit(pageSize);
    if (startAfter) query = query.startAfter(startAfter);
    const { docs } = await query.get();
    return {
      products: docs.map(parseProduct),
      next: docs.length === pageSize ? docs[docs.length - 1]!.id : null,
    };
  }

  async listByCollection(collection: string): Promise<StoredProduct[]> {
    const { docs } = await this.db
      .collection(PRODUCTS_PATH)
      .where('collection', '==', collection)
      .orderBy(FieldPath.documentId())
      .get();
    return docs.map(parseProduct);
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

/** The instance's repository on the default app's Firestore. */
export function productsRepository(options: ProductsRepositoryOptions = {}) {
  return new ProductsRepository(instanceDb(), options);
}
