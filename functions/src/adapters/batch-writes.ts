import type { DocumentData, DocumentReference, Firestore } from 'firebase-admin/firestore';
import { planBatches, utf8Length } from '../core/firestore-limits';
import { MAX_BATCH_WRITES } from './write-buffer';

/** A set (with `data`) or a delete (without). */
export interface BatchWrite {
  ref: DocumentReference;
  data?: DocumentData;
}

/**
 * Commits `writes` in batches of at most `size` (Firestore's 500 by default), one after
 * another, so a failure part way leaves the earlier batches written; `onCommitted` hears the
 * size of each batch that committed. Answers how many batches were committed. With
 * `maxPathBytes`, a batch's document paths also add up to at most that many bytes (for a
 * commit whose audit entry lists them: the entry must stay within Firestore's 1 MiB).
 */
export async function commitInBatches(
  db: Firestore,
  writes: readonly BatchWrite[],
  options: { size?: number; maxPathBytes?: number; onCommitted?: (writes: number) => void } = {},
): Promise<number> {
  const size = options.size ?? MAX_BATCH_WRITES;
  const chunks = planBatches(
    writes,
    size,
    options.maxPathBytes ?? Number.POSITIVE_INFINITY,
    (w) => utf8Length(w.ref.path) + 1,
  );
  let batches = 0;
  for (const chunk of chunks) {
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
