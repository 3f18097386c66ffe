import type { WriteBatch } from 'firebase-admin/firestore';
import type { RetryPolicy } from '../../core/storage/write-buffer';

/**
 * What the write buffer (write-buffer.ts) takes and reports: its limits, options and timers, the
 * commits it announces, its counters and the error of a batch that could not be committed.
 */

/** Every batch creates one of these in the same commit; a TTL policy on `expiresAt` drops them. */
export const BATCH_MARKER_COLLECTION = 'writeBatches';
/** Firestore's limit on writes per commit; the batch marker counts as one of them. */
export const MAX_BATCH_WRITES = 500;
/** How long a write waits in the buffer for others to commit with (the default intervalMs). */
export const WRITE_BUFFER_INTERVAL_MS = 250;

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

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
