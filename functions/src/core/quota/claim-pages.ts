import type { ClaimPorts, ClaimStats } from './claim-ports';
import type { DemandMeter } from './demand';
import { Every } from './every';
import type { Ledger, Look } from './ledger';
import type { PlannedLimit } from './limits';
import type { BlockRef } from './token-source';

/**
 * The claimer's pages (held by claimer.ts): what it knows of pages (split, or taken whole),
 * and how it claims a block through its page, whole for a busy instance or split.
 */

/** An instance takes a whole page when its demand would spend it within this time. */
const WHOLE_PAGE_WITHIN_MS = 1_000;
/** Blocks a busy instance looks through for a page it can take whole. */
const MAX_WHOLE_PAGE_SEARCH = 1_024;

/** Expired pages are forgotten at most this often. */
const PAGE_SWEEP_EVERY_MS = 1_000;

/** A page known split (its blocks are claimable one by one) or taken whole, until it expires. */
interface PageState {
  mode: 'split' | 'taken';
  expiresAtMs: number;
}

/** A block's page, or the block itself when its source has no pages. */
function pageId(ref: BlockRef): string {
  return ref.page?.id ?? ref.id;
}

/** When the block's first token can be spent (a spent window answers its guarded start). */
export function firstMintMs(limit: PlannedLimit, ref: BlockRef): number {
  return limit.source.mintMs(ref, ref.start);
}

/** Forgets candidate blocks inside a page that is now owned whole or known taken. */
export function dropPageBlocks(candidates: BlockRef[], page: BlockRef): void {
  for (let i = candidates.length - 1; i >= 0; i--) {
    const ref = candidates[i]!;
    if (ref.page?.id === page.id) candidates.splice(i, 1);
  }
}

/**
 * What this instance knows of pages and its claims through them: `claim` (a block, or its page
 * whole), `takenTest` and `knownTaken` (pages owned whole), `wholePageCandidate` (for a busy
 * instance).
 */
export class PageClaims {
  /** Pages known to be split (their blocks are claimable) or taken, by limit key and page id. */
  private readonly pages = new Map<string, Map<string, PageState>>();
  private readonly sweeps = new Every(PAGE_SWEEP_EVERY_MS);

  constructor(
    private readonly ports: ClaimPorts,
    private readonly ledgerFor: (key: string) => Ledger,
    private readonly demand: DemandMeter,
    private readonly stats: ClaimStats,
  ) {}

  /**
   * Claims a block, through its page: an instance whose demand would spend the whole page soon
   * takes it with one write; otherwise the page is split and only the block is taken. A page is
   * claimed once, in one mode, so whole and split claims can never overlap.
   */
  async claim(limit: PlannedLimit, ref: BlockRef, now: number): Promise<BlockRef | undefined> {
    const ledger = this.ledgerFor(limit.key);
    const page = ref.page;
    if (page) {
      const pages = this.pagesOf(limit);
      const key = pageId(ref);
      this.sweepPages(now);
      let mode = pages.get(key)?.mode;
      if (mode === undefined) {
        const whole = this.wantsWholePage(limit, page, now);
        const outcome = await this.ports.claimPage(limit.key, page, whole ? 'whole' : 'split');
        if (outcome === 'won') {
          this.stats.wholePages++;
          pages.set(key, { mode: 'taken', expiresAtMs: page.expiresAtMs });
          return page;
        }
        mode = outcome === 'split' ? 'split' : 'taken';
        pages.set(key, { mode, expiresAtMs: page.expiresAtMs });
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

  /**
   * Makes sure the pages of a run's blocks are split (claimed block by block), splitting those no
   * one has claimed yet: false when one is owned whole (by anyone), so the run cannot be had.
   */
  async splitAll(limit: PlannedLimit, run: BlockRef[], now: number): Promise<boolean> {
    const pages = this.pagesOf(limit);
    this.sweepPages(now);
    for (const ref of run) {
      const page = ref.page;
      if (!page) continue;
      const key = pageId(ref);
      let mode = pages.get(key)?.mode;
      if (mode === undefined) {
        const outcome = await this.ports.claimPage(limit.key, page, 'split');
        mode = outcome === 'split' ? 'split' : 'taken';
        pages.set(key, { mode, expiresAtMs: page.expiresAtMs });
      }
      if (mode === 'taken') return false;
    }
    return true;
  }

  /**
   * The pages a run covers whole that no one is known to have claimed: a run claims them whole,
   * one document for their blocks.
   */
  wholeIn(limit: PlannedLimit, run: BlockRef[]): BlockRef[] {
    const known = this.pagesOf(limit);
    const counts = new Map<string, { page: BlockRef; blocks: number; size: number }>();
    for (const ref of run) {
      const page = ref.page;
      if (!page || known.has(pageId(ref))) continue;
      const entry = counts.get(page.id) ?? { page, blocks: 0, size: ref.end - ref.start };
      entry.blocks++;
      counts.set(page.id, entry);
    }
    return [...counts.values()]
      .filter((c) => c.blocks * c.size >= c.page.end - c.page.start)
      .map((c) => c.page);
  }

  /** A page this instance now owns whole (claimed in a run). */
  owned(limit: PlannedLimit, page: BlockRef): void {
    this.pagesOf(limit).set(page.id, { mode: 'taken', expiresAtMs: page.expiresAtMs });
  }

  /** Blocks of pages owned whole (by anyone, this instance included) are not claimable. */
  takenTest(limit: PlannedLimit, now: number): (ref: BlockRef) => boolean {
    const pages = this.pagesOf(limit);
    return (ref) => {
      const page = pages.get(pageId(ref));
      return page !== undefined && page.mode === 'taken' && page.expiresAtMs > now;
    };
  }

  /**
   * Whether the block's page is known taken (owned whole by anyone, or lost whole), expired or
   * not: a lost claim's page whose other blocks are not worth trying.
   */
  knownTaken(limit: PlannedLimit, ref: BlockRef): boolean {
    return this.pagesOf(limit).get(pageId(ref))?.mode === 'taken';
  }

  /** The pages of the limit this instance knows about, by page id. */
  private pagesOf(limit: PlannedLimit): Map<string, PageState> {
    let pages = this.pages.get(limit.key);
    if (!pages) {
      pages = new Map();
      this.pages.set(limit.key, pages);
    }
    return pages;
  }

  /**
   * Forgets expired pages, at most once a second. A page outlives its blocks, so a block
   * still worth looking at never finds its page's entry expired.
   */
  private sweepPages(now: number): void {
    if (!this.sweeps.due(now)) return;
    for (const pages of this.pages.values()) {
      for (const [id, page] of pages) if (page.expiresAtMs <= now) pages.delete(id);
    }
  }

  /** A whole page is worth one write when this instance would spend it soon, before it expires. */
  private wantsWholePage(limit: PlannedLimit, page: BlockRef, now: number): boolean {
    const rate = this.demand.rate(limit.key, now);
    const tokens = page.end - page.start;
    if ((rate * WHOLE_PAGE_WITHIN_MS) / 1000 < tokens) return false;
    // Spent in order at that rate, the page's last token must still be valid when reached.
    const lastExpiry = limit.source.expiryMs(page, page.end - 1);
    return lastExpiry - now >= (tokens / rate) * 1000;
  }

  /**
   * For a busy instance, the first block of the oldest unclaimed page it can take whole among
   * those spendable now, looking past the candidates to the newest pages if need be; undefined
   * when there is none or the instance is not busy enough for pages.
   */
  wholePageCandidate(
    limit: PlannedLimit,
    candidates: BlockRef[],
    now: number,
    look: Look,
  ): BlockRef | undefined {
    const first = candidates[0]?.page;
    if (!first) return undefined;
    const rate = this.demand.rate(limit.key, now);
    if ((rate * WHOLE_PAGE_WITHIN_MS) / 1000 < first.end - first.start) return undefined;
    const find = (refs: BlockRef[]) =>
      refs.find((ref) => {
        if (!ref.page || ref.start !== ref.page.start || firstMintMs(limit, ref) > now) {
          return false;
        }
        return !this.pagesOf(limit).has(pageId(ref)) && this.wantsWholePage(limit, ref.page, now);
      });
    return (
      find(candidates) ??
      find(
        this.ledgerFor(limit.key).claimable(limit.source, now, 0, {
          ...look,
          max: MAX_WHOLE_PAGE_SEARCH,
        }),
      )
    );
  }
}
