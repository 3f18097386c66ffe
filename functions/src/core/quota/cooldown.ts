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
 * The end a single 429 seen at `nowMs` asks for: now + Retry-After (or the provider default),
 * rounded UP to the granularity, so it is never earlier than what the upstream asked.
 */
export function requestedUntil(
  nowMs: number,
  retryAfterSeconds: number | undefined,
  defaultSeconds: number,
): number {
  const durationMs = Math.max(0, Math.ceil((retryAfterSeconds ?? defaultSeconds) * 1000));
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
): number {
  return laterCooldownEnd(current, nowMs, requestedUntil(nowMs, retryAfterSeconds, defaultSeconds));
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
