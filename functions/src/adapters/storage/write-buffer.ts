import { randomUUID } from 'node:crypto';
import { type Firestore, Timestamp } from 'firebase-admin/firestore';
import {
  addMerge,
  addUpdate,
  backoffMs,
  type CommitFailure,
  classifyCommitError,
  DEFAULT_RETRY,
  type FieldUpdates,
  type PendingDoc,
  PendingWrites,
  type RetryPolicy,
} from '../../core/storage/write-buffer';
import { logger } from '../../log';
import { toFirestoreWrite } from './firestore-write';
import {
  BATCH_MARKER_COLLECTION,
  type CommitInfo,
  MAX_BATCH_WRITES,
  type Timers,
  WRITE_BUFFER_INTERVAL_MS,
  WriteBufferError,
  type WriteBufferOptions,
  type WriteBufferStats,
} from './write-buffer-types';

/**
 * The write buffer (WriteBuffer): group commit of an instance's blind writes, with marker
 * documents so a retried batch never applies twice. Its options and reports are in
 * write-buffer-types.ts, the instance's shared buffer in instance-write-buffer.ts.
 */

const realTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

type Doc = PendingDoc<Waiter>;

/**
 * Group commit for one function instance: coalesces updates per document and commits them in
 * atomic batches, each caller resolved once its batch is durable.
 *
 * Retries never double-apply: every batch also creates a marker document named by the batch
 * id, and a retry sends the identical batch with the same marker. If an earlier attempt (or
 * the client library's own retry) was applied, the marker exists, the retry fails with
 * ALREADY_EXISTS, and that proves the writes are in.
 */
export class WriteBuffer {
  private readonly pending = new PendingWrites<Waiter>();
  private readonly inFlight = new Set<string>();
  private readonly settledDocs = new WeakSet<Doc>();
  private readonly outstanding = new Set<Promise<void>>();
  private readonly listeners = new Set<(info: CommitInfo) => void>();
  private readonly intervalMs: number;
  private readonly maxDocs: number;
  private readonly maxConcurrent: number;
  private readonly retry: RetryPolicy;
  private readonly markerCollection: string;
  private readonly markerRetentionMs: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly timers: Timers;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly newBatchId: () => string;
  private readonly commitFn: NonNullable<WriteBufferOptions['commit']>;
  private throttle: (baseMs: number) => number;
  private timer: unknown;
  /** The interval passed while every batch slot was busy: commit as soon as one frees up. */
  private overdue = false;
  private flushing = 0;
  private activeBatches = 0;
  private readonly counters = {
    updatesReceived: 0,
    updatesCommitted: 0,
    updatesFailed: 0,
    documentWrites: 0,
    markerWrites: 0,
    batchesCommitted: 0,
    batchesFailed: 0,
    batchesSplit: 0,
    retries: 0,
    recoveredCommits: 0,
  };

  constructor(
    private readonly db: Firestore,
    options: WriteBufferOptions = {},
  ) {
    const maxWrites = options.maxBatchWrites ?? MAX_BATCH_WRITES;
    if (!(maxWrites >= 2 && maxWrites <= MAX_BATCH_WRITES)) {
      throw new RangeError(`maxBatchWrites must be within 2..${MAX_BATCH_WRITES}: ${maxWrites}`);
    }
    this.maxDocs = Math.floor(maxWrites) - 1;
    this.intervalMs = options.intervalMs ?? WRITE_BUFFER_INTERVAL_MS;
    this.maxConcurrent = Math.max(1, options.maxConcurrentBatches ?? 4);
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.markerCollection = options.markerCollection ?? BATCH_MARKER_COLLECTION;
    this.markerRetentionMs = options.markerRetentionMs ?? 60 * 60 * 1000;
    this.throttle = options.throttle ?? ((ms) => ms);
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.timers = options.timers ?? realTimers;
    this.sleep =
      options.sleep ?? ((ms) => new Promise((resolve) => this.timers.setTimeout(resolve, ms)));
    this.newBatchId = options.newBatchId ?? randomUUID;
    this.commitFn = options.commit ?? ((batch) => batch.commit());
  }

  /**
   * `update()`-style: keys are dotted field paths, values are field ops (`increment`,
   * `arrayUnion`, `setTo`) or plain values (set; a map replaces the whole map). Creates the
   * document if absent. Resolves once the write is committed.
   */
  update(path: string, fields: Record<string, unknown>): Promise<void> {
    return this.enqueue(path, (update) => addUpdate(update, fields));
  }

  /** `set(data, { merge: true })`-style: nested maps merge field by field. */
  merge(path: string, data: Record<string, unknown>): Promise<void> {
    return this.enqueue(path, (update) => addMerge(update, data));
  }

  /** Resolves once every update enqueued before the call has been committed or has failed. */
  async flush(): Promise<void> {
    const waiting = [...this.outstanding];
    if (waiting.length === 0) return;
    this.flushing++;
    try {
      this.pump();
      await Promise.all(waiting);
    } finally {
      this.flushing--;
    }
  }

  /** Calls `listener` after each committed batch; returns the unsubscribe function. */
  onCommit(listener: (info: CommitInfo) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  setThrottle(throttle: (baseMs: number) => number): void {
    this.throttle = throttle;
  }

  stats(): WriteBufferStats {
    return {
      pendingDocuments: this.pending.documents,
      pendingUpdates: this.pending.updates,
      inFlightBatches: this.activeBatches,
      inFlightDocuments: this.inFlight.size,
      ...this.counters,
    };
  }

  private enqueue(path: string, build: (update: FieldUpdates) => number): Promise<void> {
    let update: FieldUpdates;
    try {
      const ref = this.db.doc(path);
      update = new Map();
      if (build(update) === 0) throw new TypeError(`empty update of ${path}`);
      // Let firebase-admin validate the values now, so a bad value fails its own caller
      // instead of the batch it would have joined.
      const { data, mask } = toFirestoreWrite(update);
      this.db.batch().set(ref, data, { mergeFields: mask });
    } catch (error) {
      return Promise.reject(error);
    }
    const promise = new Promise<void>((resolve, reject) => {
      this.pending.add(path, update, 1, { resolve, reject });
    });
    const settled = promise.then(
      () => undefined,
      () => undefined,
    );
    this.outstanding.add(settled);
    void settled.then(() => this.outstanding.delete(settled));
    this.counters.updatesReceived++;
    if (this.pending.documents >= this.maxDocs || this.flushing > 0) this.pump();
    else if (this.timer === undefined && !this.overdue) this.arm();
    return promise;
  }

  private arm(): void {
    this.timer = this.timers.setTimeout(
      () => {
        this.timer = undefined;
        this.pump();
      },
      Math.max(0, this.throttle(this.intervalMs)),
    );
  }

  private clearTimer(): void {
    if (this.timer === undefined) return;
    this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Starts batches while slots are free; what is left waits for a slot or the next interval. */
  private pump(): void {
    this.clearTimer();
    this.overdue = false;
    while (this.pending.documents > 0) {
      if (this.activeBatches >= this.maxConcurrent) {
        this.overdue = true;
        break;
      }
      const docs = this.pending.take(this.maxDocs, (path) => this.inFlight.has(path));
      if (docs.length === 0) break;
      for (const doc of docs) this.inFlight.add(doc.path);
      this.activeBatches++;
      void this.commitDocs(docs)
        .catch((error: unknown) => this.fail(docs, error, 'unknown', 'unexpected'))
        .finally(() => {
          this.activeBatches--;
          this.afterBatch();
        });
    }
    if (this.pending.documents > 0 && !this.overdue) this.arm();
  }

  private afterBatch(): void {
    if (this.overdue || this.flushing > 0 || this.pending.documents >= this.maxDocs) this.pump();
    else if (this.pending.documents > 0 && this.timer === undefined) this.arm();
  }

  /** Commits one batch with retries; settles every waiter of `docs`. */
  private async commitDocs(docs: Doc[]): Promise<void> {
    const batchId = this.newBatchId();
    let maybeApplied = false;
    let lastError: unknown;
    for (let attempt = 1; ; attempt++) {
      let failure: CommitFailure;
      try {
        await this.commitOnce(batchId, docs, attempt);
        this.succeed(batchId, docs, attempt);
        return;
      } catch (error) {
        lastError = error;
        failure = classifyCommitError(error);
      }
      if (failure === 'applied') {
        // Our earlier attempt, or the client library's internal retry, got it in.
        this.counters.recoveredCommits++;
        this.succeed(batchId, docs, attempt);
        return;
      }
      if (failure === 'ambiguous') maybeApplied = true;
      if (failure === 'rejected') {
        // Certainly not applied: split, so one bad document only fails its own callers.
        if (!maybeApplied && docs.length > 1) {
          this.counters.batchesSplit++;
          const half = Math.ceil(docs.length / 2);
          await this.commitDocs(docs.slice(0, half));
          await this.commitDocs(docs.slice(half));
          return;
        }
        break;
      }
      if (attempt >= this.retry.maxAttempts) break;
      this.counters.retries++;
      logger.warn(
        { batchId, attempt, code: (lastError as { code?: unknown })?.code },
        'batch retry',
      );
      await this.sleep(backoffMs(this.retry, attempt, this.random()));
    }
    if (maybeApplied && (await this.markerExists(batchId))) {
      this.counters.recoveredCommits++;
      this.succeed(batchId, docs, this.retry.maxAttempts);
      return;
    }
    this.fail(docs, lastError, maybeApplied ? 'unknown' : 'not-applied', batchId);
  }

  private async commitOnce(batchId: string, docs: Doc[], attempt: number): Promise<void> {
    const batch = this.db.batch();
    for (const doc of docs) {
      const { data, mask } = toFirestoreWrite(doc.fields);
      batch.set(this.db.doc(doc.path), data, { mergeFields: mask });
    }
    const nowMs = this.now();
    batch.create(this.db.doc(`${this.markerCollection}/${batchId}`), {
      createdAt: Timestamp.fromMillis(nowMs),
      expiresAt: Timestamp.fromMillis(nowMs + this.markerRetentionMs),
      documents: docs.length,
    });
    await this.commitFn(batch, { batchId, attempt });
  }

  private async markerExists(batchId: string): Promise<boolean> {
    try {
      return (await this.db.doc(`${this.markerCollection}/${batchId}`).get()).exists;
    } catch {
      return false;
    }
  }

  /** Marks a document's write settled and lets its next write go; false if it was already. */
  private release(doc: Doc): boolean {
    if (this.settledDocs.has(doc)) return false;
    this.settledDocs.add(doc);
    this.inFlight.delete(doc.path);
    return true;
  }

  private succeed(batchId: string, docs: Doc[], attempts: number): void {
    let updates = 0;
    for (const doc of docs) {
      if (!this.release(doc)) continue;
      updates += doc.updates;
      for (const waiter of doc.waiters) waiter.resolve();
    }
    this.counters.batchesCommitted++;
    this.counters.documentWrites += docs.length;
    this.counters.markerWrites++;
    this.counters.updatesCommitted += updates;
    const info: CommitInfo = {
      batchId,
      documents: docs.length,
      writes: docs.length + 1,
      updates,
      attempts,
      atMs: this.now(),
    };
    for (const listener of this.listeners) {
      try {
        listener(info);
      } catch (error) {
        logger.error({ err: error }, 'write buffer commit listener failed');
      }
    }
  }

  private fail(docs: Doc[], cause: unknown, outcome: 'not-applied' | 'unknown', batchId: string) {
    const error = new WriteBufferError(
      `batch ${batchId} of ${docs.length} document writes failed (${outcome}): ${String(
        (cause as Error)?.message ?? cause,
      )}`,
      { cause, outcome, batchId },
    );
    let updates = 0;
    for (const doc of docs) {
      if (!this.release(doc)) continue;
      updates += doc.updates;
      for (const waiter of doc.waiters) waiter.reject(error);
    }
    this.counters.batchesFailed++;
    this.counters.updatesFailed += updates;
    logger.error(
      { batchId, outcome, documents: docs.length, paths: docs.slice(0, 5).map((d) => d.path) },
      error.message,
    );
  }
}
