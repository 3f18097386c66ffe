import type { DocumentData, DocumentReference, Firestore } from 'firebase-admin/firestore';
import { planBatches } from '../../core/storage/batch-plan';
import { utf8Length } from '../../core/storage/firestore-names';
import { paceFirestoreWork } from './self-quota-runtime';
import { MAX_BATCH_WRITES } from './write-buffer-types';

/**
 * Writes of each commit a wrapped Firestore adds itself (an audited Firestore adds its audit
 * entry), set as a property under this symbol on the wrapper: commitInBatches leaves room for
 * them, so a batch of 500 through an audited Firestore does not become a refused commit of 501.
 */
export const RESERVED_COMMIT_WRITES = Symbol.for('tollgate.reservedCommitWrites');

/** What a Firestore's commits may hold of the caller's own writes. */
export function commitCapacity(db: Firestore): number {
  const reserved = (db as unknown as Record<symbol, unknown>)[RESERVED_COMMIT_WRITES];
  return MAX_BATCH_WRITES - (typeof reserved === 'number' ? reserved : 0);
}

/** A set (with `data`) or a delete (without). */
export interface BatchWrite {
  ref: DocumentReference;
  data?: DocumentData;
}

/**
 * Commits `writes` in batches of at most `size` (Firestore's 500 by default, less what the
 * Firestore adds to each commit: see RESERVED_COMMIT_WRITES), one after
 * another, so a failure part way leaves the earlier batches written; `onCommitted` hears the
 * size of each batch that committed. Answers how many batches were committed. With
 * `maxPathBytes`, a batch's document paths also add up to at most that many bytes (for a
 * commit whose audit entry lists them: the entry must stay within Firestore's 1 MiB). Between
 * batches it paces itself by the Firestore self-quota (a short pause only while it is busy).
 */
export async function commitInBatches(
  db: Firestore,
  writes: readonly BatchWrite[],
  options: { size?: number; maxPathBytes?: number; onCommitted?: (writes: number) => void } = {},
): Promise<number> {
  const size = Math.min(options.size ?? MAX_BATCH_WRITES, commitCapacity(db));
  const chunks = planBatches(
    writes,
    size,
    options.maxPathBytes ?? Number.POSITIVE_INFINITY,
    (w) => utf8Length(w.ref.path) + 1,
  );
  let batches = 0;
  for (const chunk of chunks) {
    if (batches > 0) await paceFirestoreWork(db, 'batch');
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
