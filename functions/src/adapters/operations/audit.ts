import {
  type DocumentData,
  type DocumentReference,
  type Firestore,
  type SetOptions,
  Timestamp,
  type Transaction,
  type WriteBatch,
} from 'firebase-admin/firestore';
import {
  type Actor,
  AUDIT_LOG_COLLECTION,
  type AuditRecord,
  auditFields,
  type CallableName,
} from '../../core/operations';
import { RESERVED_COMMIT_WRITES } from '../storage/batch-writes';
import { MAX_BATCH_WRITES } from '../storage/write-buffer-types';

/** Adds the audit entry to the transaction or batch that makes the change; returns its id. */
export function writeAudit(
  db: Firestore,
  writer: Transaction | WriteBatch,
  record: AuditRecord,
): string {
  const ref = db.collection(AUDIT_LOG_COLLECTION).doc();
  const data = { ...auditFields(record), at: Timestamp.fromMillis(record.atMs) };
  // Both have create(ref, data); a union of their overloads is not callable as such.
  (writer as WriteBatch).create(ref, data);
  return ref.id;
}

export type WriteOp = 'set' | 'update' | 'create' | 'delete';
export interface RecordedWrite {
  op: WriteOp;
  path: string;
}

export interface CommitAudit {
  target: string;
  before: unknown;
  after: unknown;
}

export interface AuditedFirestoreOptions {
  actor: Actor;
  what: CallableName;
  now: () => number;
  /**
   * What one commit changed, for its entry; `result` is what a transaction's function returned
   * (undefined for batches and single-document writes). Default: the first path written, no
   * before, the list of writes after.
   */
  describe?: (writes: readonly RecordedWrite[], result: unknown) => CommitAudit;
  /** Called with each entry's id once its commit succeeded. */
  onAudit?: (auditId: string) => void;
}

/** Writes a batch may hold through auditedFirestore: its audit entry takes one of the 500. */
export const AUDITED_BATCH_WRITES = MAX_BATCH_WRITES - 1;

const WRITE_OPS: readonly string[] = ['set', 'update', 'create', 'delete'];

/** The default audit of a commit: the writes it made, named by their first document. */
export function describeWrites(writes: readonly RecordedWrite[]): CommitAudit {
  return {
    target: writes[0]?.path ?? '',
    before: null,
    after: { writes: writes.map(({ op, path }) => ({ op, path })) },
  };
}

/**
 * A Firestore for code that is not ours to change (the validation runner, the aggregation
 * store): every commit made through it — a transaction, a batch, a single-document write on a
 * reference obtained from it — carries one audit entry in the same commit. Writes through a
 * reference read back from a query snapshot (`doc.ref`) or made with `withConverter` would
 * bypass it; the wrapped code only passes such references to batches and transactions, which
 * are covered (validateData's test checks every document a run changes is in an entry). Bulk
 * writers and recursive deletes are refused.
 */
export function auditedFirestore(db: Firestore, options: AuditedFirestoreOptions): Firestore {
  const targets = new WeakMap<object, object>();
  const unwrap = <T>(value: T): T =>
    (typeof value === 'object' && value !== null ? (targets.get(value) ?? value) : value) as T;

  const describe = options.describe ?? describeWrites;

  const entry = (writes: readonly RecordedWrite[], result: unknown): AuditRecord => ({
    who: options.actor,
    what: options.what,
    ...describe(writes, result),
    atMs: options.now(),
  });

  /** `overrides` replace members; `lazy` compute them on access (parents, to avoid cycles). */
  function proxy<T extends object>(
    target: T,
    overrides: Record<PropertyKey, unknown>,
    lazy: Record<PropertyKey, () => unknown> = {},
  ): T {
    const wrapped = new Proxy(target, {
      get(t, prop) {
        if (Object.hasOwn(overrides, prop)) return overrides[prop];
        if (Object.hasOwn(lazy, prop)) return lazy[prop]!();
        const value = Reflect.get(t, prop, t);
        return typeof value === 'function' ? value.bind(t) : value;
      },
    });
    targets.set(wrapped, target);
    return wrapped;
  }

  /** Records the writes made through a transaction or batch and forwards them unwrapped. */
  function recorder<W extends Transaction | WriteBatch>(
    writer: W,
    writes: RecordedWrite[],
    extra: Record<string, unknown> = {},
  ): W {
    const overrides: Record<string, unknown> = { ...extra };
    let self: W;
    if ('getAll' in writer) {
      // Reads take the real references (a transaction's get and getAll).
      const tx = writer as Transaction;
      overrides.get = (refOrQuery: unknown, ...rest: unknown[]) =>
        (tx.get as (...a: unknown[]) => unknown)(unwrap(refOrQuery), ...rest);
      overrides.getAll = (...refs: unknown[]) =>
        (tx.getAll as (...a: unknown[]) => unknown)(...refs.map(unwrap));
    }
    for (const op of WRITE_OPS) {
      overrides[op] = (ref: DocumentReference, ...args: unknown[]) => {
        const target = unwrap(ref);
        writes.push({ op: op as WriteOp, path: target.path });
        (writer[op as keyof W] as (...a: unknown[]) => unknown).call(writer, target, ...args);
        return self;
      };
    }
    self = proxy(writer, overrides);
    return self;
  }

  function batch(): WriteBatch {
    const real = db.batch();
    const writes: RecordedWrite[] = [];
    return recorder(real, writes, {
      commit: async () => {
        let auditId: string | undefined;
        if (writes.length > 0) auditId = writeAudit(db, real, entry(writes, undefined));
        const results = await real.commit();
        if (auditId) options.onAudit?.(auditId);
        return results;
      },
    });
  }

  /** One write on one document, as a batch with its audit entry. */
  async function single(ref: DocumentReference, op: WriteOp, args: unknown[]) {
    const b = batch();
    (b[op] as (...a: unknown[]) => unknown)(ref, ...args);
    const [result] = await b.commit();
    return result;
  }

  function doc(ref: DocumentReference): DocumentReference {
    return proxy(
      ref,
      {
        set: (data: DocumentData, setOptions?: SetOptions) =>
          single(ref, 'set', setOptions ? [data, setOptions] : [data]),
        update: (...args: unknown[]) => single(ref, 'update', args),
        create: (data: DocumentData) => single(ref, 'create', [data]),
        delete: (...args: unknown[]) => single(ref, 'delete', args),
        collection: (path: string) => collection(ref.collection(path)),
      },
      { parent: () => collection(ref.parent) },
    );
  }

  function collection(
    ref: FirebaseFirestore.CollectionReference,
  ): FirebaseFirestore.CollectionReference {
    return proxy(
      ref,
      {
        doc: (...args: [string?]) => doc(args.length === 0 ? ref.doc() : ref.doc(args[0]!)),
        add: async (data: DocumentData) => {
          const created = ref.doc();
          await single(created, 'create', [data]);
          return doc(created);
        },
      },
      { parent: () => (ref.parent ? doc(ref.parent) : null) },
    );
  }

  const refuse = (what: string) => () => {
    throw new Error(`${what} is not available through an audited Firestore`);
  };

  return proxy(db, {
    // Each commit carries its audit entry: bulk writers leave room for it (batch-writes.ts).
    [RESERVED_COMMIT_WRITES]: 1,
    collection: (path: string) => collection(db.collection(path)),
    doc: (path: string) => doc(db.doc(path)),
    batch,
    runTransaction: <T>(
      fn: (tx: Transaction) => Promise<T>,
      txOptions?: FirebaseFirestore.ReadWriteTransactionOptions,
    ) => {
      let auditId: string | undefined;
      return db
        .runTransaction(async (tx) => {
          const writes: RecordedWrite[] = [];
          auditId = undefined;
          const result = await fn(recorder(tx, writes));
          if (writes.length > 0) auditId = writeAudit(db, tx, entry(writes, result));
          return result;
        }, txOptions)
        .then((result) => {
          if (auditId) options.onAudit?.(auditId);
          return result;
        });
    },
    bulkWriter: refuse('bulkWriter'),
    recursiveDelete: refuse('recursiveDelete'),
  });
}
