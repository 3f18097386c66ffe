import { createHash } from 'node:crypto';
import {
  FieldValue,
  type Firestore,
  type QueryDocumentSnapshot,
  Timestamp,
} from 'firebase-admin/firestore';

import type { BlockRef, OwnedBlock, ReturnWindow } from '../../core/quota/token-source';
import { docId, isAlreadyExists, QUOTA_COLLECTIONS } from './collections';

/** After finding no returned range of a window, an instance does not look again this long. */
export const NO_RETURNS_CACHE_MS = 5_000;
/** Returned ranges read per look; a taker tries them in random order. */
const TAKE_BATCH = 8;
/** Looks per take: a second one when every range read was taken by others first. */
const TAKE_LOOKS = 2;
/** Block ids of taken ranges grow by one suffix per hand-over; longer ones are hashed. */
const MAX_BLOCK_ID = 200;

export interface WindowReturnsOptions {
  now?: () => number;
  random?: () => number;
  /** Called for every document this instance writes (a range given back, or one taken). */
  onWrite?: () => void;
  /** Called with the documents a look read (at least 1: a query costs a read). */
  onRead?: (documents: number) => void;
  noneCacheMs?: number;
}

/**
 * Window tokens given back, in `quotaReturns`: an instance going away (or idle) writes the
 * unspent part of each window block it held as a document, created if absent (its id names the
 * limit, the block and the first unspent token, so a retried write never duplicates a range).
 * Another instance whose claims find the window's regular blocks exhausted reads the window's
 * untaken ranges and takes one by marking it taken with a precondition on the version it read:
 * of two instances racing for a range, exactly one succeeds. A taken range stays as a
 * document until its window ends (`expiresAt`, a TTL policy), so a retried give-back of it
 * fails instead of handing it out again.
 */
export class WindowReturns {
  /** Documents written: ranges given back and ranges taken. */
  writes = 0;
  /** Documents read by looks for returned ranges. */
  reads = 0;
  tokensGiven = 0;
  tokensTaken = 0;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly noneCacheMs: number;
  /** Windows found without returned ranges, by limit key and window start, until when. */
  private readonly none = new Map<string, number>();

  constructor(
    private readonly db: Firestore,
    private readonly owner: string,
    private readonly options: WindowReturnsOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.noneCacheMs = options.noneCacheMs ?? NO_RETURNS_CACHE_MS;
  }

  private collection() {
    return this.db.collection(QUOTA_COLLECTIONS.returns);
  }

  /**
   * Writes a range the caller has already removed from its ledger (so it is never spent twice).
   * False when there is nothing to give (empty, not a window block, window over) or when the
   * document exists already (this very range was given back before: a retried write).
   */
  async give(limitKey: string, block: OwnedBlock): Promise<boolean> {
    const { validFromMs: windowStart, validUntilMs: windowEnd } = block;
    const start = Math.max(block.start, block.cursor);
    if (windowStart === undefined || windowEnd === undefined) return false;
    if (block.end <= start || this.now() >= windowEnd) return false;
    try {
      await this.collection()
        .doc(docId(limitKey, block.id, String(start)))
        .create({
          limit: limitKey,
          block: block.id,
          windowStart,
          windowEnd,
          start,
          end: block.end,
          taken: false,
          givenBy: this.owner,
          givenAt: FieldValue.serverTimestamp(),
          expiresAt: Timestamp.fromMillis(windowEnd),
        });
    } catch (error) {
      if (isAlreadyExists(error)) return false;
      throw error;
    }
    this.writes++;
    this.tokensGiven += block.end - start;
    this.options.onWrite?.();
    this.none.delete(noneKey(limitKey, windowStart));
    return true;
  }

  /**
   * Takes one untaken range of the window for good, as a block of this instance valid for the
   * window; undefined when none is left (remembered for a few seconds, so an exhausted window
   * costs at most one read per instance that often).
   */
  async take(limitKey: string, window: ReturnWindow): Promise<BlockRef | undefined> {
    const key = noneKey(limitKey, window.startMs);
    const now = this.now();
    const until = this.none.get(key);
    if (until !== undefined && until > now) return undefined;
    this.none.delete(key);
    for (let look = 0; look < TAKE_LOOKS; look++) {
      const snapshot = await this.collection()
        .where('limit', '==', limitKey)
        .where('windowStart', '==', window.startMs)
        .where('taken', '==', false)
        .limit(TAKE_BATCH)
        .get();
      this.reads += Math.max(1, snapshot.size);
      this.options.onRead?.(Math.max(1, snapshot.size));
      const docs = shuffle(snapshot.docs.filter(isRange), this.random);
      if (docs.length === 0) break;
      for (const doc of docs) {
        const taken = await this.takeOne(doc);
        if (taken) return taken;
      }
    }
    this.none.set(key, this.now() + this.noneCacheMs);
    return undefined;
  }

  /** Marks one range taken, if nobody changed it since it was read. */
  private async takeOne(doc: QueryDocumentSnapshot): Promise<BlockRef | undefined> {
    try {
      await doc.ref.update(
        { taken: true, takenBy: this.owner, takenAt: FieldValue.serverTimestamp() },
        { lastUpdateTime: doc.updateTime },
      );
    } catch (error) {
      // FAILED_PRECONDITION (taken since it was read) or NOT_FOUND (expired and deleted).
      const code = (error as { code?: number }).code;
      if (code === 9 || code === 5) return undefined;
      throw error;
    }
    this.writes++;
    this.options.onWrite?.();
    const data = doc.data();
    this.tokensTaken += data.end - data.start;
    return {
      // Its own id: if this instance gives the range back again, even unspent, the new
      // document cannot collide with the one just taken.
      id: takenBlockId(data.block, data.start),
      start: data.start,
      end: data.end,
      validFromMs: data.windowStart,
      validUntilMs: data.windowEnd,
      expiresAtMs: data.windowEnd,
    };
  }
}

function noneKey(limitKey: string, windowStartMs: number): string {
  return `${limitKey}|${windowStartMs}`;
}

function isRange(doc: QueryDocumentSnapshot): boolean {
  const { block, start, end, windowStart, windowEnd } = doc.data();
  return (
    typeof block === 'string' &&
    [start, end, windowStart, windowEnd].every(
      (n) => typeof n === 'number' && Number.isFinite(n),
    ) &&
    end > start
  );
}

/** The id of a taken range in the taker's ledger: unique per range handed over. */
export function takenBlockId(block: string, start: number): string {
  const id = `${block}^${start}`;
  if (id.length <= MAX_BLOCK_ID) return id;
  return `r-${createHash('sha256').update(id).digest('hex').slice(0, 32)}`;
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
