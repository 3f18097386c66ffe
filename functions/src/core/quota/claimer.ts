import type { DemandMeter } from './demand';
import type { Ledger, Look } from './ledger';
import type { PlannedLimit } from './limits';
import type { BlockRef, OwnedBlock, PageOutcome, ReturnWindow } from './token-source';
import { windowAt } from './windows';

/** An instance takes a whole page when its demand would spend it within this time. */
const WHOLE_PAGE_WITHIN_MS = 1_000;
/** Blocks a busy instance looks through for a page it can take whole. */
const MAX_WHOLE_PAGE_SEARCH = 1_024;
/** A cold instance claims line blocks whose first token is still valid this long. */
const COLD_MIN_LIFE_MS = 250;
/** Instances racing for the oldest blocks spread over this many of them. */
const CLAIM_SPREAD = 4;
/** Claims one run may lose before it answers "retry later" (each loss is a failed create). */
const MAX_LOST_CLAIMS = 24;
/**
 * Windows: a run may lose more before it answers "soon", since a window's blocks never come
 * back (a line's newer blocks do): enough to find a free tenth of a busy window at once.
 */
const MAX_LOST_WINDOW_CLAIMS = 48;
/** Fresh looks at the candidates one run may take after losing all it had. */
const MAX_SCANS = 4;
/** Blocks galloped over after lost claims are presumed taken (tried last) for this long. */
const PRESUMED_TAKEN_MS = 10_000;
/** A run that gave up on contended blocks answers "retry" this long (up to twice) later. */
const RETRY_CONTENDED_MS = 25;
/** Ranges given back by other instances one run may take. */
const MAX_RETURNS_PER_RUN = 4;
/** Window blocks one scan looks at (all of a window with the default 200 blocks). */
const MAX_WINDOW_CANDIDATES = 1_024;
/**
 * Window gallops skip 3, 15, 63... blocks after successive losses (lines: 1, 3, 7...), then
 * half of what is left.
 */
const WINDOW_GALLOP_BASE = 4;

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

export interface ClaimPorts {
  random(): number;
  claim(limitKey: string, ref: BlockRef): Promise<boolean>;
  claimPage(limitKey: string, page: BlockRef, mode: 'whole' | 'split'): Promise<PageOutcome>;
  /** Takes a range of the window's tokens another instance gave back (see GatePorts). */
  takeReturn?(limitKey: string, window: ReturnWindow): Promise<BlockRef | undefined>;
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
  /** Pages known to be split (their blocks are claimable) or taken, by limit key and page id. */
  private readonly pages = new Map<string, Map<string, PageState>>();
  private nextPageSweepMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly ports: ClaimPorts,
    private readonly ledgerFor: (key: string) => Ledger,
    private readonly demand: DemandMeter,
    private readonly stats: ClaimStats,
  ) {}

  /** Claims blocks until the limit's amount is covered within the horizon; one at a time per key. */
  claimFor(limit: PlannedLimit, now: number, horizonMs: number): Promise<boolean> {
    const ledger = this.ledgerFor(limit.key);
    return this.oneAtATime(limit.key, () =>
      // Enough: tokens now, or, once no block has tokens now, tokens within the horizon.
      this.claimBlocks(limit, now, horizonMs, (spendableNow) => {
        const ready = ledger.readyAt(limit.amount, now);
        if (ready === now) return true;
        return spendableNow === 0 && ready !== undefined && ready - now <= horizonMs;
      }),
    );
  }

  /**
   * Claims blocks until the ledger holds `needed` unspent tokens valid at `atMs` or later (a
   * settlement paying an actual cost above the estimate). True when it does.
   */
  async claimUnspent(
    limit: PlannedLimit,
    atMs: number,
    needed: number,
    horizonMs: number,
    select?: (block: OwnedBlock) => boolean,
  ): Promise<boolean> {
    const ledger = this.ledgerFor(limit.key);
    const enough = () => ledger.unspent(atMs, select) >= needed;
    for (let round = 0; round < 4 && !enough(); round++) {
      await this.oneAtATime(limit.key, () => this.claimBlocks(limit, atMs, horizonMs, enough));
    }
    return enough();
  }

  private oneAtATime(key: string, run: () => Promise<boolean>): Promise<boolean> {
    const running = this.claiming.get(key);
    if (running) return running;
    const promise = run().finally(() => this.claiming.delete(key));
    this.claiming.set(key, promise);
    return promise;
  }

  private async claimBlocks(
    limit: PlannedLimit,
    now: number,
    horizonMs: number,
    /** `spendableNow`: candidates with tokens now, counted up to CLAIM_SPREAD. */
    enough: (spendableNow: number) => boolean,
  ): Promise<boolean> {
    const ledger = this.ledgerFor(limit.key);
    const gone = this.pageTaken(limit, now);
    /** Blocks this run galloped over: not tried again by the gallop. */
    const galloped = new Set<string>();
    const look = { gone, skip: (ref: BlockRef) => galloped.has(ref.id) };
    // A window's blocks all expire together, so which one is claimed does not matter: a run
    // sees all of them (up to a bound), gallops faster, and once a gallop would run past the
    // last block it halves the rest instead, so a busy window's free blocks are found (and a
    // spent window presumed spent) in a few tries.
    const isWindow = limit.limit.kind === 'window';
    const max = isWindow ? MAX_WINDOW_CANDIDATES : undefined;
    const base = isWindow ? WINDOW_GALLOP_BASE : 2;
    const maxLost = isWindow ? MAX_LOST_WINDOW_CLAIMS : MAX_LOST_CLAIMS;
    const run = { claimedAny: false, lost: 0 };
    let losing = 0;
    /** What the last gallop skipped, if nothing was tried since: the free blocks may start there. */
    let lastSkipped: BlockRef[] = [];
    for (let scan = 0; scan < MAX_SCANS && run.lost < maxLost; scan++) {
      const all = ledger.claimable(limit.source, now, horizonMs, { ...look, max });
      // Skip blocks this instance would let expire, but never all of those spendable now: the
      // newest one always stays a candidate, so a starved instance cannot talk itself out of work.
      const newestNow = findLast(all, (ref) => this.firstMintMs(limit, ref) <= now);
      const candidates = all.filter(
        (ref) => ref === newestNow || this.canSpendInTime(limit, ref, now),
      );
      if (candidates.length === 0) break;
      while (candidates.length > 0 && run.lost < maxLost) {
        // Blocks with tokens now come first; only once those are gone is waiting acceptable.
        // Counted up to the few the pick spreads over: past that, only "none" matters.
        const spendableNow = countUpTo(
          candidates,
          CLAIM_SPREAD,
          (ref) => this.firstMintMs(limit, ref) <= now,
        );
        if (enough(spendableNow)) return run.claimedAny;
        // Oldest first (they expire first), at random among the oldest few so that instances
        // running out together spread over different blocks instead of racing for one. A busy
        // instance first looks for a page it can take whole, with one write for eight blocks:
        // when tokens are plentiful the oldest pages are about to expire and only split ones
        // would be claimed, one write per block.
        const whole = isWindow ? undefined : this.wholePageCandidate(limit, candidates, now, look);
        if (whole && !candidates.includes(whole)) candidates.unshift(whole);
        const pick = whole
          ? candidates.indexOf(whole)
          : Math.floor(this.ports.random() * Math.min(CLAIM_SPREAD, Math.max(1, spendableNow)));
        const [ref] = candidates.splice(pick, 1);
        if (!ref) break;
        const won = await this.tryClaim(limit, ref, now, run);
        if (won) {
          losing = 0;
          if (won !== ref) this.dropPageBlocks(candidates, won);
          // Free blocks right after a gallop: the first free one may be among those skipped
          // just before. They are no longer presumed taken, and come first in this run.
          for (const back of lastSkipped) {
            ledger.unpresume(back.id);
            galloped.delete(back.id);
          }
          candidates.unshift(...lastSkipped.filter((b) => !(won !== ref && b.page?.id === won.id)));
          lastSkipped = [];
        } else {
          losing++;
          if (this.pagesOf(limit).get(pageId(ref))?.mode === 'taken') {
            this.dropPageBlocks(candidates, ref.page!);
          }
          // Claims are taken roughly in order, oldest first: after a run of losses, gallop
          // past the blocks just behind this one (presumed taken for a while), so a cold
          // instance finds the free blocks in a few tries instead of one try per taken block.
          // Presumed, not known: they are checked last (below, and by later runs), and they
          // never make the window look spent (see nextClaimableMs).
          const jump = base ** losing - 1;
          const gallop =
            isWindow && jump >= candidates.length
              ? Math.floor(candidates.length / 2)
              : Math.min(candidates.length, jump);
          lastSkipped = candidates.splice(0, gallop);
          for (const presumed of lastSkipped) {
            galloped.add(presumed.id);
            ledger.presumeTaken(
              presumed.id,
              Math.min(presumed.expiresAtMs, now + PRESUMED_TAKEN_MS),
            );
          }
        }
      }
      if (enough(0) || candidates.length > 0) break;
    }
    if (enough(0)) return run.claimedAny;
    // No block left but those presumed taken: first what other instances gave back, then
    // check the presumptions one by one with the claims this run has left. Lines: oldest
    // first (they expire first). Windows: spread over the window, so a free stretch the
    // gallop jumped over (blocks left behind by claims that ran ahead) is hit in a few tries.
    if (await this.takeReturned(limit, now, enough)) run.claimedAny = true;
    if (enough(0) || run.lost >= maxLost) return run.claimedAny;
    const unsure = ledger.claimable(limit.source, now, horizonMs, {
      gone,
      max,
      withPresumed: true,
    });
    const presumed = isWindow ? spread(unsure, this.ports.random()) : unsure;
    while (presumed.length > 0 && run.lost < maxLost && !enough(0)) {
      const ref = presumed.shift()!;
      const won = await this.tryClaim(limit, ref, now, run);
      if (won && won !== ref) this.dropPageBlocks(presumed, won);
      if (!won && this.pagesOf(limit).get(pageId(ref))?.mode === 'taken') {
        this.dropPageBlocks(presumed, ref.page!);
      }
    }
    return run.claimedAny;
  }

  /** One claim of the run: the block (or its page) now owned, or undefined (known taken). */
  private async tryClaim(
    limit: PlannedLimit,
    ref: BlockRef,
    now: number,
    run: { claimedAny: boolean; lost: number },
  ): Promise<BlockRef | undefined> {
    const won = await this.claimBlockOrPage(limit, ref, now);
    if (won) {
      this.ledgerFor(limit.key).add(won, limit.source);
      run.claimedAny = true;
      this.stats.claimsWon++;
      this.stats.tokensClaimed += won.end - won.start;
    } else {
      this.stats.claimsLost++;
      run.lost++;
    }
    return won;
  }

  /**
   * Window tokens other instances gave back (idle, or shutting down): taken only once this
   * instance finds no regular block of the current window left to try, so a window that still
   * has unclaimed blocks costs no extra read. True when it took any.
   */
  private async takeReturned(
    limit: PlannedLimit,
    now: number,
    enough: (spendableNow: number) => boolean,
  ): Promise<boolean> {
    if (!this.ports.takeReturn || limit.limit.kind !== 'window') return false;
    const ledger = this.ledgerFor(limit.key);
    const window = windowAt(limit.limit.unit, now);
    const inWindow = (ref: BlockRef) => ref.validFromMs === window.startMs;
    const regular = ledger.claimable(limit.source, now, 0, {
      gone: this.pageTaken(limit, now),
      max: 1,
    });
    if (regular.some(inWindow)) return false;
    let took = false;
    for (let i = 0; i < MAX_RETURNS_PER_RUN && !enough(0); i++) {
      const ref = await this.ports.takeReturn(limit.key, {
        startMs: window.startMs,
        endMs: window.endMs,
      });
      if (!ref) break;
      ledger.add(ref, limit.source);
      took = true;
    }
    return took;
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

  /** Blocks of pages owned whole (by anyone, this instance included) are not claimable. */
  private pageTaken(limit: PlannedLimit, now: number): (ref: BlockRef) => boolean {
    const pages = this.pagesOf(limit);
    return (ref) => {
      const page = pages.get(pageId(ref));
      return page !== undefined && page.mode === 'taken' && page.expiresAtMs > now;
    };
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
    if (now < this.nextPageSweepMs) return;
    this.nextPageSweepMs = now + PAGE_SWEEP_EVERY_MS;
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
  private wholePageCandidate(
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
        if (!ref.page || ref.start !== ref.page.start || this.firstMintMs(limit, ref) > now) {
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
    const lifeMs = this.expiryOfFirstMs(limit, ref) - Math.max(now, this.firstMintMs(limit, ref));
    // An instance that has not asked for a whole second yet cannot know its rate; a line's
    // tokens expire within a second or so anyway, so it may take any that outlive the claim,
    // rather than let a fleet starting cold skip its bucket's whole burst. (Windows, whose
    // blocks live to the window's end, never guess: see DemandMeter.)
    if (limit.limit.kind !== 'window' && !this.demand.measured(limit.key, now)) {
      return lifeMs >= COLD_MIN_LIFE_MS;
    }
    const rate = this.demand.rate(limit.key, now);
    if (rate <= 0) return true;
    return lifeMs >= ((ref.end - ref.start) / rate) * 1000;
  }

  /** From the source, not the block's window: a window's edges are guarded by half the margin. */
  private expiryOfFirstMs(limit: PlannedLimit, ref: BlockRef): number {
    return limit.source.expiryMs(ref, ref.start);
  }

  /** When the block's first token can be spent (a spent window answers its guarded start). */
  firstMintMs(limit: PlannedLimit, ref: BlockRef): number {
    return limit.source.mintMs(ref, ref.start);
  }

  /**
   * When a block not known to be taken first becomes spendable, beyond the horizon. Blocks only
   * presumed taken count as claimable: a guess must never push the answer to a later window.
   */
  nextClaimableMs(limit: PlannedLimit, now: number, horizonMs: number): number {
    const ledger = this.ledgerFor(limit.key);
    for (const reach of [
      horizonMs * 2 + 1_000,
      horizonMs * 10 + 60_000,
      3_600_000,
      32 * 86_400_000,
    ]) {
      // Candidates come soonest first: the first one found is the answer.
      const [first] = ledger.claimable(limit.source, now, reach, {
        gone: this.pageTaken(limit, now),
        max: 1,
        withPresumed: true,
      });
      if (first) {
        // Blocks spendable now that this run did not get to (contended, or presumed taken):
        // come back after a short, jittered pause rather than at once, so it does not spin.
        const soonest = this.firstMintMs(limit, first);
        return Math.max(now + RETRY_CONTENDED_MS * (1 + this.ports.random()), soonest);
      }
    }
    return now + horizonMs + 1_000;
  }
}

/** Array.prototype.findLast (ES2023; the project compiles to ES2022). */
function findLast<T>(items: readonly T[], test: (item: T) => boolean): T | undefined {
  for (let i = items.length - 1; i >= 0; i--) if (test(items[i]!)) return items[i];
  return undefined;
}

/** How many items pass, counting no further than `cap`. */
function countUpTo<T>(items: readonly T[], cap: number, test: (item: T) => boolean): number {
  let n = 0;
  for (let i = 0; i < items.length && n < cap; i++) if (test(items[i]!)) n++;
  return n;
}

/**
 * The items in an order that covers them evenly early on (van der Corput: 0, 1/2, 1/4, 3/4...
 * of the way through, turned by `offset` in [0, 1) so instances do not all start in one place):
 * any stretch of k in n items is reached within about 2n/k of them.
 */
export function spread<T>(items: readonly T[], offset: number): T[] {
  const n = items.length;
  const seen = new Uint8Array(n);
  const order: T[] = [];
  for (let k = 0; order.length < n && k < 4 * n; k++) {
    let x = 0;
    let f = 0.5;
    for (let b = k; b > 0; b >>= 1, f /= 2) if (b & 1) x += f;
    const i = Math.floor(((x + offset) % 1) * n);
    if (!seen[i]) {
      seen[i] = 1;
      order.push(items[i]!);
    }
  }
  for (let i = 0; i < n; i++) if (!seen[i]) order.push(items[i]!);
  return order;
}
