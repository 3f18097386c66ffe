// The findings of a validation run (`validationRuns/{runId}/findings/{productDoc}`): the document
// of a failing product, and the clean-up of findings a rerun no longer has.
import {
  type DocumentData,
  type DocumentReference,
  FieldPath,
  type Firestore,
} from 'firebase-admin/firestore';
import type { Finding } from '../../core/validation';
import type { StoredProduct } from '../pipeline/product-documents';
import { commitInBatches } from '../storage/batch-writes';
import { paceFirestoreWork } from '../storage/self-quota-runtime';
import type { Scheduled } from './fix-scheduler';

export const FINDINGS_COLLECTION = 'findings';

/** Firestore's limit on writes per batch. */
const BATCH_LIMIT = 500;

export function findingDocument(
  runId: string,
  product: StoredProduct,
  found: Finding[],
  fix: { id: string } & Scheduled,
  maxExamples: number,
): DocumentData {
  return {
    runId,
    product: product.id,
    marketplace: product.marketplace,
    productKey: product.key,
    collection: product.collection,
    rules: found.map((f) => f.rule),
    findings: found.map(({ rule, count, examples }) => ({
      rule,
      count,
      examples: examples.slice(0, maxExamples),
    })),
    fix,
  };
}

/** Deletes the findings of an earlier attempt of this run that this attempt did not write. */
export async function deleteStaleFindings(
  db: Firestore,
  runRef: DocumentReference,
  keep: Set<string>,
) {
  const stale: Array<{ ref: DocumentReference }> = [];
  let cursor: string | undefined;
  for (;;) {
    await paceFirestoreWork(db, 'validation');
    let query = runRef
      .collection(FINDINGS_COLLECTION)
      .orderBy(FieldPath.documentId())
      .select()
      .limit(BATCH_LIMIT);
    if (cursor) query = query.startAfter(cursor);
    const { docs } = await query.get();
    for (const doc of docs) if (!keep.has(doc.id)) stale.push({ ref: doc.ref });
    if (docs.length < BATCH_LIMIT) break;
    cursor = docs[docs.length - 1]!.id;
  }
  await commitInBatches(db, stale);
}
