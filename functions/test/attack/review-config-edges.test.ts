import { describe, expect, it } from 'vitest';
import { worstWindow } from '../core/quota/engine-scenario';
import { alternatingWorkers, saturate, skewedFleet } from './helpers';

const START = Date.UTC(2026, 11, 3, 12, 0, 0);

describe('review: limit shapes the config accepts', () => {
  it('a per-second window with a margin just under a second: spendable 10 ms a second', async () => {
    const fleet = skewedFleet({
      startMs: START,
      limits: [{ kind: 'window', unit: 'second', limit: 30, measure: 'requests' }],
      shares: { a: 50, b: 50 },
      offsetsMs: [-400, 400, -200, 200, 0, 100],
      seed: 3,
      marginMs: 990,
    });
    const requests = alternatingWorkers(12);
    await saturate(fleet, requests, START + 20_000);
    const over = worstWindow(
      fleet.calls,
      'second',
      30,
      () => 1,
      () => 0,
    );
    console.log(
      'near-second-margin',
      JSON.stringify({
        calls: fleet.calls.length,
        over,
        retries: fleet.retries.length,
        spins: fleet.clock.spins,
      }),
    );
    expect(fleet.errors).toEqual([]);
    expect(over).toBe(0);
  }, 120_000);
});
