import { randomBytes } from 'node:crypto';
import type { TransactionOptions } from '@firestore-emulator/proto/dist/google/firestore/v1/common.js';
import { aborted, Code, invalid, RpcError } from './grpc.ts';
import type { LockOwner, LockTable } from './locks.ts';
import type { DocState, Store } from './store.ts';

export interface Transaction extends LockOwner {
  readonly readOnly: boolean;
  /** Document name -> update time when first read (0 = missing). */
  readonly reads: Map<string, number>;
  /** Re-run at commit; a different answer means the query result changed. */
  readonly queries: Array<{ rerun: () => string; fingerprint: string }>;
  idleTimer?: NodeJS.Timeout;
  /** Lock waits in progress; the idle timer is paused meanwhile (the client is waiting on us). */
  pendingWaits: number;
}

const MAX_ENDED = 10_000;

/**
 * Transaction ids, read sets and lifetimes. Serializability comes from validation at commit
 * (everything read must be unchanged, including non-transactional writes since); the document
 * locks only make contending transactions queue instead of aborting.
 */
export class Transactions {
  readonly #live = new Map<string, Transaction>();
  /** Why recently ended transactions ended, to answer late requests with ABORTED. */
  readonly #ended = new Map<string, string>();

  constructor(
    private readonly store: Store,
    private readonly locks: LockTable,
    private readonly idleMillis: number,
  ) {}

  begin(options?: TransactionOptions): Transaction {
    const retried = options?.has_read_write ? options.read_write.retry_transaction : undefined;
    if (retried?.length) {
      // The SDK rolls back asynchronously; free the failed attempt's locks before retrying.
      const previous = this.#live.get(Buffer.from(retried).toString('hex'));
      if (previous) this.end(previous, 'superseded by its retry');
    }
    const tx: Transaction = {
      id: randomBytes(16).toString('hex'),
      readOnly: options?.has_read_only ?? false,
      held: new Set(),
      waiting: new Map(),
      reads: new Map(),
      queries: [],
      pendingWaits: 0,
    };
    this.#live.set(tx.id, tx);
    this.#touch(tx);
    return tx;
  }

  lookup(id: Uint8Array): Transaction {
    const key = Buffer.from(id).toString('hex');
    const tx = this.#live.get(key);
    if (tx) {
      this.#touch(tx);
      return tx;
    }
    const reason = this.#ended.get(key);
    if (reason) throw aborted(`transaction ${key} was aborted: ${reason}`);
    // Same wording as Firestore, which the SDK treats as retryable.
    throw invalid(
      `transaction ${key} is not valid: the transaction has expired or was never started`,
    );
  }

  idBytes(tx: Transaction): Uint8Array {
    return Uint8Array.from(Buffer.from(tx.id, 'hex'));
  }

  /** Takes the locks for `names` (sorted, one at a time); a wait longer than the idle timeout aborts. */
  async lock(tx: Transaction, names: string[]): Promise<void> {
    if (tx.readOnly) return;
    for (const name of [...new Set(names)].sort()) {
      if (tx.held.has(name)) continue;
      tx.pendingWaits++;
      clearTimeout(tx.idleTimer);
      const timer = setTimeout(
        () => this.locks.cancelWait(tx, name, aborted(`timed out waiting for the lock on ${name}`)),
        this.idleMillis,
      );
      timer.unref();
      try {
        await this.locks.acquire(tx, name);
      } finally {
        clearTimeout(timer);
        tx.pendingWaits--;
        if (this.#live.has(tx.id)) this.#touch(tx);
      }
    }
  }

  recordRead(tx: Transaction, doc: DocState): void {
    if (!tx.readOnly && !tx.reads.has(doc.name)) {
      tx.reads.set(doc.name, doc.exists ? doc.updateTime : 0);
    }
  }

  recordQuery(tx: Transaction, rerun: () => string, fingerprint: string): void {
    if (!tx.readOnly) tx.queries.push({ rerun, fingerprint });
  }

  /** Throws ABORTED when anything the transaction read has changed since. */
  validate(tx: Transaction): void {
    for (const [name, version] of tx.reads) {
      const doc = this.store.get(name);
      if ((doc.exists ? doc.updateTime : 0) !== version) {
        throw aborted(`${name} changed after the transaction read it; retry the transaction`);
      }
    }
    for (const query of tx.queries) {
      if (query.rerun() !== query.fingerprint) {
        throw aborted(
          'a query result changed after the transaction read it; retry the transaction',
        );
      }
    }
  }

  /** Ends a transaction and releases its locks; with a reason, later requests get ABORTED. */
  end(tx: Transaction, reason?: string): void {
    if (!this.#live.delete(tx.id)) return;
    clearTimeout(tx.idleTimer);
    this.locks.releaseAll(tx, new RpcError(Code.ABORTED, `transaction ended: ${reason ?? 'done'}`));
    if (reason) {
      this.#ended.set(tx.id, reason);
      if (this.#ended.size > MAX_ENDED) this.#ended.delete(this.#ended.keys().next().value!);
    }
  }

  endAll(reason: string): void {
    for (const tx of [...this.#live.values()]) this.end(tx, reason);
  }

  #touch(tx: Transaction): void {
    clearTimeout(tx.idleTimer);
    if (tx.pendingWaits > 0) return;
    tx.idleTimer = setTimeout(
      () => this.end(tx, `idle for more than ${this.idleMillis} ms`),
      this.idleMillis,
    );
    tx.idleTimer.unref();
  }
}
