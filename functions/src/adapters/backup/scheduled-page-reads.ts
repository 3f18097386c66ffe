import type { Firestore, Query, QueryDocumentSnapshot } from 'firebase-admin/firestore';
import { RESTORABLE_SUBCOLLECTIONS } from '../../core/backup/backup-scope';
import type { BackupMap } from '../../core/backup/backup-value-model';
import { TARGET_PAGE_BYTES } from '../../core/backup/scheduled-layout';
import { documentSize } from '../../core/storage/firestore-storage-size';
import { paceFirestoreWork } from '../storage/self-quota-runtime';
import { fromFirestoreMap } from './backup-values';

/**
 * What a scheduled backup reads: Firestore's documents a page at a time, each page sized to the
 * backup's page target, collection by collection with the subcollections a restore writes.
 */

// ---- Reading Firestore a page at a time ------------------------------------------------------

export interface ReadDocument {
  path: string;
  data: BackupMap;
}

/** The largest document size a scheduled backup's read has seen (per run). */
export interface SizeSeen {
  largest: number;
}

/**
 * The documents of `query`, a page at a time in document-name order (the cursor is the last
 * document read). Pages hold at most `pageSize` documents, fewer when documents are large: the
 * next page's limit aims at TARGET_PAGE_BYTES from the sizes just read, at most doubles from
 * page to page, and is at most TARGET_PAGE_BYTES / the largest document the run has seen.
 * A query cannot be limited by bytes: a run of large documents right after many small ones can
 * still make one answer (at most twice the previous page's count) larger than the target.
 * Each page is paced by the Firestore self-quota (adapters/storage/self-quota-runtime.ts).
 */
async function* queryPages(
  db: Firestore,
  query: Query,
  pageSize: number,
  seen: SizeSeen,
): AsyncGenerator<ReadDocument[]> {
  const cap = () => Math.floor(TARGET_PAGE_BYTES / Math.max(1, seen.largest));
  let limit = Math.max(1, Math.min(pageSize, 50, cap()));
  let last: QueryDocumentSnapshot | undefined;
  for (;;) {
    await paceFirestoreWork(db, 'backup');
    const page = last ? query.startAfter(last).limit(limit) : query.limit(limit);
    const snapshot = await page.get();
    if (snapshot.empty) return;
    let bytes = 0;
    const docs = snapshot.docs.map((doc) => {
      const data = doc.data();
      const size = documentSize(doc.ref.path, data);
      bytes += size;
      if (size > seen.largest) seen.largest = size;
      return { path: doc.ref.path, data: fromFirestoreMap(data, doc.ref.path) };
    });
    yield docs;
    if (snapshot.size < limit) return;
    last = snapshot.docs.at(-1)!;
    const fit = Math.floor((limit * TARGET_PAGE_BYTES) / Math.max(1, bytes));
    limit = Math.max(1, Math.min(pageSize, fit, limit * 2, cap()));
  }
}

/** A top-level collection's documents, then those of the subcollections a restore writes. */
export async function* collectionPages(
  db: Firestore,
  collection: string,
  pageSize: number,
  seen: SizeSeen,
): AsyncGenerator<ReadDocument[]> {
  yield* queryPages(db, db.collection(collection), pageSize, seen);
  const subcollections = RESTORABLE_SUBCOLLECTIONS[collection] ?? [];
  if (subcollections.length === 0) return;
  // Parents without a document of their own still have their subcollections read.
  const parents = await db.collection(collection).listDocuments();
  for (const parent of parents) {
    for (const sub of subcollections) {
      yield* queryPages(db, parent.collection(sub), pageSize, seen);
    }
  }
}
