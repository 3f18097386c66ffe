import { describe, expect, it } from 'vitest';
import { worstExcess } from '../core/quota/engine-scenario';
import { categories } from '../core/quota/fleet-sim';
import { alternatingWorkers, saturate, skewedFleet } from './helpers';

const START = Date.UTC(2026, 11, 3, 12, 0, 0);

describe('review: plentiful tokens, whole pages searched far ahead', () => {
  it('big bucket, share changes every 7 s, skewed clocks: within C + r*T and spends most of it', async () => {
    const C = 20_000;
    const R = 400;
    const fleet = skewedFleet({
      startMs: START,
      limits: [{ kind: 'tokenBucket', capacity: C, refillPerSecond: R }],
      shares: { a: 50, b: 50 },
      offsetsMs: [-300, 300, -150, 150, 0, 250],
      seed: 5,
    });
    const requests = alternatingWorkers(24, (w) => ({
      operation: w % 4 === 0 ? 'x' : undefined,
      cost: 1 + (w % 5) * 3,
    }));
    const DUR = Number(process.env.DUR ?? 40_000);
    let k = 0;
    await saturate(fleet, requests, START + DUR, (t) => {
      if ((t - START) % 7_000 === 0 && t > START) {
        const a = [30, 70, 50, 20][k++ % 4]!;
        fleet.publish(fleet.current.provider, categories({ a, b: 100 - a }), 0);
      }
    });
    const spent = fleet.calls.reduce((s, c) => s + c.actual.cost, 0);
    const check = worstExcess(
      fleet.calls,
      (c) => c.actual.cost,
      () => 0,
      (a, b) => C + (R * (b - a)) / 1000,
    );
    const stats = { calls: fleet.calls.length, spent, bound: C + (R * DUR) / 1000, check };
    console.log('plentiful', JSON.stringify(stats));
    expect(fleet.errors).toEqual([]);
    expect(check.excess).toBeLessThanOrEqual(1e-9);
  }, 600_000);
});
