import type { Firestore } from 'firebase-admin/firestore';
import type { PriceHistoryUpsert } from '../../src/adapters/pipeline/price-history-upsert';

/** What the product-pages tests share: two collections, an update, the stored documents. */

export const A = 'collection-a';
export const B = 'collection-b';

/** A takealot product's update: a point at `price` on each day of March 2026 named. */
export function productUpdate(
  key: string,
  collection: string,
  days: number[],
  price: number,
): PriceHistoryUpsert {
  return {
    marketplace: 'takealot',
    key,
    collection,
    identifiers: { plid: key },
    prices: days.map((d) => ({ date: `2026-03-${String(d).padStart(2, '0')}`, price })),
  };
}

/** Every stored products document, and the product ids each holds. */
export async function storedDocuments(
  db: Firestore,
): Promise<Array<{ id: string; keys: string[] }>> {
  const { docs } = await db.collection('products').get();
  return docs.map((doc) => ({
    id: doc.id,
    keys: doc.get('page') === true ? (doc.get('keys') as string[]) : [doc.id],
  }));
}
