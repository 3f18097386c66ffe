/**
 * The one "quota exceeded" error: an HTTP 429, Keepa out of tokens, SP-API QuotaExceeded at
 * any step of a multi-step flow. Catching it means: stop calling this provider.
 */
export class QuotaExceededError extends Error {
  constructor(
    readonly provider: string,
    readonly operation: string,
    /** What the upstream asked for (Retry-After), if it said. */
    readonly retryAfterSeconds: number | undefined,
    message?: string,
  ) {
    super(
      message ??
        `${provider} quota exceeded on ${operation}${retryAfterSeconds === undefined ? '' : ` (retry after ${retryAfterSeconds}s)`}`,
    );
    this.name = 'QuotaExceededError';
  }
}

/** A call that no amount of waiting can grant: its cost exceeds what a limit ever allows. */
export class CostExceedsLimitError extends Error {
  constructor(
    readonly provider: string,
    readonly limit: string,
    readonly cost: number,
    readonly maxCost: number,
  ) {
    super(`${provider}: cost ${cost} exceeds ${limit}, which never allows more than ${maxCost}`);
    this.name = 'CostExceedsLimitError';
  }
}

/**
 * The gate answered "not before `atMs`" (beyond the wait bound) for one step of a multi-step
 * flow: the flow stops before the call, holding nothing, and is retried as a whole later.
 */
export class GateDeferredError extends Error {
  constructor(
    readonly provider: string,
    readonly operation: string,
    readonly atMs: number,
    readonly reason: string,
  ) {
    super(
      `${provider} ${operation}: the gate defers it to ${new Date(atMs).toISOString()} (${reason})`,
    );
    this.name = 'GateDeferredError';
  }
}

/** An HTTP-date (IMF-fixdate, RFC 850 or asctime): a day name, then the rest of the date. */
const HTTP_DATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,?\s+[\w\s:,-]{10,40}$/i;

/**
 * Parses Retry-After: delta-seconds (digits, possibly a fraction) or an HTTP-date (seconds
 * from `nowMs`, 0 when it is past). Anything else (negative, garbage, a bare year or number
 * that only a lenient date parser would read) is undefined: the provider's default applies.
 * The result is what the upstream asked, possibly huge or Infinity: the cooldown rules bound
 * it (core/quota/cooldown.ts), never this parser.
 */
export function parseRetryAfter(
  value: string | null | undefined,
  nowMs: number,
): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  if (!HTTP_DATE.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - nowMs) / 1000));
}
