import { AggregateField, type Firestore, type Query } from 'firebase-admin/firestore';
import { PRODUCTS_PATH } from './product-documents';

/**
 * Products stored (of a collection and marketplace, or all): the pages' `size` summed, plus
 * the documents of one product each, in two aggregation queries whatever the product count.
 */
export async function storedCount(
  db: Firestore,
  collection?: string,
  marketplace?: string,
): Promise<number> {
  let query: Query = db.collection(PRODUCTS_PATH);
  if (collection !== undefined) query = query.where('collection', '==', collection);
  if (marketplace !== undefined) query = query.where('marketplace', '==', marketplace);
  const [all, pages] = await Promise.all([
    query
      .aggregate({ documents: AggregateField.count(), products: AggregateField.sum('size') })
      .get(),
    query.where('page', '==', true).count().get(),
  ]);
  const { documents, products } = all.data();
  // Documents that are not pages each hold one product.
  return (products ?? 0) + documents - pages.data().count;
}
