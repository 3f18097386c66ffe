import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { categorySchema, providerSchema } from '../../../src/core/config';
import { queueBurst, queueRateFor } from '../../../src/core/queues/queue-rate';
import { SimClock } from '../../../src/core/replay';
import { defaultQueueRate, WorkQueues } from '../../../src/core/replay/work-queues';

/**
 * The simulated work queues dispatch as Cloud Tasks does (and the local stack's queue, which a
 * recorded run replayed against its replay measures them by): a token bucket at the queue's rate,
 * fractions included, holding one second of it; due tasks earliest first. The first model booked
 * whole dispatches per calendar second: at 12.5/s it sent 12, at 0.5/s it sent 1, and a replay
 * of a run through a real queue predicted 5-7% fewer deferrals than it had.
 */

const provider = providerSchema.parse({
  id: 'p',
  limits: [{ kind: 'tokenBucket', capacity: 100, refillPerSecond: 10 }],
});

/** Dispatch times of tasks due at `dueMs` (added in that order) on a queue at `rate`/s. */
async function dispatches(rate: number, dueMs: number[], untilMs = 600_000): Promise<number[]> {
  const clock = new SimClock(0);
  const queues = new WorkQueues(clock, new Map([['p', provider]]), [], {
    queueDispatchesPerSecond: rate,
  });
  const at: number[] = [];
  for (const due of dueMs) queues.add('p', due, () => at.push(clock.t));
  await clock.runUntil(untilMs);
  return at;
}

describe('defaultQueueRate', () => {
  it('is the rate production gives the queue (queue-rate.ts), windows and shares included', () => {
    const day = providerSchema.parse({
      id: 'd',
      limits: [{ kind: 'window', unit: 'day', limit: 10_000, measure: 'requests' }],
    });
    const halfShared = [
      categorySchema.parse({ id: 'a', provider: 'p', sharePercent: 50 }),
      categorySchema.parse({ id: 'b', provider: 'p', sharePercent: 20 }),
    ];
    const deployed = { maxDispatchesPerSecond: 500, maxConcurrentDispatches: 5000 };
    const production = (p: typeof provider, cats: typeof halfShared) =>
      queueRateFor(p, cats, [{ work: 'w', cost: 1 }], deployed).maxDispatchesPerSecond;
    const dayCats = [categorySchema.parse({ id: 'x', provider: 'd', sharePercent: 100 })];
    // A day window of 10,000: 0.145/s, not the 500/s of a queue that knew only buckets.
    expect(defaultQueueRate(day, dayCats)).toBe(production(day, dayCats));
    expect(defaultQueueRate(day, dayCats)).toBeLessThan(0.2);
    // Shares summing to 70% of the 10/s bucket: 8.75/s.
    expect(defaultQueueRate(provider, halfShared)).toBe(8.75);
    expect(defaultQueueRate(provider, halfShared)).toBe(production(provider, halfShared));
  });
});

describe('WorkQueues', () => {
  it('dispatches a backlog at the queue rate, fractions included, after a burst of one second', async () => {
    const at = await dispatches(12.5, Array(2_000).fill(0));
    const by = (ms: number) => at.filter((t) => t <= ms).length;
    expect(queueBurst(12.5)).toBe(13);
    expect(by(0)).toBe(13);
    // One token every 80 ms after the burst: 13 + 12.5/s.
    expect(by(60_000)).toBe(13 + 750);
    expect(by(120_000)).toBe(13 + 1_500);
  });

  it('spaces dispatches below one a second', async () => {
    expect(await dispatches(0.5, [0, 0, 0, 0])).toEqual([0, 2_000, 4_000, 6_000]);
  });

  it('dispatches due tasks earliest first, ties in the order they came, never before due', async () => {
    const clock = new SimClock(0);
    const queues = new WorkQueues(clock, new Map([['p', provider]]), [], {
      queueDispatchesPerSecond: 1,
    });
    const seen: string[] = [];
    const add = (name: string, due: number) =>
      queues.add('p', due, () => seen.push(`${name}@${clock.t}`));
    add('late', 5_000);
    add('a', 1_000);
    add('b', 1_000);
    add('first', 0);
    await clock.runUntil(60_000);
    expect(seen).toEqual(['first@0', 'a@1000', 'b@2000', 'late@5000']);
  });

  it('lets a burst through after a quiet spell', async () => {
    const at = await dispatches(4, [...Array(4).fill(0), ...Array(8).fill(10_000)]);
    expect(at).toEqual([
      0, 0, 0, 0, 10_000, 10_000, 10_000, 10_000, 10_250, 10_500, 10_750, 11_000,
    ]);
  });

  it('a call dispatched now takes a token ahead of the waiting tasks, down to a burst of debt', async () => {
    const clock = new SimClock(0);
    const queues = new WorkQueues(clock, new Map([['p', provider]]), [], {
      queueDispatchesPerSecond: 2,
    });
    const at: number[] = [];
    // Burst 2: two tokens, then two of debt; a fifth is refused (it would wait its turn).
    const taken = Array.from({ length: 5 }, () => queues.takeToken('p'));
    expect(taken).toEqual([true, true, true, true, false]);
    // The waiting task gets the next whole token once the debt is paid: 3 tokens at 2/s.
    queues.add('p', 0, () => at.push(clock.t));
    await clock.runUntil(10_000);
    expect(at).toEqual([1_500]);
  });

  it('a first ask that waits in the queue is not overtaken by later first asks', async () => {
    const clock = new SimClock(0);
    const queues = new WorkQueues(clock, new Map([['p', provider]]), [], {
      queueDispatchesPerSecond: 1,
    });
    const seen: string[] = [];
    // Burst 1, one of debt; the third first ask waits, and so do the ones after it, in order.
    for (const name of ['a', 'b', 'c', 'd']) {
      if (queues.takeToken('p')) seen.push(`${name}@0`);
      else queues.addFirstAsk('p', 0, () => seen.push(`${name}@${clock.t}`));
    }
    clock.at(2_500, () => {
      expect(queues.takeToken('p')).toBe(false);
      queues.addFirstAsk('p', 2_500, () => seen.push(`e@${clock.t}`));
    });
    await clock.runUntil(60_000);
    expect(seen).toEqual(['a@0', 'b@0', 'c@2000', 'd@3000', 'e@4000']);
    // Once none waits, a first ask takes a token again.
    expect(queues.takeToken('p')).toBe(true);
  });

  it('dispatches on the millisecond a token is whole, not one later (float error)', async () => {
    const clock = new SimClock(0);
    const queues = new WorkQueues(clock, new Map([['p', provider]]), [], {
      queueDispatchesPerSecond: 0.5,
    });
    const at: number[] = [];
    queues.add('p', 11_391, () => at.push(clock.t));
    clock.at(10_376, () => queues.add('p', 10_376, () => at.push(clock.t)));
    await clock.runUntil(60_000);
    // Burst 1: the first at 10,376, the next token whole at 12,376.
    expect(at).toEqual([10_376, 12_376]);
  });

  it('refuses a rate that is not positive (it would never dispatch, or spin)', () => {
    for (const rate of [0, -1, Number.NaN]) {
      const queues = new WorkQueues(new SimClock(0), new Map([['p', provider]]), [], {
        queueDispatchesPerSecond: rate,
      });
      expect(() => queues.add('p', 0, () => undefined)).toThrow(RangeError);
    }
  });

  it('without a queue, a task comes back when due', async () => {
    expect(await dispatches(Number.POSITIVE_INFINITY, [300, 0, 0])).toEqual([0, 0, 300]);
  });

  it('never dispatches more than burst + rate x elapsed, nor a task before it is due', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.double({ min: 0.1, max: 50, noNaN: true }),
        fc.array(fc.integer({ min: 0, max: 20_000 }), { minLength: 1, maxLength: 300 }),
        async (rate, dueMs) => {
          const at = await dispatches(rate, dueMs, 10_000_000);
          expect(at).toHaveLength(dueMs.length);
          const burst = queueBurst(rate);
          const sorted = [...at].sort((a, b) => a - b);
          let overspent = 0;
          for (let i = 0; i < sorted.length; i++) {
            for (let j = i; j < sorted.length; j++) {
              // Within [sorted[i], sorted[j]]: j - i + 1 dispatches.
              const allowed = burst + Math.floor(((sorted[j]! - sorted[i]!) / 1000) * rate + 1e-9);
              if (j - i + 1 > allowed) overspent++;
            }
          }
          expect(overspent).toBe(0);
          // Each dispatch serves a task already due: the k-th dispatch is at or after the k-th due.
          const dues = [...dueMs].sort((a, b) => a - b);
          expect(sorted.filter((t, k) => t < dues[k]!)).toEqual([]);
        },
      ),
      { numRuns: 100 },
    );
  });
});
