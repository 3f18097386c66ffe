import { describe, expect, it } from 'vitest';
import { worstExcess, worstWindow } from '../core/quota/engine-scenario';
import { alternatingWorkers, saturate, skewedFleet } from './helpers';

const START = Date.UTC(2026, 11, 3, 12, 0, 0);
const OFFSETS = [-300, 300, -150, 150, 0, 300];

function fleetOf(limits: Array<Record<string, unknown>>, shares: Record<string, number>, seed = 7) {
  return skewedFleet({ startMs: START, limits, shares, offsetsMs: OFFSETS, seed });
}

describe('attack: saturated limits on skewed instances', () => {
  it('a per-operation limit: at most burst + rate*T', async () => {
    const fleet = fleetOf(
      [
        { kind: 'tokenBucket', capacity: 10_000, refillPerSecond: 1_000 },
        { kind: 'operation', operation: 'op', ratePerSecond: 4, burst: 10 },
      ],
      { a: 50, b: 50 },
    );
    const requests = alternatingWorkers(12, () => ({ operation: 'op' }));
    await saturate(fleet, requests, START + 60_000);
    const check = worstExcess(
      fleet.calls,
      () => 1,
      () => 0,
      (a, b) => 10 + (4 * (b - a)) / 1000,
    );
    console.log('op', JSON.stringify({ calls: fleet.calls.length, check }));
    expect(fleet.errors).toEqual([]);
    expect(check.excess).toBeLessThanOrEqual(1e-9);
  }, 60_000);

  it('a per-second window: at most the limit in every second', async () => {
    const fleet = fleetOf([{ kind: 'window', unit: 'second', limit: 30, measure: 'requests' }], {
      a: 50,
      b: 50,
    });
    const requests = alternatingWorkers(12);
    await saturate(fleet, requests, START + 30_000);
    const over = worstWindow(
      fleet.calls,
      'second',
      30,
      () => 1,
      () => 0,
    );
    console.log('second', JSON.stringify({ calls: fleet.calls.length, over }));
    expect(fleet.errors).toEqual([]);
    expect(over).toBe(0);
  }, 60_000);
});
