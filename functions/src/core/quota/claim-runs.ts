import type { PageClaims } from './claim-pages';
import type { ClaimPorts, ClaimStats } from './claim-ports';
import type { Ledger, Look } from './ledger';
import type { PlannedLimit } from './limits';
import { type BlockRef, PAGE_BLOCKS } from './token-source';

/**
 * Runs (held by claimer.ts): a call whose cost needs several blocks of a token line claims
 * them together, all or none, in one commit. Claimed block by block, instances asking at once
 * each hold a part of the few tokens valid together until they expire, and none gathers a call's
 * cost: with 2% of a 250-token bucket (4 tokens valid at once), calls of 3 tokens on 3
 * instances were served 3 of 13 in an hour. With runs, every contended commit has one winner.
 * A run is the soonest set of free blocks whose tokens are valid together for the call, in
 * order but not necessarily adjacent (other instances' blocks may lie between); pages it covers
 * whole are claimed whole, one document for their blocks.
 */

/** Runs one claim may lose before it answers "retry later" (each loss is a failed commit). */
const MAX_LOST_RUNS = 8;
/** Looks one claim may take (a look also ends when a page is found owned whole). */
const MAX_RUN_LOOKS = 64;
/**
 * The most blocks a run claims in one commit. A call needing more claims block by block, as
 * before runs (Firestore has long taken at most 500 writes a commit; pages cut a run's writes).
 */
export const MAX_RUN_BLOCKS = 256;
/** Candidates looked through for a run, beyond the blocks it needs: others' blocks between. */
const RUN_LOOK_SLACK = 4;

export interface Run {
  /** The blocks, oldest first. */
  blocks: BlockRef[];
  /** When the call's amount is spendable from them. */
  readyMs: number;
}

/** Blocks a call of the limit's amount needs at least (lines only). */
export function runBlocks(limit: PlannedLimit): number {
  return Math.ceil(limit.amount / (limit.blockTokens ?? limit.amount));
}

function spendableAt(limit: PlannedLimit, ref: BlockRef, atMs: number): number {
  const range = limit.source.spendable({ ...ref, cursor: ref.start }, atMs);
  return Math.max(0, range.end - range.start);
}

/**
 * The soonest run among the candidates (free blocks, oldest first): at the mint of each
 * candidate's last token (or now), the tokens of the candidates so far still valid then, oldest
 * first, until they hold the amount. Tokens the line never mints (past its end) or that may
 * never be spent (before its first) do not count.
 */
export function findRun(limit: PlannedLimit, candidates: readonly BlockRef[], now: number) {
  let from = 0;
  for (let j = 0; j < candidates.length; j++) {
    const last = candidates[j]!;
    const readyMs = Math.max(now, limit.source.mintMs(last, last.end - 1));
    // Candidates whose tokens have all expired by then are left behind for good (times only grow).
    while (from < j && spendableAt(limit, candidates[from]!, readyMs) === 0) from++;
    const blocks: BlockRef[] = [];
    let tokens = 0;
    for (let i = from; i <= j && tokens < limit.amount; i++) {
      const n = spendableAt(limit, candidates[i]!, readyMs);
      if (n === 0) continue;
      blocks.push(candidates[i]!);
      tokens += n;
    }
    if (tokens >= limit.amount) return { blocks, readyMs } satisfies Run;
  }
  return undefined;
}

/** The soonest free run for the limit's amount among what the ledger can claim (see findRun). */
export function freeRun(
  limit: PlannedLimit,
  ledger: Ledger,
  now: number,
  reachMs: number,
  look: Look,
): Run | undefined {
  const candidates = ledger.claimable(limit.source, now, reachMs, {
    ...look,
    max: runBlocks(limit) * RUN_LOOK_SLACK + 2 * PAGE_BLOCKS,
  });
  return findRun(limit, candidates, now);
}

/** How a run claim ended: won, lost every run it tried, or found none ready in time. */
export type RunOutcome = 'won' | 'lost' | 'none';

/**
 * Claims the soonest free run for the limit's amount that is ready by `latestMs`: pages it
 * covers whole and not known split are claimed whole, the others split first (a page owned
 * whole is not claimable block by block) and their blocks claimed. A lost commit names what
 * was already claimed: blocks are known taken, pages are asked whether they are split, and
 * the next run is looked for past them. Tokens are claimed only for a call that will wait for
 * them here: a call deferred past its run may be asked again on another instance, and the run
 * would expire unspent.
 */
export async function claimRun(
  deps: { ports: ClaimPorts; pages: PageClaims; stats: ClaimStats; ledger: Ledger },
  limit: PlannedLimit,
  now: number,
  reachMs: number,
  latestMs: number,
  look: Look,
): Promise<RunOutcome> {
  const { ports, pages, stats, ledger } = deps;
  // After runs whose every block was taken, gallop: other instances claim oldest first, so
  // the blocks just past a taken run are likely taken too (skipped for this claim only).
  let skipBelow = -1;
  let galloping = 0;
  const runLook: Look = {
    ...look,
    skip: (ref) => (ref.ordinal ?? 0) < skipBelow || look.skip?.(ref) === true,
  };
  let lost = 0;
  for (let looks = 0; lost < MAX_LOST_RUNS && looks < MAX_RUN_LOOKS; looks++) {
    const run = freeRun(limit, ledger, now, reachMs, runLook);
    if (!run || run.readyMs > latestMs) return lost > 0 ? 'lost' : 'none';
    const whole = pages.wholeIn(limit, run.blocks);
    const singles = run.blocks.filter((ref) => !whole.some((page) => page.id === ref.page?.id));
    // A page found owned whole leaves the candidates: look again (no commit was lost).
    if (!(await pages.splitAll(limit, singles, now))) continue;
    const taken = new Set(await ports.claimRun(limit.key, { blocks: singles, pages: whole }));
    if (taken.size === 0) {
      for (const page of whole) {
        pages.owned(limit, page);
        ledger.add(page, limit.source);
      }
      for (const ref of singles) ledger.add(ref, limit.source);
      stats.claimsWon += singles.length + whole.length;
      stats.wholePages += whole.length;
      stats.tokensClaimed += run.blocks.reduce((sum, ref) => sum + ref.end - ref.start, 0);
      return 'won';
    }
    lost++;
    stats.claimsLost++;
    for (const ref of singles) if (taken.has(ref.id)) ledger.markTaken(ref.id, ref.expiresAtMs);
    const last = run.blocks[run.blocks.length - 1]!;
    if (taken.size === whole.length + singles.length && last.ordinal !== undefined) {
      galloping++;
      skipBelow = last.ordinal + 1 + run.blocks.length * (2 ** galloping - 1);
    } else galloping = 0;
    // A page someone claimed first: split (its blocks may still be free) or owned whole.
    const pagesTaken = whole.filter((page) => taken.has(page.id));
    for (const page of pagesTaken) {
      const first = run.blocks.find((ref) => ref.page?.id === page.id)!;
      await pages.splitAll(limit, [first], now);
    }
  }
  return 'lost';
}
