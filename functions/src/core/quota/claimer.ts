import { countUpTo, findLast, spread } from '../arrays';
import { CLAIM_AHEAD_MS, claimAheadMs } from './claim-ahead';
import { dropPageBlocks, firstMintMs, PageClaims } from './claim-pages';
import type { ClaimPorts, ClaimStats } from './claim-ports';
import { claimRun, freeRun, MAX_RUN_BLOCKS, runBlocks } from './claim-runs';
import type { DemandMeter } from './demand';
import type { Ledger } from './ledger';
import type { PlannedLimit } from './limits';
import { takeReturned } from './returned-tokens';
import type { BlockRef, OwnedBlock } from './token-source';

/**
 * The claimer: which blocks an instance claims, in what order, and when to come back; claims
 * go through the pages it holds (claim-pages.ts).
 */

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
/** Window blocks one scan looks at (all of a window with the default 200 blocks). */
const MAX_WINDOW_CANDIDATES = 1_024;
/**
 * Window gallops skip 3, 15, 63... blocks after successive losses (lines: 1, 3, 7...), then
 * half of what is left.
 */
const WINDOW_GALLOP_BASE = 4;

/**
 * Which blocks an instance claims, and how: oldest first among those it can spend before they
 * expire, through their pages (whole for a busy instance, block by block for an idle one),
 * one claim run at a time per limit.
 */
export class Claimer {
  private readonly claiming = new Map<string, Promise<boolean>>();
  /** What this instance knows of pages, and its claims through them. */
  private readonly pages: PageClaims;

  constructor(
    private readonly ports: ClaimPorts,
    private readonly ledgerFor: (key: string) => Ledger,
    private readonly demand: DemandMeter,
    private readonly stats: ClaimStats,
  ) {
    this.pages = new PageClaims(ports, ledgerFor, demand, stats);
  }

  /** Claims blocks until the limit's amount is covered within the horizon; one at a time per key. */
  claimFor(limit: PlannedLimit, now: number, horizonMs: number, waitMs = horizonMs) {
    const ledger = this.ledgerFor(limit.key);
    return this.oneAtATime(limit.key, async () => {
      // A call needing several blocks that this instance cannot cover claims them as one run,
      // once the soonest run is ready soon enough (nextClaimableMs says when).
      if (this.needsRun(limit, now)) {
        const look = { gone: this.pages.takenTest(limit, now) };
        const deps = { ports: this.ports, pages: this.pages, stats: this.stats, ledger };
        const windowMs = runWindowMs(limit, waitMs);
        return (await claimRun(deps, limit, now, windowMs, now + windowMs, look)) === 'won';
      }
      // Enough: tokens now, or, once no block has tokens now, tokens within the horizon.
      return this.claimBlocks(limit, now, horizonMs, (spendableNow) => {
        const ready = ledger.readyAt(limit.amount, now);
        if (ready === now) return true;
        return spendableNow === 0 && ready !== undefined && ready - now <= horizonMs;
      });
    });
  }

  /**
   * Whether a call needs a run: a line's, costing more than a block (and at most MAX_RUN_BLOCKS
   * of them), not covered by the ledger.
   */
  private needsRun(limit: PlannedLimit, now: number): boolean {
    const blocks = runBlocks(limit);
    return (
      limit.blockTokens !== undefined &&
      blocks >= 2 &&
      blocks <= MAX_RUN_BLOCKS &&
      this.ledgerFor(limit.key).readyAt(limit.amount, now) === undefined
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
    const gone = this.pages.takenTest(limit, now);
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
      const newestNow = findLast(all, (ref) => firstMintMs(limit, ref) <= now);
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
          (ref) => firstMintMs(limit, ref) <= now,
        );
        if (enough(spendableNow)) return run.claimedAny;
        // Oldest first (they expire first), at random among the oldest few so that instances
        // running out together spread over different blocks instead of racing for one. A busy
        // instance first looks for a page it can take whole, with one write for eight blocks:
        // when tokens are plentiful the oldest pages are about to expire and only split ones
        // would be claimed, one write per block.
        const whole = isWindow
          ? undefined
          : this.pages.wholePageCandidate(limit, candidates, now, look);
        if (whole && !candidates.includes(whole)) candidates.unshift(whole);
        const pick = whole
          ? candidates.indexOf(whole)
          : Math.floor(this.ports.random() * Math.min(CLAIM_SPREAD, Math.max(1, spendableNow)));
        const [ref] = candidates.splice(pick, 1);
        if (!ref) break;
        const won = await this.tryClaim(limit, ref, now, run);
        if (won) {
          losing = 0;
          if (won !== ref) dropPageBlocks(candidates, won);
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
          if (this.pages.knownTaken(limit, ref)) {
            dropPageBlocks(candidates, ref.page!);
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
    if (await takeReturned(this.ports, ledger, gone, limit, now, enough)) run.claimedAny = true;
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
      if (won && won !== ref) dropPageBlocks(presumed, won);
      if (!won && this.pages.knownTaken(limit, ref)) {
        dropPageBlocks(presumed, ref.page!);
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
    const won = await this.pages.claim(limit, ref, now);
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
   * Whether this instance, at the rate it has been asking, can use a block's tokens before
   * they expire. Claiming one it cannot would strand tokens another instance could have used.
   */
  private canSpendInTime(limit: PlannedLimit, ref: BlockRef, now: number): boolean {
    const lifeMs = this.expiryOfFirstMs(limit, ref) - Math.max(now, firstMintMs(limit, ref));
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

  /**
   * When a block not known to be taken first becomes spendable, beyond the horizon. Blocks only
   * presumed taken count as claimable: a guess must never push the answer to a later window.
   */
  nextClaimableMs(limit: PlannedLimit, now: number, horizonMs: number): number {
    const ledger = this.ledgerFor(limit.key);
    const jittered = now + RETRY_CONTENDED_MS * (1 + this.ports.random());
    if (this.needsRun(limit, now)) {
      // A call needing a run asks again once the soonest free run is ready soon enough; with
      // none in sight, once the line has minted that much more, or at its end (a new line then).
      const reachMs = horizonMs * 2 + claimAheadMs(limit) + 1_000;
      const run = freeRun(limit, ledger, now, reachMs, { gone: this.pages.takenTest(limit, now) });
      if (run) return Math.max(jittered, run.readyMs - runWindowMs(limit, horizonMs));
      const endMs = limit.line?.line.endMs ?? Number.POSITIVE_INFINITY;
      return Math.max(jittered, Math.min(now + reachMs, endMs));
    }
    for (const reach of [
      horizonMs * 2 + 1_000,
      horizonMs * 10 + 60_000,
      3_600_000,
      32 * 86_400_000,
    ]) {
      // Candidates come soonest first: the first one found is the answer.
      const [first] = ledger.claimable(limit.source, now, reach, {
        gone: this.pages.takenTest(limit, now),
        max: 1,
        withPresumed: true,
      });
      if (first) {
        // Blocks spendable now that this run did not get to (contended, or presumed taken):
        // come back after a short, jittered pause rather than at once, so it does not spin.
        return Math.max(jittered, firstMintMs(limit, first));
      }
    }
    return now + horizonMs + 1_000;
  }
}

/**
 * How far ahead of now a run may be ready: as far as the call's cost takes to mint (and the
 * usual claim-ahead), never past its wait. Claimed further ahead, a run would hold tokens other
 * instances' calls could spend now.
 */
function runWindowMs(limit: PlannedLimit, waitMs: number): number {
  return Math.min(waitMs, claimAheadMs(limit) + CLAIM_AHEAD_MS);
}
