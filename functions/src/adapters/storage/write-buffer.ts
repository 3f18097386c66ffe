import { randomUUID } from 'node:crypto';
import {
  FieldPath,
  FieldValue,
  type Firestore,
  Timestamp,
  type WriteBatch,
} from 'firebase-admin/firestore';
import {
  addMerge,
  addUpdate,
  backoffMs,
  type CommitFailure,
  classifyCommitError,
  DEFAULT_RETRY,
  type FieldUpdates,
  fieldSegments,
  type PendingDoc,
  PendingWrites,
  type RetryPolicy,
  type UsageSample,
  usageStatsUpdate,
} from '../../core/storage/write-buffer';
import { logger } from '../../log';
import { db as instanceDb } from '../firebase';

/** Every batch creates one of these in the same commit; a TTL policy on `expiresAt` drops them. */
export const BATCH_MARKER_COLLECTION = 'writeBatches';
/** Firestore's limit on writes per commit; the batch marker counts as one of them. */
export const MAX_BATCH_WRITES = 500;

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** A committed batch, as reported to commit listeners (the self-quota monitor counts these). */
export interface CommitInfo {
  batchId: string;
  /** Document writes, the batch marker not included. */
  documents: number;
  /** Writes the commit made: documents plus the marker. */
  writes: number;
  /** Logical updates the documents' writes carried. */
  updates: number;
  attempts: number;
  atMs: number;
}

export interface WriteBufferOptions {
  /** How long an update may wait for others to join its batch (before throttling). */
  intervalMs?: number;
  /** Writes per commit, the marker included; at most 500. */
  maxBatchWrites?: number;
  /** Batches committing at once; a document is never in two of them. */
  maxConcurrentBatches?: number;
  retry?: Partial<RetryPolicy>;
  markerCollection?: string;
  /** Markers only need to outlive a batch's retries; the TTL policy deletes them after. */
  markerRetentionMs?: number;
  /** Stretches the commit interval, e.g. `(ms) => monitor.delayMs(ms)` near Firestore's quota. */
  throttle?: (baseMs: number) => number;
  now?: () => number;
  random?: () => number;
  timers?: Timers;
  sleep?: (ms: number) => Promise<void>;
  newBatchId?: () => string;
  /** Commits one attempt of a batch; a seam for tests that inject failures. */
  commit?: (batch: WriteBatch, attempt: { batchId: string; attempt: number }) => Promise<unknown>;
}

export interface WriteBufferStats {
  pendingDocuments: number;
  pendingUpdates: number;
  inFlightBatches: number;
  inFlightDocuments: number;
  updatesReceived: number;
  updatesCommitted: number;
  updatesFailed: number;
  /** Document writes committed (markers not included): updatesCommitted / this = reduction. */
  documentWrites: number;
  markerWrites: number;
  batchesCommitted: number;
  batchesFailed: number;
  /** Batches split to isolate a document Firestore rejected. */
  batchesSplit: number;
  retries: number;
  /** Retries that found their batch already applied (the marker existed). */
  recoveredCommits: number;
}

/**
 * A batch that could not be committed. `outcome` says whether its writes were certainly not
 * applied, or might have been (an ambiguous failure and retries ran out): then the marker
 * `writeBatches/{batchId}` decides, once the commit can no longer be in flight.
 */
export class WriteBufferError extends Error {
  readonly outcome: 'not-applied' | 'unknown';
  readonly batchId: string;
  readonly code: unknown;
  constructor(
    message: string,
    options: { cause: unknown; outcome: 'not-applied' | 'unknown'; batchId: string },
  ) {
    super(message, { cause: options.cause });
    this.name = 'WriteBufferError';
    this.outcome = options.outcome;
    this.batchId = options.batchId;
    this.code = (options.cause as { code?: unknown } | null)?.code;
  }
}

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

type Doc = PendingDoc<Waiter>;

/** The nested data and field mask of one coalesced document update, as firebase-admin takes it. */
function toFirestoreWrite(fields: FieldUpdates): {
  data: Record<string, unknown>;
  mask: FieldPath[];
} {
  const data: Record<string, unknown> = {};
  const mask: FieldPath[] = [];
  for (const [path, op] of fields) {
    const segments = fieldSegments(path);
    let target = data;
    for (const segment of segments.slice(0, -1)) {
      target[segment] ??= {};
      target = target[segment] as Record<string, unknown>;
    }
    target[segments.at(-1)!] =
      op.kind === 'set'
        ? op.value
        : op.kind === 'increment'
          ? FieldValue.increment(op.by)
          : FieldValue.arrayUnion(...op.elements);
    mask.push(new FieldPath(...segments));
  }
  return { data, mask };
}

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
    this.intervalMs = options.intervalMs ?? 250;
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

/** Minimal view of `process`, so tests can deliver signals without signalling the runner. */
export interface SignalTarget {
  pid: number;
  on(signal: NodeJS.Signals, listener: () => void): unknown;
  off(signal: NodeJS.Signals, listener: () => void): unknown;
  listenerCount(signal: NodeJS.Signals): number;
  kill(pid: number, signal: NodeJS.Signals): unknown;
}

/**
 * Flushes the buffer when the instance is told to stop (Cloud Functions sends SIGTERM, then
 * kills the instance seconds later). Once the flush settles and no other listener for the
 * signal remains, the signal is raised again so the default handling ends the process.
 * Returns the uninstall function.
 */
export function installShutdownFlush(
  buffer: { flush(): Promise<void> },
  options: { signals?: NodeJS.Signals[]; target?: SignalTarget } = {},
): () => void {
  const target: SignalTarget = options.target ?? process;
  const signals = options.signals ?? ['SIGTERM'];
  const handlers = signals.map((signal) => {
    const handler = () => {
      logger.info({ signal }, 'flushing the write buffer before shutdown');
      buffer
        .flush()
        .catch((error: unknown) => logger.error({ err: error }, 'shutdown flush failed'))
        .finally(() => {
          target.off(signal, handler);
          if (target.listenerCount(signal) === 0) target.kill(target.pid, signal);
        });
    };
    target.on(signal, handler);
    return { signal, handler };
  });
  return () => {
    for (const { signal, handler } of handlers) target.off(signal, handler);
  };
}

/**
 * Adds one usage sample to its per-minute document `usageStats/{provider}~{category}~{minute}`.
 * Resolves when durable; callers that do not wait should still attach a catch.
 */
export function recordUsage(
  buffer: WriteBuffer,
  sample: UsageSample,
  options: { retentionMs?: number } = {},
): Promise<void> {
  let write: ReturnType<typeof usageStatsUpdate>;
  try {
    write = usageStatsUpdate(sample, options.retentionMs);
  } catch (error) {
    return Promise.reject(error);
  }
  return buffer.merge(write.path, write.data);
}

let shared: WriteBuffer | undefined;

/** The instance's buffer on the default app, flushed on SIGTERM. */
export function instanceWriteBuffer(): WriteBuffer {
  if (!shared) {
    shared = new WriteBuffer(instanceDb());
    installShutdownFlush(shared);
  }
  return shared;
}
