import { Every } from './every';
import type { BlockRef, OwnedBlock, TokenSource } from './token-source';

const MAX_CANDIDATE_TIMES = 4096;
/** Claim candidates looked at per call, and known-taken blocks stepped over at most. */
const MAX_CLAIMABLE = 64;
const MAX_SKIPPED = 100_000;
/** Expired entries are dropped at most this often. */
const SWEEP_EVERY_MS = 5_000;

/**
 * A numbered source's blocks before `ordinal` are gone (owned, spent, known taken) or expired,
 * at `fromMs` and any later time.
 */
interface Floor {
  ordinal: number;
  fromMs: number;
}

/** What a look for claimable blocks leaves out, and how many it returns. */
export interface Look {
  /** Left out for this look only (galloped over by the current run). */
  skip?: (ref: BlockRef) => boolean;
  /** Known taken elsewhere until the block expires (a page another instance owns whole). */
  gone?: (ref: BlockRef) => boolean;
  max?: number;
  /** Include blocks presumed taken (tried last). */
  withPresumed?: boolean;
}

interface Holding {
  block: OwnedBlock;
  source: TokenSource;
}

/** Which tokens a grant took, so that they can be given back. */
export type Receipt = Array<{ holding: Holding; from: number; to: number }>;

/**
 * One instance's tokens for one limit: the blocks it claimed and how far it has spent each.
 * Blocks may come from several sources (an allocation change starts a new token line while
 * the old one's tokens are still valid). Purely local and synchronous, so planning and taking
 * tokens for a call cannot interleave with another call in the same instance.
 */
export class Ledger {
  private holdings: Holding[] = [];
  /** The ids of the blocks held, built when first needed after the holdings change. */
  private owned: Set<string> | undefined;
  /** Blocks known to be owned (by another instance, or spent here), until they expire. */
  private readonly taken = new Map<string, number>();
  /**
   * Blocks guessed to be taken (galloped over after lost claims), until the guess lapses. A
   * guess is not knowledge: such blocks are tried last, never treated as gone for good.
   */
  private readonly presumed = new Map<string, number>();
  /** Per numbered source: where its known-gone start ends (see {@link claimable}). */
  private readonly floors = new WeakMap<TokenSource, Floor>();
  private readonly sweeps = new Every(SWEEP_EVERY_MS);

  /** Tokens spendable at `atMs`. */
  available(atMs: number): number {
    let count = 0;
    for (const { block, source } of this.holdings) {
      const range = source.spendable(block, atMs);
      count += Math.max(0, range.end - range.start);
    }
    return count;
  }

  /**
   * The earliest time `cost` tokens can be spent with the blocks owned now (undefined when
   * they cannot: more blocks must be claimed). Tokens expire, so only tokens still valid at
   * that time count.
   */
  readyAt(cost: number, atMs: number): number | undefined {
    const now = this.available(atMs);
    if (now >= cost) return atMs;
    // Tokens only become spendable at mint times, so the answer is the mint time of one of the
    // owned unspent tokens; the (cost - now)-th soonest is the first that can complete the call.
    const mints: number[] = [];
    for (const { block, source } of this.sorted()) {
      for (let n = Math.max(block.cursor, block.start); n < block.end; n++) {
        const at = source.mintMs(block, n);
        if (at > atMs) mints.push(at);
        if (mints.length >= MAX_CANDIDATE_TIMES) break;
      }
    }
    mints.sort((a, b) => a - b);
    const first = Math.max(0, cost - now - 1);
    for (let i = first; i < mints.length; i++) {
      const at = mints[i]!;
      if (i > first && mints[i - 1] === at) continue;
      if (this.available(at) >= cost) return at;
    }
    return undefined;
  }

  /**
   * Spends `cost` tokens at `atMs`, soonest to expire first. All or nothing: undefined when
   * they are not there. The receipt gives them back with {@link refund}.
   */
  take(cost: number, atMs: number): Receipt | undefined {
    if (this.available(atMs) < cost) return undefined;
    const receipt: Receipt = [];
    let remaining = cost;
    for (const holding of this.sorted()) {
      if (remaining === 0) break;
      const range = holding.source.spendable(holding.block, atMs);
      const n = Math.min(remaining, Math.max(0, range.end - range.start));
      if (n > 0) {
        receipt.push({ holding, from: range.start, to: range.start + n });
        holding.block.cursor = range.start + n;
        remaining -= n;
      }
    }
    this.prune(atMs);
    return receipt;
  }

  /**
   * Gives back tokens a grant took and did not use (a cooldown or a full concurrency cap found
   * after waiting). They stay this instance's: nobody else may claim them again.
   */
  refund(receipt: Receipt): void {
    for (const { holding, from, to } of receipt) {
      const block = holding.block;
      this.owned = undefined;
      this.holdings.push({
        block: { ...block, id: `${block.id}@${from}`, start: from, end: to, cursor: from },
        source: holding.source,
      });
    }
  }

  /** Spends up to `cost` tokens at `atMs`; returns how many it could not. */
  takeUpTo(cost: number, atMs: number): number {
    const n = Math.min(cost, this.available(atMs));
    this.take(n, atMs);
    return cost - n;
  }

  /** Owned tokens not yet spent that are valid at `atMs` or will be minted later. */
  unspent(atMs: number, select: (block: OwnedBlock) => boolean = () => true): number {
    let count = 0;
    for (const { block, source } of this.holdings) {
      if (!select(block)) continue;
      const range = source.unspent(block, atMs);
      count += Math.max(0, range.end - range.start);
    }
    return count;
  }

  /**
   * Pays `cost` after the fact with owned tokens valid now or later, soonest first, minted or
   * not: they are claimed, so nobody else spends them, which makes the payment durable even if
   * this instance dies. Returns how many it could not pay.
   */
  burn(cost: number, atMs: number, select: (block: OwnedBlock) => boolean = () => true): number {
    let remaining = cost;
    for (const { block, source } of this.sorted()) {
      if (remaining === 0) break;
      if (!select(block)) continue;
      const range = source.unspent(block, atMs);
      const n = Math.min(remaining, Math.max(0, range.end - range.start));
      if (n > 0) {
        block.cursor = range.start + n;
        remaining -= n;
      }
    }
    this.prune(atMs);
    return remaining;
  }

  /**
   * Removes and returns the unspent part of every block the filter selects (window tokens an
   * idle or departing instance gives back). What is returned is no longer spent here.
   */
  release(atMs: number, select: (block: OwnedBlock) => boolean): OwnedBlock[] {
    const released: OwnedBlock[] = [];
    this.owned = undefined;
    this.holdings = this.holdings.filter(({ block, source }) => {
      if (!select(block)) return true;
      const range = source.unspent(block, atMs);
      if (range.end > range.start) {
        released.push({ ...block, start: range.start, cursor: range.start, end: range.end });
      }
      this.markTaken(block.id, block.expiresAtMs);
      return false;
    });
    return released;
  }

  /** Records a block this instance has just claimed. */
  add(ref: BlockRef, source: TokenSource): void {
    this.owned = undefined;
    this.holdings.push({ block: { ...ref, cursor: ref.start }, source });
  }

  /** A block known to be taken: a lost claim, or one of ours given back or spent. */
  markTaken(id: string, expiresAtMs: number): void {
    this.taken.set(id, expiresAtMs);
    this.presumed.delete(id);
  }

  /** A block guessed to be taken, not tried again (before the others) until `untilMs`. */
  presumeTaken(id: string, untilMs: number): void {
    if (!this.taken.has(id)) this.presumed.set(id, untilMs);
  }

  /** Drops the guess that a block is taken: it is a candidate like any other again. */
  unpresume(id: string): void {
    this.presumed.delete(id);
  }

  /**
   * Up to `max` blocks of `source` worth claiming at `atMs`, oldest first: not owned, not known
   * to be taken, not `gone` (known taken elsewhere: a page owned whole), not skipped, and
   * (unless `withPresumed`) not presumed taken. Candidates are generated lazily, so a huge bucket
   * costs no more than a small one; and where they are numbered, the run of blocks at the start
   * known to be gone for good is remembered, so the next look starts after it.
   */
  claimable(source: TokenSource, atMs: number, horizonMs: number, look: Look = {}): BlockRef[] {
    const { skip, gone, max = MAX_CLAIMABLE, withPresumed = false } = look;
    this.sweep(atMs);
    this.owned ??= new Set(this.holdings.map((h) => h.block.id));
    const owned = this.owned;
    const refs: BlockRef[] = [];
    let skipped = 0;
    // The floor holds from its time on. A look at an earlier time (the clock stepped back)
    // looks through every block, and leaves the floor as it is.
    const floor = this.floors.get(source);
    const usable = floor && atMs >= floor.fromMs ? floor : undefined;
    let prefix = floor === undefined || usable !== undefined;
    let fromMs: number | undefined;
    for (const ref of source.candidates(atMs, horizonMs, usable?.ordinal)) {
      if (refs.length >= max || skipped > MAX_SKIPPED) break;
      // Owned, spent or lost stays so until the block expires: never a candidate again.
      const forGood = owned.has(ref.id) || this.taken.has(ref.id) || gone?.(ref) === true;
      if (prefix && forGood && ref.ordinal !== undefined) {
        // The blocks before this one are the floor's, or expired (the source no longer offers
        // them): the new floor holds from the floor's time and from when the last of them expired.
        fromMs ??= Math.max(
          usable?.fromMs ?? Number.NEGATIVE_INFINITY,
          ref.ordinal === usable?.ordinal || ref.start === 0
            ? Number.NEGATIVE_INFINITY
            : source.expiryMs(ref, ref.start - 1),
        );
        this.floors.set(source, { ordinal: ref.ordinal + 1, fromMs });
      } else prefix = false;
      if (
        forGood ||
        ref.expiresAtMs <= atMs ||
        (!withPresumed && (this.presumed.get(ref.id) ?? 0) > atMs) ||
        skip?.(ref) === true
      ) {
        skipped++;
      } else refs.push(ref);
    }
    return refs;
  }

  /**
   * Forgets known-taken blocks once they have expired, and lapsed guesses (at most every
   * 5 s: both are checked against the time where they are read).
   */
  private sweep(atMs: number): void {
    if (!this.sweeps.due(atMs)) return;
    // forEach, not for-of over entries: no [key, value] array made per entry (a busy replay
    // sweeps millions of entries: 7 million in 3 simulated hours of the replay bench).
    dropThrough(this.taken, atMs);
    dropThrough(this.presumed, atMs);
  }

  ownedBlocks(): readonly OwnedBlock[] {
    return this.holdings.map((h) => h.block);
  }

  /** Drops blocks that are spent or whose tokens can no longer be spent. */
  prune(atMs: number): void {
    const before = this.holdings.length;
    this.holdings = this.holdings.filter(({ block, source }) => {
      const unspent = source.unspent(block, atMs);
      const live =
        block.cursor < block.end &&
        (block.validUntilMs === undefined || atMs < block.validUntilMs) &&
        unspent.start < unspent.end;
      // Ours, spent: never worth claiming again.
      if (!live) this.taken.set(block.id, block.expiresAtMs);
      return live;
    });
    if (this.holdings.length !== before) this.owned = undefined;
  }

  private sorted(): Holding[] {
    return [...this.holdings].sort(
      (a, b) =>
        (a.block.validFromMs ?? 0) - (b.block.validFromMs ?? 0) ||
        a.source.mintMs(a.block, a.block.cursor) - b.source.mintMs(b.block, b.block.cursor),
    );
  }
}

/** Deletes the entries whose time is at or before `atMs` (deleting while iterating is safe). */
function dropThrough(times: Map<string, number>, atMs: number): void {
  times.forEach((ms, id) => {
    if (ms <= atMs) times.delete(id);
  });
}
