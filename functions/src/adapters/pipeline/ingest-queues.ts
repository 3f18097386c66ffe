import type { Firestore, QueryDocumentSnapshot } from 'firebase-admin/firestore';
import {
  type BatchingConfig,
  type BatchKind,
  type BatchQueues,
  batchKinds,
} from '../../core/pipeline/batching';
import { isReservedName } from '../../core/storage/firestore-names';

/**
 * The ingest items and their queues in Firestore: where they are stored, their document ids and
 * `queue` values, the front of each queue and the counts per stage.
 *
 * Storage: `ingest/{collection}` holds counts per stage and the last slice's summary; every
 * item is its own document `ingest/{collection}/items/{key}`. Queues are therefore unbounded
 * (no 1 MiB document to page), a move is one small write per item, and a key can exist only
 * once, so rediscovery and redelivered batches cannot duplicate it. Each item carries `queue`,
 * "{stage}:{zero-padded ms}" (peek: discovered at; commit: peeked at; light: due at), so a
 * stage is read oldest-first with one range query on a single field: the automatic index
 * serves it, no composite index needed. Finished items keep their document (stage done or
 * failed, queue null), which is what makes rediscovering them a no-op.
 */

export const INGEST_COLLECTION = 'ingest';

export type IngestStage = BatchKind | 'done' | 'failed';

/** One item as fetchers see it. */
export interface IngestItem {
  key: string;
  /** Whatever discovery attached (a marketplace, a domain id...); keep it small. */
  data?: Record<string, unknown>;
  /** Failed upstream answers so far in this stage. */
  attempts: number;
}

// ---- Items and queues ------------------------------------------------------------------

const PLAIN_KEY = /^[A-Za-z0-9_-]{1,500}$/;
const MAX_KEY_LENGTH = 500;
/** `~` and the base64 of this many bytes is 1,500 bytes, Firestore's longest document id. */
const MAX_ENCODED_KEY_BYTES = 1124;

/**
 * Plain keys (ASINs...) are their own document id; anything else is encoded, prefixed `~`:
 * other characters, and plain keys of the form Firestore reserves (`__x__`).
 */
export function itemDocId(key: string): string {
  if (key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new RangeError(`ingest item keys have 1 to ${MAX_KEY_LENGTH} characters`);
  }
  if (PLAIN_KEY.test(key) && !isReservedName(key)) return key;
  const bytes = Buffer.from(key, 'utf8');
  if (bytes.length > MAX_ENCODED_KEY_BYTES) {
    throw new RangeError(
      `ingest item key "${key.slice(0, 40)}..." is ${bytes.length} bytes: a key with characters other than A-Z a-z 0-9 _ - has at most ${MAX_ENCODED_KEY_BYTES} (its document id, base64, is limited to 1,500)`,
    );
  }
  return `~${bytes.toString('base64url')}`;
}

export function stateRef(db: Firestore, collection: string) {
  return db.collection(INGEST_COLLECTION).doc(collection);
}

export function itemsRef(db: Firestore, collection: string) {
  return stateRef(db, collection).collection('items');
}

/** An item's `queue`: "{stage}:{ms, 15 digits}"; fixed width, so string order is time order. */
export function queueValue(stage: BatchKind, atMs: number): string {
  return `${stage}:${String(Math.max(0, Math.floor(atMs))).padStart(15, '0')}`;
}

/** The time in an item's `queue` value; null when it is not one. */
export function queueTimeMs(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const ms = Number(value.slice(value.indexOf(':') + 1));
  return Number.isFinite(ms) ? ms : null;
}

function toItem(doc: QueryDocumentSnapshot): IngestItem {
  const data = doc.get('data') as Record<string, unknown> | undefined;
  return {
    key: String(doc.get('key')),
    attempts: Number(doc.get('attempts') ?? 0),
    ...(data ? { data } : {}),
  };
}

/**
 * The front of each queue, in the planner's priority order. The planner takes the first kind
 * with work, so once one has items the others are not read; at most one batch's worth is.
 */
export async function loadQueues(
  db: Firestore,
  collection: string,
  config: BatchingConfig,
  nowMs: number,
): Promise<BatchQueues<IngestItem>> {
  const queues: Record<BatchKind, IngestItem[]> = { peek: [], commit: [], light: [] };
  for (const kind of config.order) {
    // Light items wait for their due time; the others are due when queued.
    const upper = kind === 'light' ? queueValue('light', nowMs) : `${kind};`;
    const snapshot = await itemsRef(db, collection)
      .where('queue', '>=', `${kind}:`)
      .where('queue', '<=', upper)
      .orderBy('queue')
      .limit(config[kind].size)
      .get();
    queues[kind] = snapshot.docs.map(toItem);
    if (queues[kind].length > 0) break;
  }
  return queues;
}

/** When the next light update falls due, if one is scheduled. */
export async function nextLightDue(
  db: Firestore,
  collection: string,
  nowMs: number,
): Promise<number | undefined> {
  const snapshot = await itemsRef(db, collection)
    .where('queue', '>', queueValue('light', nowMs))
    .where('queue', '<', 'light;')
    .orderBy('queue')
    .limit(1)
    .get();
  return snapshot.empty ? undefined : (queueTimeMs(snapshot.docs[0]!.get('queue')) ?? undefined);
}

/** Items per stage, from the counts kept with every move. */
export async function ingestCounts(
  db: Firestore,
  collection: string,
): Promise<Record<IngestStage, number>> {
  const counts = ((await stateRef(db, collection).get()).get('counts') ?? {}) as Record<
    string,
    number
  >;
  const stages: IngestStage[] = [...batchKinds, 'done', 'failed'];
  return Object.fromEntries(stages.map((s) => [s, counts[s] ?? 0])) as Record<IngestStage, number>;
}
