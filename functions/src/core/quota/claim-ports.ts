import type { BlockRef, PageOutcome, ReturnWindow, RunClaim } from './token-source';

/** What the claimer (claimer.ts) asks of its adapter and the counters it keeps. */

export interface ClaimPorts {
  random(): number;
  claim(limitKey: string, ref: BlockRef): Promise<boolean>;
  claimPage(limitKey: string, page: BlockRef, mode: 'whole' | 'split'): Promise<PageOutcome>;
  /** Create-if-absent of a run's blocks and whole pages, all or none (see GatePorts). */
  claimRun(limitKey: string, run: RunClaim): Promise<string[]>;
  /** Takes a range of the window's tokens another instance gave back (see GatePorts). */
  takeReturn?(limitKey: string, window: ReturnWindow): Promise<BlockRef | undefined>;
}

export interface ClaimStats {
  claimsWon: number;
  claimsLost: number;
  tokensClaimed: number;
  wholePages: number;
}
