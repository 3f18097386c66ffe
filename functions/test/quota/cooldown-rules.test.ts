import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Cooldown,
  cooldownGranularityMs,
  cooldownUntil,
  extendsCooldown,
  requestedUntil,
} from '../../src/core/quota/cooldown';

const T0 = Date.UTC(2026, 0, 1);

function cooldown(untilMs: number): Cooldown {
  return { provider: 'keepa', untilMs, startedAtMs: T0, lastOperation: 'product', hits: 1 };
}

describe('cooldown rules', () => {
  it('round a requested end up to a tenth of the duration, between 100 ms and 5 s', () => {
    expect(cooldownGranularityMs(0)).toBe(100);
    expect(cooldownGranularityMs(500)).toBe(100);
    expect(cooldownGranularityMs(3_000)).toBe(300);
    expect(cooldownGranularityMs(60_000)).toBe(5_000);
    expect(cooldownGranularityMs(1_800_000)).toBe(5_000);
    expect(requestedUntil(T0 + 1, 60, 600)).toBe(T0 + 65_000);
    expect(requestedUntil(T0 + 4_999, 60, 600)).toBe(T0 + 65_000);
    expect(requestedUntil(T0 + 5_001, 60, 600)).toBe(T0 + 70_000);
    expect(requestedUntil(T0, undefined, 2)).toBe(T0 + 2_000);
  });

  it('never ask less than the upstream did, nor more than one granule beyond', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: T0, max: T0 + 86_400_000 }),
        fc.option(fc.double({ min: 0, max: 3_600, noNaN: true }), { nil: undefined }),
        fc.integer({ min: 1, max: 3_600 }),
        (now, retryAfter, fallback) => {
          const durationMs = Math.ceil((retryAfter ?? fallback) * 1000);
          const until = requestedUntil(now, retryAfter, fallback);
          expect(until).toBeGreaterThanOrEqual(now + durationMs);
          expect(until).toBeLessThan(now + durationMs + cooldownGranularityMs(durationMs));
          expect(until % cooldownGranularityMs(durationMs)).toBe(0);
        },
      ),
    );
  });

  it('every hit leaves the cooldown at or after what it asked, without shortening it', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 600_000 }),
        fc.integer({ min: 0, max: 600_000 }),
        fc.integer({ min: 0, max: 600 }),
        (elapsed, remaining, retryAfter) => {
          const now = T0 + elapsed;
          const current = cooldown(now + remaining);
          const asked = requestedUntil(now, retryAfter, 600);
          const until = cooldownUntil(current, now, retryAfter, 600);
          expect(until).toBe(Math.max(current.untilMs, asked));
          // Written exactly when the stored end would be earlier than the hit asks.
          const stored = extendsCooldown(current, until, now) ? until : current.untilMs;
          expect(stored).toBeGreaterThanOrEqual(asked);
          expect(stored).toBeGreaterThanOrEqual(current.untilMs);
        },
      ),
    );
  });

  it('a hit 3 s past the current end is written; simultaneous hits write once', () => {
    const now = T0 + 1_000;
    const current = cooldown(T0 + 61_000);
    expect(extendsCooldown(current, cooldownUntil(current, now, 63, 600), now)).toBe(true);
    const first = cooldownUntil(undefined, now, 60, 600);
    const stored = cooldown(first);
    for (const at of [now, now + 1, now + 50, now + 3_999]) {
      expect(extendsCooldown(stored, cooldownUntil(stored, at, 60, 600), at)).toBe(false);
    }
    expect(extendsCooldown(undefined, first, now)).toBe(true);
    expect(extendsCooldown(cooldown(now - 1), first, now)).toBe(true);
  });
});
