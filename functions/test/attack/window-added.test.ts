import { describe, expect, it } from 'vitest';
import { categories, Fleet, provider } from '../core/quota/fleet-sim';
import { drainOn, stableClock } from './helpers';

const START = Date.UTC(2026, 11, 3, 12, 0, 0);

/**
 * An operator adds a monthly cap (say the proxy plan's traffic) on the 3rd. The engine fixes a
 * window's allowance from the limits in force at the window's start (epochs.ts fixedWindow):
 * the cap was not, so the category's allowance in the current month is 0 and every call is
 * sent to the 1st of next month, with 999,999 of 1,000,000 requests unspent.
 */
describe('attack: a window limit added inside its window', () => {
  it('does not stop every call until the next window', async () => {
    const bucket = { kind: 'tokenBucket', capacity: 100, refillPerSecond: 10 };
    const fleet = stableClock(
      new Fleet({
        startMs: START,
        provider: provider([bucket], 600),
        categories: categories({ a: 100 }),
        instances: 1,
        offsetsMs: [0],
        seed: 5,
      }),
    );
    const ask = { provider: 'p', category: 'a', maxWaitMs: 0 };
    expect((await drainOn(fleet, 0, ask, 5)).grants).toBe(5);
    fleet.publish(
      provider(
        [bucket, { kind: 'window', unit: 'month', limit: 1_000_000, measure: 'requests' }],
        600,
      ),
      categories({ a: 100 }),
      0,
    );
    await fleet.clock.runUntil(fleet.clock.t + 20_000);
    const after = await drainOn(fleet, 0, ask, 5);
    console.log(
      'window-added',
      JSON.stringify({
        ...after,
        retryAt: after.retryAtMs && new Date(after.retryAtMs).toISOString(),
      }),
    );
    expect(after.grants, 'granted after the cap was added').toBeGreaterThan(0);
  });
});
