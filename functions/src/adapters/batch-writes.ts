import type { DocumentData, DocumentReference, Firestore } from 'firebase-admin/firestore';
import { MAX_BATCH_WRITES } from './write-buffer';

/** A set (with `data`) or a delete (without). */
export interface BatchWrite {
  ref: DocumentReference;
  data?: DocumentData;
}

/**
 * Commits `writes` in batches of at most `size` (Firestore's 500 by default), one after
 * another, so a failure part way leaves the earlier batches written; `onCommitted` hears the
 * size of each batch that committed. Answers how many batches were committed.
 */
export async function commitInBatches(
  db: Firestore,
  writes: readonly BatchWrite[],
  options: { size?: number; onCommitted?: (writes: number) => void } = {},
): Promise<number> {
  const size = options.size ?? MAX_BATCH_WRITES;
  let batches = 0;
  for (let i = 0; i < writes.length; i += size) {
    const chunk = writes.slice(i, i + size);
    const batch = db.batch();
    for (const { ref, data } of chunk) {
      if (data) batch.set(ref, data);
      else batch.delete(ref);
    }
    await batch.commit();
    batches++;
    options.onCommitted?.(chunk.length);
  }
  return batches;
}
