import type { PageClaims } from './claim-pages';
import type { ClaimPorts, ClaimStats } from './claim-ports';
import type { Ledger, Look } from './ledger';
import type { PlannedLimit } from './limits';
import type { BlockRef } from './token-source';

/**
 * Runs (held by claimer.ts): a call whose cost needs several blocks of a token line claims
 * them together, all or none, in one commit. Claimed block by block, instances asking at once
 * each hold a part of the few tokens valid together until they expire, and none gathers a call's
 * cost: with 2% of a 250-token bucket (4 tokens valid at once), calls of 3 tokens on 3
 * instances were served 3 of 13 in an hour. With runs, every contended commit has one winner.
 */

/** Runs one claim may lose before it answers "retry later" (each loss is a failed commit). */
const MAX_LOST_RUNS = 8;
/** Blocks one look for a run goes through. */
const MAX_RUN_CANDIDATES = 512;

/**
 * The soonest run of consecutive candidate blocks that holds the limit's amount, its first token
 * still valid when its last needed token is minted; undefined when the amount fits in one block
 * (the claimer's usual way serves it) or no such run is among the candidates.
 */
export function findRun(limit: PlannedLimit, candidates: BlockRef[], now: number) {
  const first = candidates[0];
  if (!first || first.ordinal === undefined) return undefined;
  const count = Math.ceil(limit.amount / (first.end - first.start));
  if (count < 2) return undefined;
  for (let i = 0; i + count <= candidates.length; i++) {
    const start = candidates[i]!;
    // Candidates come in order, each once: equal distance means no block between is missing.
    if (candidates[i + count - 1]!.ordinal! - start.ordinal! !== count - 1) continue;
    const readyMs = runReadyMs(limit, start);
    if (limit.source.expiryMs(start, start.start) <= Math.max(now, readyMs)) continue;
    return candidates.slice(i, i + count);
  }
  return undefined;
}

/** When a run starting with `first` holds the limit's amount: its last needed token's mint. */
export function runReadyMs(limit: PlannedLimit, first: BlockRef): number {
  return limit.source.mintMs(first, first.start + limit.amount - 1);
}

/** The soonest free run for the limit's amount among what the ledger can claim (see findRun). */
export function freeRun(
  limit: PlannedLimit,
  ledger: Ledger,
  now: number,
  reachMs: number,
  look: Look,
): BlockRef[] | undefined {
  const candidates = ledger.claimable(limit.source, now, reachMs, {
    ...look,
    max: MAX_RUN_CANDIDATES,
  });
  return findRun(limit, candidates, now);
}

/** How a run claim ended: won, lost every run it tried, or found none ready in time. */
export type RunOutcome = 'won' | 'lost' | 'none';

/**
 * Claims the soonest free run for the limit's amount that is ready by `latestMs`, its pages
 * split first (a page owned whole is not claimable block by block). A lost commit names the
 * blocks already claimed: they are known taken, and the next run is looked for past them.
 * Tokens are claimed only for a call that will wait for them here: a call deferred past its
 * run may be asked again on another instance, and the run would expire unspent.
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
  for (let lost = 0; lost < MAX_LOST_RUNS; ) {
    const run = freeRun(limit, ledger, now, reachMs, look);
    if (!run || runReadyMs(limit, run[0]!) > latestMs) return lost > 0 ? 'lost' : 'none';
    if (!(await pages.splitAll(limit, run, now))) {
      lost++;
      continue;
    }
    const taken = new Set(await ports.claimRun(limit.key, run));
    if (taken.size === 0) {
      for (const ref of run) ledger.add(ref, limit.source);
      stats.claimsWon += run.length;
      stats.tokensClaimed += run.reduce((sum, ref) => sum + ref.end - ref.start, 0);
      return 'won';
    }
    lost++;
    stats.claimsLost++;
    for (const ref of run) if (taken.has(ref.id)) ledger.markTaken(ref.id, ref.expiresAtMs);
  }
  return 'lost';
}
