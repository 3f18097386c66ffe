import { describe, expect, it } from 'vitest';
import { worstExcess } from '../core/quota/engine-scenario';
import { categories, Fleet, provider } from '../core/quota/fleet-sim';
import { finish, stableClock, worker } from './helpers';

const START = Date.UTC(2026, 11, 3, 12, 0, 0);

async function churn(opts: {
  capacity: number;
  rate: number;
  blockTokens?: number;
  margin: number;
  crashEveryMs: number;
  durationMs: number;
  workers: number;
  cost: (w: number) => number;
  maxWait: (w: number) => number;
}) {
  const fleet = stableClock(
    new Fleet({
      startMs: START,
      provider: provider(
        [
          {
            kind: 'tokenBucket',
            capacity: opts.capacity,
            refillPerSecond: opts.rate,
            ...(opts.blockTokens ? { blockTokens: opts.blockTokens } : {}),
          },
        ],
        opts.margin,
      ),
      categories: categories({ a: 50, b: 50 }),
      instances: 6,
      offsetsMs: [-50, 50, -20, 20, 0, 40],
      seed: 11,
    }),
  );
  const end = START + opts.durationMs;
  const requests = Array.from({ length: opts.workers }, (_, w) => ({
    provider: 'p',
    category: w % 2 ? 'a' : 'b',
    cost: opts.cost(w),
    maxWaitMs: opts.maxWait(w),
  }));
  const workers = requests.map((r, w) => worker(fleet, w, r, end));
  let k = 0;
  for (let t = START; t < end; t += opts.crashEveryMs) {
    await fleet.clock.runUntil(t);
    if (opts.crashEveryMs < opts.durationMs) fleet.crash(k++ % 6);
  }
  await fleet.clock.runUntil(end);
  await finish(fleet, workers);
  const spent = fleet.calls.reduce((s, c) => s + c.actual.cost, 0);
  const bound = opts.capacity + (opts.rate * opts.durationMs) / 1000;
  const check = worstExcess(
    fleet.calls,
    (c) => c.actual.cost,
    () => 0,
    (a, b) => opts.capacity + (opts.rate * (b - a)) / 1000,
  );
  return { fleet, spent, bound, utilization: spent / bound, check };
}

describe('review: cold instances recycled', () => {
  for (const crashEveryMs of [Number(process.env.CRASH_MS ?? 300), 1e9]) {
    it(`bucket 300@5, crash every ${crashEveryMs} ms`, async () => {
      const r = await churn({
        capacity: 300,
        rate: 5,
        margin: 100,
        crashEveryMs,
        durationMs: Number(process.env.DUR ?? 60_000),
        workers: 12,
        cost: (w) => 1 + (w % 3),
        maxWait: (w) => [0, 100, 1_000][w % 3]!,
      });
      console.log(
        'churn',
        crashEveryMs,
        JSON.stringify({
          calls: r.fleet.calls.length,
          spent: r.spent,
          bound: r.bound,
          util: r.utilization.toFixed(3),
          check: r.check,
          errors: r.fleet.errors.length,
        }),
      );
      expect(r.fleet.errors).toEqual([]);
      expect(r.check.excess).toBeLessThanOrEqual(1e-9);
      // Crashes lose what the dead instance held: the same 0.52-0.53 on d4d27c5 (not a regression).
      if (crashEveryMs > 60_000) expect(r.utilization).toBeGreaterThanOrEqual(0.9);
    }, 300_000);
  }
});
