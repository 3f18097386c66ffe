export interface Cooldown {
  provider: string;
  untilMs: number;
  startedAtMs: number;
  lastOperation: string;
  hits: number;
}

/** Bounds of the granularity a requested cooldown end is rounded up to. */
export const COOLDOWN_GRANULARITY = { minMs: 100, maxMs: 5_000, fraction: 10 } as const;

/**
 * The granularity a cooldown of `durationMs` ends on: a tenth of the duration, at least 100 ms
 * and at most 5 s. Coarse enough that a storm of simultaneous 429s asks for the same end, fine
 * enough that no cooldown is stretched by more than a tenth (or 100 ms).
 */
export function cooldownGranularityMs(durationMs: number): number {
  const { minMs, maxMs, fraction } = COOLDOWN_GRANULARITY;
  return Math.min(maxMs, Math.max(minMs, Math.ceil(durationMs / fraction)));
}

/**
 * The longest wait an upstream's Retry-After may impose on a provider unless its document says
 * otherwise (`maxRetryAfterSeconds`): 4 hours. A hostile or broken upstream asking for years
 * (or for more seconds than a Timestamp holds) gets this, and asks again after it if it must.
 */
export const DEFAULT_MAX_RETRY_AFTER_SECONDS = 4 * 3_600;

/**
 * The wait a hit asks for, in seconds: the upstream's Retry-After bounded by `maxSeconds`, or
 * the provider's default when the upstream said nothing usable (not a finite, non-negative
 * number). Always finite and within [0, max(maxSeconds, defaultSeconds)].
 */
export function cooldownWaitSeconds(
  retryAfterSeconds: number | undefined,
  defaultSeconds: number,
  maxSeconds: number = DEFAULT_MAX_RETRY_AFTER_SECONDS,
): number {
  const usable =
    retryAfterSeconds !== undefined && retryAfterSeconds >= 0 && !Number.isNaN(retryAfterSeconds);
  return usable ? Math.min(retryAfterSeconds, maxSeconds) : defaultSeconds;
}

/**
 * The end a single 429 seen at `nowMs` asks for: now + Retry-After (at most `maxSeconds`; the
 * provider default when absent), rounded UP to the granularity, so it is never earlier than
 * what the upstream asked within that bound.
 */
export function requestedUntil(
  nowMs: number,
  retryAfterSeconds: number | undefined,
  defaultSeconds: number,
  maxSeconds: number = DEFAULT_MAX_RETRY_AFTER_SECONDS,
): number {
  const seconds = cooldownWaitSeconds(retryAfterSeconds, defaultSeconds, maxSeconds);
  const durationMs = Math.max(0, Math.ceil(seconds * 1000));
  const granularity = cooldownGranularityMs(durationMs);
  return Math.ceil((nowMs + durationMs) / granularity) * granularity;
}

/** The later of an active cooldown's end and `requestedMs`: a hit never shortens a cooldown. */
export function laterCooldownEnd(
  current: Cooldown | undefined,
  nowMs: number,
  requestedMs: number,
): number {
  return Math.max(current && current.untilMs > nowMs ? current.untilMs : 0, requestedMs);
}

/**
 * A new 429 extends a cooldown to the later of its current end and what the hit asks
 * (`requestedUntil`, rounded up); it never shortens an active cooldown.
 */
export function cooldownUntil(
  current: Cooldown | undefined,
  nowMs: number,
  retryAfterSeconds: number | undefined,
  defaultSeconds: number,
  maxSeconds: number = DEFAULT_MAX_RETRY_AFTER_SECONDS,
): number {
  return laterCooldownEnd(
    current,
    nowMs,
    requestedUntil(nowMs, retryAfterSeconds, defaultSeconds, maxSeconds),
  );
}

/**
 * Whether a hit asking for `untilMs` must be written: when there is no active cooldown, or
 * when it asks for a strictly later end. Every hit thus leaves the cooldown ending at or after
 * what it asked; storms stay cheap because simultaneous hits ask for the same rounded end, so
 * only the first one writes.
 */
export function extendsCooldown(
  current: Cooldown | undefined,
  untilMs: number,
  nowMs: number,
): boolean {
  if (!current || current.untilMs <= nowMs) return true;
  return untilMs > current.untilMs;
}
