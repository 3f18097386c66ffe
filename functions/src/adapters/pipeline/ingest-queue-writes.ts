import { FieldValue, type Firestore, Timestamp } from 'firebase-admin/firestore';
import { chunked } from '../../core/arrays';
import type { BatchKind } from '../../core/pipeline/batching';
import { assertWithinLimits } from '../../core/storage/firestore-limits';
import { logger } from '../../log';
import { paceFirestoreWork } from '../storage/self-quota-runtime';
import { type IngestStage, itemDocId, itemsRef, queueValue, stateRef } from './ingest-queues';

/**
 * Writing the ingest queues: items queued (added, or a finished one asked for a light update),
 * a batch's items moved on by their outcomes, the counts per stage kept in the same transaction.
 */

/** Upstream answers that fail an item this often park it in stage `failed`. */
export const DEFAULT_MAX_ATTEMPTS = 3;

/**
 * One item's outcome. Peek: `survivor` (to the commit queue) or `rejected` (done). Commit and
 * light: `stored` (done, or back to the light queue when `refreshAtMs` is given) or `rejected`
 * (done). Any kind: `failed` (back of its queue; parked after the maximum attempts). An item
 * the fetcher returns nothing for counts as failed.
 */
export interface IngestItemResult {
  key: string;
  outcome: 'survivor' | 'rejected' | 'stored' | 'failed';
  refreshAtMs?: number;
}

/** Items moved into each stage; `retried` went to the back of their own queue. */
export interface MovedCounts {
  commit: number;
  light: number;
  done: number;
  failed: number;
  retried: number;
}

interface Move {
  stage: IngestStage;
  counted: keyof MovedCounts;
  fields: Record<string, unknown>;
}

function nextMove(
  kind: BatchKind,
  result: IngestItemResult | undefined,
  attempts: number,
  nowMs: number,
  maxAttempts: number,
): Move {
  const outcome = result?.outcome;
  const accepted = kind === 'peek' ? ['survivor', 'rejected'] : ['stored', 'rejected'];
  if (outcome !== undefined && outcome !== 'failed' && !accepted.includes(outcome)) {
    logger.warn({ kind, key: result?.key, outcome }, 'ingest result does not fit its batch kind');
  }
  if (outcome === undefined || !accepted.includes(outcome)) {
    if (attempts + 1 >= maxAttempts) {
      return {
        stage: 'failed',
        counted: 'failed',
        fields: { stage: 'failed', queue: null, attempts: attempts + 1, outcome: 'failed' },
      };
    }
    return {
      stage: kind,
      counted: 'retried',
      fields: { queue: queueValue(kind, nowMs), attempts: attempts + 1 },
    };
  }
  if (outcome === 'rejected') {
    return {
      stage: 'done',
      counted: 'done',
      fields: { stage: 'done', queue: null, attempts: 0, outcome: 'rejected' },
    };
  }
  if (kind === 'peek') {
    return {
      stage: 'commit',
      counted: 'commit',
      fields: { stage: 'commit', queue: queueValue('commit', nowMs), attempts: 0 },
    };
  }
  const refreshAtMs = result?.refreshAtMs;
  if (refreshAtMs !== undefined) {
    return {
      stage: 'light',
      counted: 'light',
      fields: {
        stage: 'light',
        queue: queueValue('light', refreshAtMs),
        attempts: 0,
        outcome: 'stored',
        storedAt: Timestamp.fromMillis(nowMs),
      },
    };
  }
  return {
    stage: 'done',
    counted: 'done',
    fields: {
      stage: 'done',
      queue: null,
      attempts: 0,
      outcome: 'stored',
      storedAt: Timestamp.fromMillis(nowMs),
    },
  };
}

/**
 * Moves one batch's items on, in one transaction with the stage counts. Only items still in
 * the batch's stage move: applying the same batch again (a redelivered task, a retried
 * transaction) changes nothing.
 */
export async function applyIngestResults(
  db: Firestore,
  collection: string,
  kind: BatchKind,
  keys: readonly string[],
  results: readonly IngestItemResult[],
  nowMs: number,
  maxAttempts = DEFAULT_MAX_ATTEMPTS,
): Promise<MovedCounts> {
  const byKey = new Map(results.map((r) => [r.key, r]));
  const refs = [...new Set(keys)].map((key) => itemsRef(db, collection).doc(itemDocId(key)));
  if (refs.length === 0) return { commit: 0, light: 0, done: 0, failed: 0, retried: 0 };
  return db.runTransaction(async (tx) => {
    const moved: MovedCounts = { commit: 0, light: 0, done: 0, failed: 0, retried: 0 };
    const counts = new Map<IngestStage, number>();
    const snapshots = await tx.getAll(...refs);
    for (const snapshot of snapshots) {
      if (!snapshot.exists || snapshot.get('stage') !== kind) continue;
      const key = String(snapshot.get('key'));
      const attempts = Number(snapshot.get('attempts') ?? 0);
      const move = nextMove(kind, byKey.get(key), attempts, nowMs, maxAttempts);
      tx.update(snapshot.ref, { ...move.fields, updatedAt: Timestamp.fromMillis(nowMs) });
      moved[move.counted]++;
      counts.set(kind, (counts.get(kind) ?? 0) - 1);
      counts.set(move.stage, (counts.get(move.stage) ?? 0) + 1);
    }
    writeCounts(tx, stateRef(db, collection), counts, nowMs);
    return moved;
  });
}

function writeCounts(
  tx: FirebaseFirestore.Transaction,
  ref: FirebaseFirestore.DocumentReference,
  counts: Map<IngestStage, number>,
  nowMs: number,
): void {
  const changed = [...counts].filter(([, n]) => n !== 0);
  if (changed.length === 0) return;
  const increments = Object.fromEntries(changed.map(([s, n]) => [s, FieldValue.increment(n)]));
  tx.set(ref, { counts: increments, updatedAt: Timestamp.fromMillis(nowMs) }, { merge: true });
}

export interface NewIngestItem {
  key: string;
  data?: Record<string, unknown>;
}

export interface AddIngestItemsOptions {
  /** `peek` for discoveries (default); `light` for stored items due for a refresh. */
  stage?: 'peek' | 'light';
  nowMs: number;
  /** Light only: when the refresh falls due (default now). */
  dueAtMs?: number;
}

/** Items per transaction: reads plus writes plus the counts stay under Firestore's 500. */
const ADD_CHUNK = 200;

/**
 * Queues items. A key seen before keeps its state: rediscovering an item already peeked,
 * committed or rejected queues nothing. The one exception: a finished (done) item asked for
 * a light update goes back to the light queue.
 */
export async function addIngestItems(
  db: Firestore,
  collection: string,
  items: readonly NewIngestItem[],
  options: AddIngestItemsOptions,
): Promise<{ added: number; requeued: number; unchanged: number }> {
  const stage = options.stage ?? 'peek';
  const queue = queueValue(
    stage,
    stage === 'light' ? (options.dueAtMs ?? options.nowMs) : options.nowMs,
  );
  const unique = [...new Map(items.map((item) => [itemDocId(item.key), item])).entries()];
  // Every item document must fit Firestore's limits (discovery data is upstream data): a bad
  // one is refused, naming it, before any chunk is written.
  const at = Timestamp.fromMillis(options.nowMs);
  const itemDocs = itemsRef(db, collection);
  for (const [id, item] of unique) {
    assertWithinLimits(itemDocs.doc(id).path, newItemDocument(item, stage, queue, at));
  }
  const total = { added: 0, requeued: 0, unchanged: 0 };
  for (const [n, chunk] of chunked(unique, ADD_CHUNK).entries()) {
    if (n > 0) await paceFirestoreWork(db, 'ingest');
    const outcome = await db.runTransaction(async (tx) => {
      const result = { added: 0, requeued: 0, unchanged: 0 };
      const counts = new Map<IngestStage, number>();
      const refs = chunk.map(([id]) => itemsRef(db, collection).doc(id));
      const snapshots = await tx.getAll(...refs);
      snapshots.forEach((snapshot, j) => {
        const item = chunk[j]![1];
        if (!snapshot.exists) {
          tx.create(snapshot.ref, newItemDocument(item, stage, queue, at));
          counts.set(stage, (counts.get(stage) ?? 0) + 1);
          result.added++;
        } else if (stage === 'light' && snapshot.get('stage') === 'done') {
          tx.update(snapshot.ref, { stage, queue, attempts: 0, updatedAt: at });
          counts.set('done', (counts.get('done') ?? 0) - 1);
          counts.set(stage, (counts.get(stage) ?? 0) + 1);
          result.requeued++;
        } else {
          result.unchanged++;
        }
      });
      writeCounts(tx, stateRef(db, collection), counts, options.nowMs);
      return result;
    });
    total.added += outcome.added;
    total.requeued += outcome.requeued;
    total.unchanged += outcome.unchanged;
  }
  return total;
}

function newItemDocument(item: NewIngestItem, stage: BatchKind, queue: string, at: Timestamp) {
  return {
    key: item.key,
    ...(item.data ? { data: item.data } : {}),
    stage,
    queue,
    attempts: 0,
    addedAt: at,
    updatedAt: at,
  };
}
