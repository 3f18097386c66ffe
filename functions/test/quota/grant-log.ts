import { type BucketShape, refill } from '../../src/core/quota/token-bucket';

export interface GrantRecord {
  atMs: number;
  cost: number;
}

/**
 * The independent check: replays grants in time order on a reference token bucket that starts
 * full at `startMs`, and returns the lowest balance seen. Below zero means some interval held
 * more than C + r*T tokens: the upstream would have answered 429.
 */
export function lowestBalance(shape: BucketShape, grants: GrantRecord[], startMs: number): number {
  let state = { balance: shape.capacity, atMs: startMs };
  let lowest = shape.capacity;
  for (const grant of [...grants].sort((a, b) => a.atMs - b.atMs)) {
    state = refill(shape, state, grant.atMs);
    state = { ...state, balance: state.balance - grant.cost };
    lowest = Math.min(lowest, state.balance);
  }
  return lowest;
}

/** Most grants in any fixed window of `windowMs` (aligned to the epoch). */
export function maxPerWindow(grants: GrantRecord[], windowMs: number): number {
  const counts = new Map<number, number>();
  for (const g of grants) {
    const w = Math.floor(g.atMs / windowMs);
    counts.set(w, (counts.get(w) ?? 0) + g.cost);
  }
  return Math.max(0, ...counts.values());
}
