import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type FirestoreOp,
  SelfQuotaMonitor,
  type SelfQuotaOptions,
} from '../../src/core/storage/self-quota';

/** A monitor on a clock the test moves; writes limited to 100/s and 1000/min. */
function setup(options: SelfQuotaOptions = {}) {
  const clock = { ms: 1_000_000 };
  const monitor = new SelfQuotaMonitor(
    { ...options, limits: { write: { perSecond: 100, perMinute: 1000 }, ...options.limits } },
    () => clock.ms,
  );
  return { clock, monitor };
}

describe('Firestore self-quota monitor', () => {
  it('counts per second and over a sliding minute', () => {
    const { clock, monitor } = setup();
    monitor.record('write', 30);
    monitor.record('read', 5);
    clock.ms += 1000;
    monitor.record('write', 20);
    expect(monitor.usage('write', 'second')).toBe(20);
    expect(monitor.usage('write', 'minute')).toBe(50);
    expect(monitor.usage('read', 'minute')).toBe(5);
    clock.ms += 59_000; // the first second has left the minute window
    expect(monitor.usage('write', 'minute')).toBe(20);
    clock.ms += 1000;
    expect(monitor.usage('write', 'minute')).toBe(0);
  });

  it('warns at 90% of a limit with a warning record, at most once per cooldown', () => {
    const { clock, monitor } = setup({ warningCooldownMs: 10_000 });
    const seen: unknown[] = [];
    monitor.onWarning((w) => seen.push(w));
    expect(monitor.record('write', 89)).toEqual([]);
    const [warning] = monitor.record('write', 1);
    expect(warning).toEqual({
      atMs: clock.ms,
      op: 'write',
      window: 'second',
      usage: 90,
      limit: 100,
      percent: 90,
    });
    expect(monitor.record('write', 5)).toEqual([]);
    clock.ms += 10_000;
    expect(monitor.record('write', 95).map((w) => w.window)).toEqual(['second']);
    expect(seen).toHaveLength(2);
    expect(monitor.recent()).toEqual(seen);
  });

  it('warns on the minute window when seconds stay below their limit', () => {
    const { clock, monitor } = setup();
    const warnings = [];
    for (let s = 0; s < 13; s++) {
      warnings.push(...monitor.record('write', 70));
      clock.ms += 1000;
    }
    expect(warnings).toEqual([
      expect.objectContaining({
        op: 'write',
        window: 'minute',
        usage: 910,
        limit: 1000,
        percent: 91,
      }),
    ]);
  });

  it('throttles above the soft limit, doubling per second up to 10x, then recovers', () => {
    const { clock, monitor } = setup();
    expect(monitor.delayMs(100)).toBe(100);
    monitor.record('write', 80);
    expect(monitor.multiplier()).toBe(1); // at the soft limit, not above it
    monitor.record('write', 1);
    const multipliers = [monitor.multiplier()];
    for (let s = 0; s < 4; s++) {
      clock.ms += 1000;
      monitor.record('write', 81);
      multipliers.push(monitor.multiplier());
    }
    expect(multipliers).toEqual([2, 4, 8, 10, 10]);
    expect(monitor.delayMs(100)).toBe(1000);
    expect(monitor.throttled()).toBe(true);
    // Usage drops (the minute window holds 405 of 1000): the last busy second still counts,
    // then the multiplier halves each second.
    const recovery = [];
    for (let s = 0; s < 6; s++) {
      clock.ms += 1000;
      monitor.record('write', 10);
      recovery.push(monitor.multiplier());
    }
    expect(recovery).toEqual([10, 5, 2.5, 1.25, 1, 1]);
    expect(monitor.throttled()).toBe(false);
  });

  it('throttles on the minute window and on any operation kind', () => {
    const { clock, monitor } = setup({ limits: { delete: { perSecond: 10, perMinute: 100 } } });
    for (let s = 0; s < 11; s++) {
      monitor.record('write', 75);
      clock.ms += 1000;
    }
    expect(monitor.usage('write', 'minute')).toBe(825);
    expect(monitor.multiplier()).toBeGreaterThan(1);

    const other = setup({ limits: { delete: { perSecond: 10, perMinute: 100 } } });
    other.monitor.record('delete', 9);
    expect(other.monitor.multiplier()).toBe(2);
    expect(other.monitor.status().usage.delete.second).toEqual({
      usage: 9,
      limit: 10,
      percent: 90,
    });
  });

  it('forgets everything after a long idle gap', () => {
    const { clock, monitor } = setup();
    for (let s = 0; s < 10; s++) {
      monitor.record('write', 99);
      clock.ms += 1000;
    }
    expect(monitor.multiplier()).toBe(10);
    clock.ms += 3_600_000;
    expect(monitor.multiplier()).toBe(1);
    expect(monitor.usage('write', 'minute')).toBe(0);
  });

  it('rejects nonsensical limits', () => {
    expect(() => new SelfQuotaMonitor({ limits: { read: { perSecond: 0 } } })).toThrow(RangeError);
    expect(() => new SelfQuotaMonitor({ growthFactor: 1 })).toThrow(RangeError);
  });

  it('matches a reference count and keeps the multiplier within bounds (property)', () => {
    const ops: FirestoreOp[] = ['read', 'write', 'delete'];
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            advanceMs: fc.integer({ min: 0, max: 3000 }),
            op: fc.constantFrom(...ops),
            count: fc.integer({ min: 1, max: 60 }),
          }),
          { maxLength: 150 },
        ),
        (steps) => {
          const { clock, monitor } = setup();
          const log: Array<{ ms: number; op: FirestoreOp; count: number }> = [];
          for (const step of steps) {
            clock.ms += step.advanceMs;
            monitor.record(step.op, step.count);
            log.push({ ms: clock.ms, op: step.op, count: step.count });
            const second = Math.floor(clock.ms / 1000);
            for (const op of ops) {
              const inWindow = (from: number) =>
                log
                  .filter((e) => e.op === op && Math.floor(e.ms / 1000) >= from)
                  .reduce((n, e) => n + e.count, 0);
              expect(monitor.usage(op, 'second')).toBe(inWindow(second));
              expect(monitor.usage(op, 'minute')).toBe(inWindow(second - 59));
            }
            const m = monitor.multiplier();
            expect(m).toBeGreaterThanOrEqual(1);
            expect(m).toBeLessThanOrEqual(10);
            const status = monitor.status();
            const over = ops.some(
              (op) =>
                status.usage[op].second.usage > 0.8 * status.usage[op].second.limit ||
                status.usage[op].minute.usage > 0.8 * status.usage[op].minute.limit,
            );
            if (over) expect(m).toBeGreaterThan(1);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
