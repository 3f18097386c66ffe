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

/** Parses Retry-After: delta-seconds or an HTTP date. */
export function parseRetryAfter(
  value: string | null | undefined,
  nowMs: number,
): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - nowMs) / 1000));
}
