export interface Cooldown {
  provider: string;
  untilMs: number;
  startedAtMs: number;
  lastOperation: string;
  hits: number;
}

/** A new 429 extends a cooldown to the later of its current end and now + Retry-After. */
export function cooldownUntil(
  current: Cooldown | undefined,
  nowMs: number,
  retryAfterSeconds: number | undefined,
  defaultSeconds: number,
): number {
  const requested = nowMs + Math.ceil((retryAfterSeconds ?? defaultSeconds) * 1000);
  return Math.max(current && current.untilMs > nowMs ? current.untilMs : 0, requested);
}

/**
 * Whether a hit must be written at all. A storm of simultaneous 429s asks for about the same
 * end: if the active cooldown already ends within `toleranceMs` of what this hit asks, the hit
 * is only counted, not written as a new cooldown.
 */
export function extendsCooldown(
  current: Cooldown | undefined,
  untilMs: number,
  nowMs: number,
  toleranceMs: number,
): boolean {
  if (!current || current.untilMs <= nowMs) return true;
  return untilMs > current.untilMs + toleranceMs;
}
