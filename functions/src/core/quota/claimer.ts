import type { DemandMeter } from './demand';
import type { PageOutcome } from './gate';
import type { Ledger } from './ledger';
import type { PlannedLimit } from './limits';
import type { BlockRef } from './token-source';

/** An instance takes a whole page when its demand would spend it within this time. */
const WHOLE_PAGE_WITHIN_MS = 1_000;
/** Instances racing for the oldest blocks spread over this many of them. */
const CLAIM_SPREAD = 4;

export interface ClaimPorts {
  random(): number;
  claim(limitKey: string, ref: BlockRef): Promise<boolean>;
  claimPage(limitKey: string, page: BlockRef, mode: 'whole' | 'split'): Promise<PageOutcome>;
}

export interface ClaimStats {
  claimsWon: number;
  claimsLost: number;
  tokensClaimed: number;
  wholePages: number;
}

/**
 * Which blocks an instance claims, and how: oldest first among those it can spend before they
 * expire, through their pages (whole for a busy instance, block by block for an idle one),
 * one claim run at a time per limit.
 */
export class Claimer {
  private readonly claiming = new Map<string, Promise<boolean>>();
  /** Pages known to be split (their blocks are claimable) or taken, until they expire. */
  private readonly pages = new Map<string, { mode: 'split' | 'taken'; expiresAtMs: number }>();

  constructor(
    private readonly ports: ClaimPorts,
    private readonly ledgerFor: (key: string) => Ledger,
    private readonly demand: DemandMeter,
    private readonly stats: ClaimStats,
  ) {}

  /** Claims blocks until the limit's amount is covered within the horizon; one at a time per key. */
  claimFor(limit: PlannedLimit, now: number, horizonMs: number): Promise<boolean> {
    const running = this.claiming.get(limit.key);
    if (running) return running;
    const promise = this.claimBlocks(limit, now, horizonMs).finally(() =>
      this.claiming.delete(limit.key),
    );
    this.claiming.set(limit.key, promise);
    return promise;
  }

  private async claimBlocks(limit: PlannedLimit, now: number, horizonMs: number): Promise<boolean> {
    const ledger = this.ledgerFor(limit.key);
    const all = ledger.claimable(limit.source, now, horizonMs, this.pageTaken(limit, now));
    // Skip blocks this instance would let expire, but never all of those spendable now: the
    // newest one always stays a candidate, so a starved instance cannot talk itself out of work.
    const newestNow = all.filter((ref) => this.firstMintMs(limit, ref) <= now).at(-1);
    const candidates = all.filter(
      (ref) => ref === newestNow || this.canSpendInTime(limit, ref, now),
    );
    let claimedAny = false;
    while (candidates.length > 0) {
      const ready = ledger.readyAt(limit.amount, now);
      if (ready === now) break;
      // Blocks with tokens now come first; only once those are gone is waiting acceptable.
      const spendableNow = candidates.filter((ref) => this.firstMintMs(limit, ref) <= now).length;
      if (spendableNow === 0 && ready !== undefined && ready - now <= horizonMs) break;
      // Oldest first (they expire first), at random among the oldest few so that instances
      // running out together spread over different blocks instead of racing for one.
      const pick = Math.floor(
        this.ports.random() * Math.min(CLAIM_SPREAD, Math.max(1, spendableNow)),
      );
      const [ref] = candidates.splice(pick, 1);
      if (!ref) break;
      const won = await this.claimBlockOrPage(limit, ref, now);
      if (won) {
        ledger.add(won, limit.source);
        claimedAny = true;
        this.stats.claimsWon++;
        this.stats.tokensClaimed += won.end - won.start;
        if (won !== ref) this.dropPageBlocks(candidates, won);
      } else {
        this.stats.claimsLost++;
        if (this.pages.get(this.pageKey(limit, ref))?.mode === 'taken') {
          this.dropPageBlocks(candidates, ref.page!);
        }
      }
    }
    return claimedAny;
  }

  /**
   * Claims a block, through its page: an instance whose demand would spend the whole page soon
   * takes it with one write; otherwise the page is split and only the block is taken. A page is
   * claimed once, in one mode, so whole and split claims can never overlap.
   */
  private async claimBlockOrPage(
    limit: PlannedLimit,
    ref: BlockRef,
    now: number,
  ): Promise<BlockRef | undefined> {
    const ledger = this.ledgerFor(limit.key);
    const page = ref.page;
    if (page) {
      const key = this.pageKey(limit, ref);
      for (const [k, v] of this.pages) if (v.expiresAtMs <= now) this.pages.delete(k);
      let mode = this.pages.get(key)?.mode;
      if (mode === undefined) {
        const whole = this.wantsWholePage(limit, page, now);
        const outcome = await this.ports.claimPage(limit.key, page, whole ? 'whole' : 'split');
        if (outcome === 'won') {
          this.stats.wholePages++;
          this.pages.set(key, { mode: 'taken', expiresAtMs: page.expiresAtMs });
          return page;
        }
        mode = outcome === 'split' ? 'split' : 'taken';
        this.pages.set(key, { mode, expiresAtMs: page.expiresAtMs });
      }
      if (mode === 'taken') {
        ledger.markTaken(ref.id, ref.expiresAtMs);
        return undefined;
      }
    }
    if (await this.ports.claim(limit.key, ref)) return ref;
    ledger.markTaken(ref.id, ref.expiresAtMs);
    return undefined;
  }

  /** Blocks of pages owned whole (by anyone, this instance included) are not claimable. */
  private pageTaken(limit: PlannedLimit, now: number): (ref: BlockRef) => boolean {
    return (ref) => {
      const page = this.pages.get(this.pageKey(limit, ref));
      return page !== undefined && page.mode === 'taken' && page.expiresAtMs > now;
    };
  }

  private pageKey(limit: PlannedLimit, ref: BlockRef): string {
    return `${limit.key}/${ref.page?.id ?? ref.id}`;
  }

  /** A whole page is worth one write when this instance would spend it soon, before it expires. */
  private wantsWholePage(limit: PlannedLimit, page: BlockRef, now: number): boolean {
    const rate = this.demand.rate(limit.key, now);
    const tokens = page.end - page.start;
    if ((rate * WHOLE_PAGE_WITHIN_MS) / 1000 < tokens) return false;
    // Spent in order at that rate, the page's last token must still be valid when reached.
    const lastExpiry = limit.source.expiryMs({ ...page, cursor: page.start }, page.end - 1);
    return lastExpiry - now >= (tokens / rate) * 1000;
  }

  /** Forgets candidate blocks inside a page that is now owned whole or known taken. */
  private dropPageBlocks(candidates: BlockRef[], page: BlockRef): void {
    for (let i = candidates.length - 1; i >= 0; i--) {
      const ref = candidates[i]!;
      if (ref.page?.id === page.id) candidates.splice(i, 1);
    }
  }

  /**
   * Whether this instance, at the rate it has been asking, can use a block's tokens before
   * they expire. Claiming one it cannot would strand tokens another instance could have used.
   */
  private canSpendInTime(limit: PlannedLimit, ref: BlockRef, now: number): boolean {
    const rate = this.demand.rate(limit.key, now);
    if (rate <= 0) return true;
    const lifeMs = this.expiryOfFirstMs(limit, ref) - Math.max(now, this.firstMintMs(limit, ref));
    return lifeMs >= ((ref.end - ref.start) / rate) * 1000;
  }

  private expiryOfFirstMs(limit: PlannedLimit, ref: BlockRef): number {
    if (ref.validUntilMs !== undefined) return ref.validUntilMs;
    return limit.source.expiryMs({ ...ref, cursor: ref.start }, ref.start);
  }

  firstMintMs(limit: PlannedLimit, ref: BlockRef): number {
    return ref.validFromMs ?? limit.source.mintMs({ ...ref, cursor: ref.start }, ref.start);
  }

  /** When a block not yet known to be taken first becomes spendable, beyond the horizon. */
  nextClaimableMs(limit: PlannedLimit, now: number, horizonMs: number): number {
    const ledger = this.ledgerFor(limit.key);
    for (const reach of [
      horizonMs * 2 + 1_000,
      horizonMs * 10 + 60_000,
      3_600_000,
      32 * 86_400_000,
    ]) {
      const refs = ledger.claimable(limit.source, now, reach, this.pageTaken(limit, now));
      if (refs.length > 0) {
        return Math.max(now + 1, Math.min(...refs.map((ref) => this.firstMintMs(limit, ref))));
      }
    }
    return now + horizonMs + 1_000;
  }
}
