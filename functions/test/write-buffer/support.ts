import type { Firestore, WriteBatch } from 'firebase-admin/firestore';
import type { Timers } from '../../src/adapters/storage/write-buffer-types';

/** Timers that only fire when the test says so: batching points are deterministic. */
export class ManualTimers implements Timers {
  private next = 1;
  private readonly scheduled = new Map<number, () => void>();
  /** Every delay asked for, in order. */
  readonly delays: number[] = [];
  setTimeout(callback: () => void, ms: number): unknown {
    this.delays.push(ms);
    const id = this.next++;
    this.scheduled.set(id, callback);
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.scheduled.delete(handle as number);
  }
  get count(): number {
    return this.scheduled.size;
  }
  fireAll(): void {
    const callbacks = [...this.scheduled.values()];
    this.scheduled.clear();
    for (const callback of callbacks) callback();
  }
}

/** An error shaped like firebase-admin's gRPC errors. */
export function grpcError(code: number, message = `code ${code}`): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * Wraps `db.batch()` so each batch records the document paths it writes, counted apart from
 * the buffer's own bookkeeping: what a commit would really send.
 */
export function recordBatches(db: Firestore): WeakMap<WriteBatch, string[]> {
  const writes = new WeakMap<WriteBatch, string[]>();
  const original = db.batch.bind(db);
  db.batch = () => {
    const batch = original();
    const paths: string[] = [];
    writes.set(batch, paths);
    for (const method of ['set', 'create', 'update', 'delete'] as const) {
      const fn = (batch[method] as (...args: unknown[]) => WriteBatch).bind(batch);
      (batch as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
        paths.push((args[0] as { path: string }).path);
        return fn(...args);
      };
    }
    return batch;
  };
  return writes;
}

export const ticks = (n = 1) =>
  (async () => {
    for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
  })();
