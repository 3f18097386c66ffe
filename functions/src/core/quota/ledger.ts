import type { BlockRef, OwnedBlock, TokenSource } from './token-source';

const MAX_CANDIDATE_TIMES = 4096;
/** Claim candidates looked at per call, and known-taken blocks stepped over at most. */
const MAX_CLAIMABLE = 64;
const MAX_SKIPPED = 100_000;

interface Holding {
  block: OwnedBlock;
  source: TokenSource;
}

/**
 * One instance's tokens for one limit: the blocks it claimed and how far it has spent each.
 * Blocks may come from several sources (an allocation change starts a new token line while
 * the old one's tokens are still valid). Purely local and synchronous, so planning and taking
 * tokens for a call cannot interleave with another call in the same instance.
 */
export class Ledger {
  private holdings: Holding[] = [];
  /** Blocks another instance owns, remembered so they are not tried again. */
  private readonly taken = new Map<string, number>();

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
    for (let i = Math.max(0, cost - now - 1); i < mints.length; i++) {
      const at = mints[i]!;
      if (i > 0 && mints[i - 1] === at) continue;
      if (this.available(at) >= cost) return at;
    }
    return undefined;
  }

  /** Spends `cost` tokens at `atMs`, soonest to expire first. All or nothing. */
  take(cost: number, atMs: number): boolean {
    if (this.available(atMs) < cost) return false;
    let remaining = cost;
    for (const { block, source } of this.sorted()) {
      if (remaining === 0) break;
      const range = source.spendable(block, atMs);
      const n = Math.min(remaining, Math.max(0, range.end - range.start));
      if (n > 0) {
        block.cursor = range.start + n;
        remaining -= n;
      }
    }
    this.prune(atMs);
    return true;
  }

  /** Spends up to `cost` tokens at `atMs`; returns how many it could not. */
  takeUpTo(cost: number, atMs: number): number {
    const n = Math.min(cost, this.available(atMs));
    this.take(n, atMs);
    return cost - n;
  }

  /** Records a block this instance has just claimed. */
  add(ref: BlockRef, source: TokenSource): void {
    this.holdings.push({ block: { ...ref, cursor: ref.start }, source });
  }

  markTaken(id: string, expiresAtMs: number): void {
    this.taken.set(id, expiresAtMs);
  }

  /**
   * Up to `max` blocks of `source` worth claiming at `atMs`, oldest first: not owned, not known
   * to be taken. Candidates are generated lazily, so a huge bucket costs no more than a small one.
   */
  claimable(
    source: TokenSource,
    atMs: number,
    horizonMs: number,
    skip: (ref: BlockRef) => boolean = () => false,
    max = MAX_CLAIMABLE,
  ): BlockRef[] {
    const owned = new Set(this.holdings.map((h) => h.block.id));
    for (const [id, expiresAtMs] of this.taken) if (expiresAtMs <= atMs) this.taken.delete(id);
    const refs: BlockRef[] = [];
    let skipped = 0;
    for (const ref of source.candidates(atMs, horizonMs)) {
      if (refs.length >= max || skipped > MAX_SKIPPED) break;
      if (owned.has(ref.id) || this.taken.has(ref.id) || ref.expiresAtMs <= atMs || skip(ref)) {
        skipped++;
      } else refs.push(ref);
    }
    return refs;
  }

  ownedBlocks(): readonly OwnedBlock[] {
    return this.holdings.map((h) => h.block);
  }

  /** Drops blocks that are spent or whose tokens can no longer be spent. */
  prune(atMs: number): void {
    this.holdings = this.holdings.filter(({ block, source }) => {
      const live =
        block.cursor < block.end &&
        (block.validUntilMs === undefined || atMs < block.validUntilMs) &&
        source.spendable(block, atMs).start < block.end;
      // Ours, spent: never worth claiming again.
      if (!live) this.taken.set(block.id, block.expiresAtMs);
      return live;
    });
  }

  private sorted(): Holding[] {
    return [...this.holdings].sort(
      (a, b) =>
        (a.block.validFromMs ?? 0) - (b.block.validFromMs ?? 0) ||
        a.source.mintMs(a.block, a.block.cursor) - b.source.mintMs(b.block, b.block.cursor),
    );
  }
}
