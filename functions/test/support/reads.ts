import { DocumentReference, Query, type QuerySnapshot } from 'firebase-admin/firestore';

/**
 * Counts the documents this process reads from Firestore, as Firestore bills them: each query
 * (collection reads included) by the documents it returns, at least one; each document get as
 * one. Wraps `Query.prototype.get` and `DocumentReference.prototype.get` for every Firestore
 * instance until `restore()`; counts documents, never time.
 */
export interface ReadRecorder {
  /** Documents read since the recorder started (or was reset). */
  readonly documents: number;
  /** Each query run: its collection and the documents it returned. */
  readonly queries: ReadonlyArray<{ collection: string; documents: number }>;
  reset(): void;
  restore(): void;
}

export function recordReads(): ReadRecorder {
  let documents = 0;
  let queries: Array<{ collection: string; documents: number }> = [];
  const queryGet = Query.prototype.get;
  const docGet = DocumentReference.prototype.get;
  Query.prototype.get = async function (this: Query): Promise<QuerySnapshot> {
    const snapshot = await queryGet.call(this);
    // biome-ignore lint/suspicious/noExplicitAny: the query's collection id is not public API
    const collection = String((this as any)._queryOptions?.collectionId ?? '?');
    queries.push({ collection, documents: snapshot.size });
    documents += Math.max(1, snapshot.size);
    return snapshot;
  };
  DocumentReference.prototype.get = function (this: DocumentReference) {
    documents += 1;
    return docGet.call(this);
  };
  return {
    get documents() {
      return documents;
    },
    get queries() {
      return queries;
    },
    reset() {
      documents = 0;
      queries = [];
    },
    restore() {
      Query.prototype.get = queryGet;
      DocumentReference.prototype.get = docGet;
    },
  };
}
