/**
 * A classic token bucket, for the places where one party keeps the balance: the reference
 * model the distributed accounting is checked against, and the projection of an upstream's
 * reported balance (Keepa's tokensLeft and refill rate).
 */
export interface BucketState {
  balance: number;
  atMs: number;
}

export interface BucketShape {
  capacity: number;
  ratePerSecond: number;
}

export function refill(shape: BucketShape, state: BucketState, atMs: number): BucketState {
  if (atMs <= state.atMs) return state;
  const balance = Math.min(
    shape.capacity,
    state.balance + ((atMs - state.atMs) * shape.ratePerSecond) / 1000,
  );
  return { balance, atMs };
}

/** When the balance reaches `amount` (now if it already has), with no spending meanwhile. */
export function timeUntil(shape: BucketShape, state: BucketState, amount: number): number {
  if (state.balance >= amount) return state.atMs;
  return state.atMs + Math.ceil(((amount - state.balance) * 1000) / shape.ratePerSecond);
}
