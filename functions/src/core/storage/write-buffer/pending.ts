import { addFieldOp, type FieldUpdates } from './doc-update';

/** The updates waiting for one document's next write, and who waits for them. */
export interface PendingDoc<W> {
  readonly path: string;
  readonly fields: FieldUpdates;
  /** Logical updates coalesced into this write. */
  updates: number;
  readonly waiters: W[];
}

/**
 * Documents with pending updates, oldest first. Updates to a document that is pending already
 * coalesce into its entry; once an entry is taken for a batch it is frozen, and later updates
 * start a new entry.
 */
export class PendingWrites<W> {
  private readonly docs = new Map<string, PendingDoc<W>>();
  private updateCount = 0;

  get documents(): number {
    return this.docs.size;
  }

  get updates(): number {
    return this.updateCount;
  }

  /**
   * Adds one caller's already validated update (`count` logical updates). Its entries do not
   * overlap each other, so folding them in one by one keeps the caller's order.
   */
  add(path: string, update: FieldUpdates, count: number, waiter: W): void {
    let doc = this.docs.get(path);
    if (!doc) {
      doc = { path, fields: new Map(), updates: 0, waiters: [] };
      this.docs.set(path, doc);
    }
    for (const [field, op] of update) addFieldOp(doc.fields, field, op);
    doc.updates += count;
    doc.waiters.push(waiter);
    this.updateCount += count;
  }

  /**
   * Removes and returns up to `max` documents, oldest first, skipping those `blocked` says
   * must wait (a document whose previous write is still in flight, so writes stay in order).
   */
  take(max: number, blocked: (path: string) => boolean = () => false): PendingDoc<W>[] {
    const out: PendingDoc<W>[] = [];
    for (const doc of this.docs.values()) {
      if (out.length >= max) break;
      if (blocked(doc.path)) continue;
      out.push(doc);
    }
    for (const doc of out) {
      this.docs.delete(doc.path);
      this.updateCount -= doc.updates;
    }
    return out;
  }

  /** Paths of the documents currently pending (for flush bookkeeping and metrics). */
  paths(): IterableIterator<string> {
    return this.docs.keys();
  }

  waiters(): W[] {
    return [...this.docs.values()].flatMap((doc) => doc.waiters);
  }
}
