import type { Firestore } from 'firebase-admin/firestore';
import { FieldPath } from 'firebase-admin/firestore';
import { chunked } from '../../core/arrays';
import { logger } from '../../log';
import { storeTogetherOrEach } from './product-buffer';
import { PRODUCTS_PATH } from './product-documents';
import { isPage, LOOKUP_CHUNK, productsOf } from './product-pages';
import { ProductsRepository } from './products-repository';

/** Documents read a query while looking for products stored twice. */
const SCAN_PAGE = 100;

/**
 * Folds every product stored on more than one document into one (its points kept), as the
 * next flush touching it would. A restore leaves such copies: it writes the pages of the
 * backup back and keeps the pages written since, where a product may have moved. One scan of
 * `products`; the copies are then stored again through the repository, 30 a transaction.
 * Answers how many products were folded.
 */
export async function foldDuplicateProducts(db: Firestore): Promise<number> {
  const seen = new Map<
    string,
    { marketplace: string; key: string; collection: string; copies: number; own: boolean }
  >();
  let cursor: string | undefined;
  for (;;) {
    let query = db.collection(PRODUCTS_PATH).orderBy(FieldPath.documentId()).limit(SCAN_PAGE);
    if (cursor) query = query.startAfter(cursor);
    const { docs } = await query.get();
    for (const doc of docs) {
      const own = !isPage(doc.data());
      for (const product of productsOf(doc)) {
        const entry = seen.get(product.id);
        // The copy the store keeps first: a product document of its own, else the first page.
        if (!entry || (own && !entry.own)) {
          seen.set(product.id, {
            marketplace: product.marketplace,
            key: product.key,
            collection: product.collection,
            copies: (entry?.copies ?? 0) + 1,
            own,
          });
        } else entry.copies++;
      }
    }
    if (docs.length < SCAN_PAGE) break;
    cursor = docs[docs.length - 1]!.id;
  }
  const twice = [...seen.values()].filter((p) => p.copies > 1);
  const repository = new ProductsRepository(db);
  let failed = 0;
  for (const chunk of chunked(twice, LOOKUP_CHUNK)) {
    // 30 a transaction, or one by one when their pages would not fit one commit.
    const results = await storeTogetherOrEach(
      (updates) => repository.upsertMany(updates),
      chunk.map(({ marketplace, key, collection }) => ({
        marketplace,
        key,
        collection,
        prices: [],
      })),
    );
    failed += results.filter((r) => r.error !== undefined).length;
  }
  if (twice.length > 0) {
    // One not folded now is folded by the next flush that stores it.
    logger.info({ products: twice.length, failed }, 'products stored twice folded');
  }
  return twice.length - failed;
}
