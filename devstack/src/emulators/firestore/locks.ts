import { aborted } from './grpc.ts';

/** Anything that can hold document locks (a read-write transaction). */
export interface LockOwner {
  readonly id: string;
  /** Keys this owner holds. */
  readonly held: Set<string>;
  /** Keys this owner waits for. */
  readonly waiting: Map<string, Waiter>;
}

interface Waiter {
  owner: LockOwner;
  key: string;
  resolve(): void;
  reject(err: Error): void;
}

/**
 * Exclusive per-document locks with FIFO wait queues. Transactional reads take them so that
 * concurrent read-modify-write transactions queue instead of all failing validation (the SDK
 * gives up after 5 ABORTED attempts). A wait that would close a cycle in the wait-for graph
 * fails at once with ABORTED, so there are no deadlocks; the SDK retries that transaction.
 */
export class LockTable {
  readonly #holders = new Map<string, LockOwner>();
  readonly #queues = new Map<string, Waiter[]>();

  acquire(owner: LockOwner, key: string): Promise<void> {
    const holder = this.#holders.get(key);
    if (holder === owner) return Promise.resolve();
    if (!holder) {
      this.#grant(owner, key);
      return Promise.resolve();
    }
    if (this.#reaches(holder, owner)) {
      return Promise.reject(aborted(`deadlock avoided: transaction aborted while locking ${key}`));
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { owner, key, resolve, reject };
      owner.waiting.set(key, waiter);
      const queue = this.#queues.get(key) ?? [];
      queue.push(waiter);
      this.#queues.set(key, queue);
    });
  }

  /** Stops waiting for `key` (timeout, cancelled call); the pending acquire rejects with `err`. */
  cancelWait(owner: LockOwner, key: string, err: Error): void {
    const waiter = owner.waiting.get(key);
    if (!waiter) return;
    owner.waiting.delete(key);
    const queue = this.#queues.get(key);
    if (queue) {
      const rest = queue.filter((w) => w !== waiter);
      if (rest.length) this.#queues.set(key, rest);
      else this.#queues.delete(key);
    }
    waiter.reject(err);
  }

  /** Releases every lock of `owner` and fails its pending waits with `err`. */
  releaseAll(owner: LockOwner, err: Error): void {
    for (const key of [...owner.waiting.keys()]) this.cancelWait(owner, key, err);
    for (const key of owner.held) {
      this.#holders.delete(key);
      this.#handOver(key);
    }
    owner.held.clear();
  }

  #grant(owner: LockOwner, key: string): void {
    this.#holders.set(key, owner);
    owner.held.add(key);
  }

  #handOver(key: string): void {
    const queue = this.#queues.get(key);
    const next = queue?.shift();
    if (!queue || !next) return;
    if (queue.length === 0) this.#queues.delete(key);
    next.owner.waiting.delete(key);
    this.#grant(next.owner, key);
    next.resolve();
    // The remaining waiters now wait for a new holder, which may close a cycle.
    for (const waiter of [...queue]) {
      if (this.#reaches(next.owner, waiter.owner)) {
        this.cancelWait(
          waiter.owner,
          key,
          aborted(`deadlock avoided: transaction aborted while locking ${key}`),
        );
      }
    }
  }

  /** Whether `from` (transitively) waits for `target`. */
  #reaches(from: LockOwner, target: LockOwner): boolean {
    const seen = new Set<LockOwner>();
    const stack = [from];
    while (stack.length) {
      const owner = stack.pop()!;
      if (owner === target) return true;
      if (seen.has(owner)) continue;
      seen.add(owner);
      for (const key of owner.waiting.keys()) {
        const holder = this.#holders.get(key);
        if (holder) stack.push(holder);
      }
    }
    return false;
  }
}
