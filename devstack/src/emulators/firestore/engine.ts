import type { TransactionOptions } from '@firestore-emulator/proto/dist/google/firestore/v1/common.js';
import type { StructuredQuery } from '@firestore-emulator/proto/dist/google/firestore/v1/query.js';
import type { Write } from '@firestore-emulator/proto/dist/google/firestore/v1/write.js';
import type { FirestoreState } from '@firestore-emulator/server';
import { CommitClock } from './clock.ts';
import { Code, invalid, toStatus } from './grpc.ts';
import { LockTable } from './locks.ts';
import { parseDocumentName } from './paths.ts';
import { fingerprint, type QueryResult, runQuery } from './query.ts';
import { type DocState, Store } from './store.ts';
import { type Transaction, Transactions } from './transactions.ts';
import { commitWrites, type WriteResult } from './writes.ts';

/** The consistency selector of a read request, as far as we honour it. */
export interface ReadSelector {
  has_transaction?: boolean;
  transaction?: Uint8Array;
  has_new_transaction?: boolean;
  new_transaction?: TransactionOptions;
}

export interface ReadContext {
  tx?: Transaction;
  /** The read started the transaction, so the response must carry its id. */
  started: boolean;
}

const MAX_QUERY_LOCK_ROUNDS = 5;

/** Firestore semantics over the package's document tree: reads, queries, commits, transactions. */
export class Engine {
  readonly store: Store;
  readonly clock = new CommitClock();
  readonly locks = new LockTable();
  readonly transactions: Transactions;

  constructor(state: FirestoreState, opts: { transactionIdleMillis: number }) {
    this.store = new Store(state);
    this.transactions = new Transactions(this.store, this.locks, opts.transactionIdleMillis);
  }

  openRead(selector: ReadSelector): ReadContext {
    if (selector.has_new_transaction) {
      return { tx: this.transactions.begin(selector.new_transaction), started: true };
    }
    if (selector.has_transaction && selector.transaction?.length) {
      return { tx: this.transactions.lookup(selector.transaction), started: false };
    }
    return { started: false };
  }

  /**
   * Runs a read inside its transaction context. A failed read ends the transaction: a new one
   * was never seen by the client, and an existing one has to be retried by the SDK anyway.
   */
  async withRead<T>(ctx: ReadContext, read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (err) {
      if (ctx.tx && (ctx.started || toStatus(err).code === Code.ABORTED)) {
        this.transactions.end(ctx.tx, toStatus(err).message);
      }
      throw err;
    }
  }

  /** Documents in request order; in a read-write transaction each is locked, then recorded. */
  async getDocuments(names: string[], tx?: Transaction): Promise<DocState[]> {
    for (const name of names) parseDocumentName(name);
    if (tx) await this.transactions.lock(tx, names);
    return names.map((name) => {
      const doc = this.store.get(name);
      if (tx) this.transactions.recordRead(tx, doc);
      return doc;
    });
  }

  /**
   * A query; in a read-write transaction the matching documents are locked (re-running until
   * the result is stable) and the result is recorded for validation at commit.
   */
  async query(parent: string, query: StructuredQuery, tx?: Transaction): Promise<QueryResult> {
    if (tx && !tx.readOnly) {
      for (let round = 0; round < MAX_QUERY_LOCK_ROUNDS; round++) {
        const names = runQuery(this.store, parent, query).docs.map((d) => d.name);
        const missing = names.filter((n) => !tx.held.has(n));
        if (missing.length === 0) break;
        await this.transactions.lock(tx, missing);
      }
    }
    const result = runQuery(this.store, parent, query);
    if (tx) {
      this.transactions.recordQuery(
        tx,
        () => fingerprint(runQuery(this.store, parent, query).docs),
        fingerprint(result.docs),
      );
    }
    return result;
  }

  /** Validates the transaction (if any), then applies all writes atomically. */
  commit(
    writes: Write[],
    transaction?: Uint8Array,
  ): { commitMillis: number; results: WriteResult[] } {
    const tx = transaction?.length ? this.transactions.lookup(transaction) : undefined;
    try {
      if (tx) {
        if (tx.readOnly && writes.length) throw invalid('a read-only transaction cannot write');
        this.transactions.validate(tx);
      }
      const commitMillis = this.clock.next();
      const results = commitWrites(this.store, writes, commitMillis);
      if (tx) this.transactions.end(tx);
      return { commitMillis, results };
    } catch (err) {
      if (tx) this.transactions.end(tx, toStatus(err).message);
      throw err;
    }
  }

  rollback(transaction: Uint8Array): void {
    try {
      this.transactions.end(this.transactions.lookup(transaction), 'rolled back');
    } catch {
      // Rolling back an ended or unknown transaction is harmless; the SDK ignores it anyway.
    }
  }

  /** BulkWriter: every write on its own, each with its own status. */
  batchWrite(
    writes: Write[],
  ): Array<{ result?: WriteResult; status: ReturnType<typeof toStatus> }> {
    return writes.map((write) => {
      try {
        const [result] = commitWrites(this.store, [write], this.clock.next());
        return { result, status: { code: Code.OK, details: '', message: '' } };
      } catch (err) {
        return { status: toStatus(err) };
      }
    });
  }
}
