/**
 * SP-API's per-operation rate limits for the Reports API, and the token bucket that enforces
 * them.
 */

export type RateLimitedOperation = 'createReport' | 'getReport' | 'getReportDocument';
export interface RateLimit {
  ratePerSecond: number;
  burst: number;
}
/** SP-API's documented usage plans for Reports API 2021-06-30. */
export const SPAPI_REPORTS_RATE_LIMITS: Readonly<Record<RateLimitedOperation, RateLimit>> = {
  createReport: { ratePerSecond: 0.0167, burst: 15 },
  getReport: { ratePerSecond: 2, burst: 15 },
  getReportDocument: { ratePerSecond: 0.0167, burst: 15 },
};

/** SP-API's continuous token bucket: starts full, refills at `ratePerSecond` up to `burst`. */
export class TokenBucket {
  #tokens: number;
  #at: number;
  constructor(
    readonly limit: RateLimit,
    private readonly now: () => number,
  ) {
    this.#tokens = limit.burst;
    this.#at = now();
  }
  level(): number {
    const t = this.now();
    this.#tokens = Math.min(
      this.limit.burst,
      this.#tokens + (Math.max(0, t - this.#at) / 1000) * this.limit.ratePerSecond,
    );
    this.#at = t;
    return this.#tokens;
  }
  take(): boolean {
    // The epsilon absorbs float error: 60 s at 0.0167/s is one token.
    if (this.level() + 1e-9 < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
