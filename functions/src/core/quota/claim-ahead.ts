import type { PlannedLimit } from './limits';

/**
 * How far ahead of the mint an instance without tokens claims for an ordinary call. A call that
 * waits long for tokens far ahead is demand taken from the instances that hold tokens now,
 * which then expire unspent (20 s bench runs: 0.94 of C + r·T claiming a second ahead,
 * 0.97 claiming 0.1 s ahead). Calls too large for that claim as far ahead as their cost needs.
 */
export const CLAIM_AHEAD_MS = 100;

/**
 * How far ahead to claim for a call: a large call claims the tokens it needs before they are
 * minted, so that instances asking at once each collect a run of their own instead of all
 * holding a part of it until it expires (a livelock for costs near the bucket's size).
 */
export function claimAheadMs(limit: PlannedLimit): number {
  if (!limit.ratePerSecond) return 0;
  return Math.ceil((limit.amount * 1000) / limit.ratePerSecond);
}
