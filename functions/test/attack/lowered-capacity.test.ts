import { describe, expect, it } from 'vitest';
import { worstExcess } from '../core/quota/engine-scenario';
import { categories, provider } from '../core/quota/fleet-sim';
import { alternatingWorkers, saturate, skewedFleet } from './helpers';

const START = Date.UTC(2026, 11, 3, 12, 0, 0);

describe('attack: lowering a bucket', () => {
  it('from the edit on, intervals stay within the new C + r*T (plus what was claimed before)', async () => {
    const fleet = skewedFleet({
      startMs: START,
      limits: [{ kind: 'tokenBucket', capacity: 300, refillPerSecond: 5 }],
      shares: { a: 50, b: 50 },
      offsetsMs: [-300, 300, -100, 100, 0, 200],
      seed: 9,
    });
    let editStart = 0;
    const requests = alternatingWorkers(12, (w) => ({ cost: 1 + (w % 3) }));
    await saturate(fleet, requests, START + Number(process.env.DUR ?? 90_000), (t) => {
      if (t >= START + 10_000 && editStart === 0) {
        const p = fleet.publish(
          provider([{ kind: 'tokenBucket', capacity: 30, refillPerSecond: 5 }], 600),
          categories({ a: 50, b: 50 }),
          0,
        );
        editStart = p.allocation.limits.at(-1)!.startMs;
      }
    });
    expect(fleet.errors).toEqual([]);
    const after = fleet.calls.filter((c) => c.atMs >= editStart + 300);
    const check = worstExcess(
      after,
      (c) => c.actual.cost,
      () => 0,
      (a, b) => 30 + (5 * (b - a)) / 1000,
    );
    console.log(
      'lowered',
      fleet.clock.spins,
      fleet.retries.length,
      JSON.stringify({ editStart: editStart - START, calls: after.length, check }),
    );
    expect(check.excess).toBeLessThanOrEqual(0);
  }, 60_000);
});
