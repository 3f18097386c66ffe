import { type BucketShape, type BucketState, refill, timeUntil } from './token-bucket';

/** What an upstream reported about its own balance (Keepa: tokensLeft, refillRate...). */
export interface MeterReading {
  /** Balance after the call that reported it; may be negative (Keepa). */
  balance: number;
  atMs: number;
  ratePerSecond: number;
  capacity: number;
  /** What the call actually cost, when the upstream says (Keepa tokensConsumed). */
  consumed?: number;
}

/**
 * Projects an upstream's balance forward from its last report. While the projection is in
 * deficit nobody calls the upstream, not even for a status check: the answer is known.
 */
export class MeterProjection {
  private readonly readings = new Map<string, { shape: BucketShape; state: BucketState }>();
  private readonly rates = new Map<string, { ratePerSecond: number; atMs: number }>();

  /**
   * Records a rate an upstream announces for an operation (SP-API's x-amzn-RateLimit-Limit,
   * requests per second). Returns the previous value, so a caller can tell when it changed.
   */
  observeRate(provider: string, operation: string, ratePerSecond: number, atMs: number) {
    const key = `${provider}/${operation}`;
    const previous = this.rates.get(key);
    if (Number.isFinite(ratePerSecond) && ratePerSecond > 0)
      this.rates.set(key, { ratePerSecond, atMs });
    return previous;
  }

  reportedRate(provider: string, operation: string) {
    return this.rates.get(`${provider}/${operation}`);
  }

  observe(provider: string, reading: MeterReading): void {
    const current = this.readings.get(provider);
    if (current && current.state.atMs > reading.atMs) return; // an older report arrived late
    this.readings.set(provider, {
      shape: { capacity: reading.capacity, ratePerSecond: reading.ratePerSecond },
      state: { balance: reading.balance, atMs: reading.atMs },
    });
  }

  /** Spends locally between reports, so the projection stays honest. */
  spend(provider: string, cost: number, atMs: number): void {
    const current = this.readings.get(provider);
    if (!current) return;
    const state = refill(current.shape, current.state, atMs);
    this.readings.set(provider, { ...current, state: { ...state, balance: state.balance - cost } });
  }

  projected(provider: string, atMs: number): number | undefined {
    const current = this.readings.get(provider);
    return current ? refill(current.shape, current.state, atMs).balance : undefined;
  }

  /** No call to the provider before this time (undefined: no constraint known). */
  blockedUntil(provider: string, needed: number, atMs: number): number | undefined {
    const current = this.readings.get(provider);
    if (!current) return undefined;
    const state = refill(current.shape, current.state, atMs);
    if (state.balance >= needed) return undefined;
    return timeUntil(current.shape, state, needed);
  }

  /** A status call is pointless while the projection is still in deficit. */
  shouldCheckStatus(provider: string, atMs: number): boolean {
    const balance = this.projected(provider, atMs);
    return balance === undefined || balance >= 0;
  }

  snapshot(provider: string): MeterReading | undefined {
    const current = this.readings.get(provider);
    if (!current) return undefined;
    return { balance: current.state.balance, atMs: current.state.atMs, ...current.shape };
  }
}
