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

/** Local spends kept per provider before the oldest are folded together (see spend). */
const MAX_LOGGED_SPENDS = 256;

/**
 * Projects an upstream's balance forward from its last report. While the projection is in
 * deficit nobody calls the upstream, not even for a status check: the answer is known.
 *
 * Reports come from this instance's own calls or from another instance (the shared meter); the
 * newest one wins, whoever saw it. This instance's spending after that report is not in it, so
 * it is logged and applied again on top of whichever report is adopted.
 */
export class MeterProjection {
  private readonly readings = new Map<
    string,
    { shape: BucketShape; state: BucketState; reportedAtMs: number }
  >();
  /** This instance's spending, by time, not yet covered by the report it has. */
  private readonly spends = new Map<string, Array<{ atMs: number; cost: number }>>();
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

  /**
   * Adopts a report unless the one this instance has is newer (an older report arrived late),
   * then applies again what this instance spent after it. Returns whether it was adopted.
   */
  observe(provider: string, reading: MeterReading): boolean {
    const current = this.readings.get(provider);
    if (current && current.reportedAtMs > reading.atMs) return false;
    const shape = { capacity: reading.capacity, ratePerSecond: reading.ratePerSecond };
    let state: BucketState = { balance: reading.balance, atMs: reading.atMs };
    const later = (this.spends.get(provider) ?? []).filter((s) => s.atMs > reading.atMs);
    for (const spend of later) {
      const refilled = refill(shape, state, spend.atMs);
      state = { ...refilled, balance: refilled.balance - spend.cost };
    }
    this.spends.set(provider, later);
    this.readings.set(provider, { shape, state, reportedAtMs: reading.atMs });
    return true;
  }

  /** Spends locally between reports, so the projection stays honest. */
  spend(provider: string, cost: number, atMs: number): void {
    this.log(provider, cost, atMs);
    const current = this.readings.get(provider);
    if (!current) return;
    const state = refill(current.shape, current.state, atMs);
    this.readings.set(provider, { ...current, state: { ...state, balance: state.balance - cost } });
  }

  /**
   * Keeps the spend for a report that may still arrive from before it. The log is bounded: past
   * the limit the oldest half is folded into one spend at the latest of their times, which can
   * only count them again too often, never forget them.
   */
  private log(provider: string, cost: number, atMs: number): void {
    const reportedAtMs = this.readings.get(provider)?.reportedAtMs;
    if (reportedAtMs !== undefined && atMs <= reportedAtMs) return;
    let spends = this.spends.get(provider);
    if (!spends) {
      spends = [];
      this.spends.set(provider, spends);
    }
    spends.push({ atMs, cost });
    if (spends.length > MAX_LOGGED_SPENDS) {
      const old = spends.splice(0, MAX_LOGGED_SPENDS / 2);
      spends.unshift({
        atMs: Math.max(...old.map((s) => s.atMs)),
        cost: old.reduce((sum, s) => sum + s.cost, 0),
      });
    }
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
    // The same instant counted from the last known state rather than the refilled one: a
    // projection made just before recovery would otherwise be off by the refill's rounding.
    return Math.max(atMs, timeUntil(current.shape, current.state, needed));
  }

  snapshot(provider: string): MeterReading | undefined {
    const current = this.readings.get(provider);
    if (!current) return undefined;
    return { balance: current.state.balance, atMs: current.state.atMs, ...current.shape };
  }
}

/** A reading other instances can project from: finite numbers, a positive refill rate. */
export function isUsableReading(reading: MeterReading): boolean {
  return (
    Number.isFinite(reading.balance) &&
    Number.isFinite(reading.atMs) &&
    Number.isFinite(reading.capacity) &&
    Number.isFinite(reading.ratePerSecond) &&
    reading.ratePerSecond > 0
  );
}

/** When a reading's deficit is refilled (balance back to 0); undefined when it shows none. */
export function deficitEndMs(reading: MeterReading): number | undefined {
  if (reading.balance >= 0) return undefined;
  return timeUntil(reading, reading, 0);
}

export interface SharePolicy {
  /** The instance's clock. */
  nowMs: number;
  /** When this instance last wrote the provider's shared reading (undefined: never). */
  lastWriteMs?: number;
  /** A reading showing nothing new is written at most this often (per instance, and once the
   * shared one is this much older). */
  intervalMs: number;
  /** A deficit ending no more than this later than the shared one is not news. */
  toleranceMs: number;
}

/**
 * Whether a reading this instance observed should replace the shared one (`shared`, as this
 * instance last saw it) so that the other instances decide on it. Never an older reading than
 * the shared one. At once when it shows a deficit the shared reading does not (or one ending
 * later, beyond the tolerance); otherwise only when it is the first in a while, from this
 * instance and overall, and never over a shared deficit still running: while the projection is
 * in deficit nobody should be calling, so a reading without one then is suspect (a configured
 * stand-in, a call that raced the deficit); the deficit simply runs out.
 */
export function shouldShare(
  reading: MeterReading,
  shared: MeterReading | undefined,
  policy: SharePolicy,
): boolean {
  if (!isUsableReading(reading)) return false;
  if (shared && shared.atMs >= reading.atMs) return false;
  const sharedEnd = shared ? deficitEndMs(shared) : undefined;
  const runningEnd = sharedEnd !== undefined && sharedEnd > reading.atMs ? sharedEnd : undefined;
  const end = deficitEndMs(reading);
  if (end !== undefined) return runningEnd === undefined || end > runningEnd + policy.toleranceMs;
  if (runningEnd !== undefined) return false;
  if (policy.lastWriteMs !== undefined && policy.nowMs - policy.lastWriteMs < policy.intervalMs) {
    return false;
  }
  return !shared || reading.atMs - shared.atMs >= policy.intervalMs;
}
