// The product document `products/{marketplace}~{key}`: its id (escaped key), and a stored one
// read leniently into a StoredProduct (a damaged field is a defect for validation, not an error).
import type { DocumentSnapshot, QueryDocumentSnapshot } from 'firebase-admin/firestore';
import { z } from 'zod';
import { isReservedName } from '../../core/storage/firestore-names';
import { type ProductRecord, productRecordSchema } from '../../core/validation';

export const PRODUCTS_PATH = 'products';

/** Read leniently like `productRecordSchema`: a malformed value is a defect, not an error. */
export const storedProductSchema = productRecordSchema.extend({
  collection: z.string().catch(''),
  updatedAt: z.number().catch(0),
  /** The raw payload (payload store id) the latest collection read; gone once cleaned up. */
  rawPayload: z.string().optional().catch(undefined),
});
export type StoredProduct = ProductRecord & {
  id: string;
  collection: string;
  updatedAt: number;
  rawPayload?: string;
};

/**
 * `/` cannot appear in a document id and `%` is the escape; everything else stays readable. An
 * id Firestore reserves (`__x__`: a marketplace starting and a key ending with `__`) gets its
 * last `_` escaped too, which the key's decoding undoes.
 */
export function productDocId(marketplace: string, key: string): string {
  const id = `${marketplace}~${key.replace(/[%/]/g, encodeURIComponent)}`;
  return isReservedName(id) ? `${id.slice(0, -1)}%5F` : id;
}

export function parseProduct(snapshot: QueryDocumentSnapshot | DocumentSnapshot): StoredProduct {
  const data = (snapshot.data() ?? {}) as Record<string, unknown>;
  // The id names the product even when a field is damaged, so it still shows in reports.
  const separator = snapshot.id.indexOf('~');
  const fromId = {
    marketplace: snapshot.id.slice(0, Math.max(separator, 0)) || snapshot.id,
    key: decodeKey(snapshot.id.slice(separator + 1)),
  };
  const parsed = storedProductSchema.parse({
    ...data,
    marketplace: nonEmpty(data.marketplace) ?? fromId.marketplace,
    key: nonEmpty(data.key) ?? fromId.key,
  });
  return { ...parsed, id: snapshot.id };
}

/** The inverse of `productDocId`'s escaping; an id written by other code may not decode. */
function decodeKey(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    return encoded;
  }
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
