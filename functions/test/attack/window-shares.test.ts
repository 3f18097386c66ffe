import { describe, expect, it } from 'vitest';
import { windowAt } from '../../src/core/quota/windows';
import { categories, Fleet, provider } from '../core/quota/fleet-sim';
import { drainOn, saturate, stableClock, sumBy } from './helpers';

const START = Date.UTC(2026, 11, 3, 12, 0, 0);

/**
 * README: "A window's allowance per category is fixed from the limit and shares in force when
 * it began; a publication inside a window records it, so no later change reaches it, and a
 * category added inside a window has none of it."
 */
describe('attack: fixed windows and share changes', () => {
  it('a share change inside a day window does not hand out a second allowance', async () => {
    const fleet = stableClock(
      new Fleet({
        startMs: START,
        provider: provider(
          [{ kind: 'window', unit: 'day', limit: 1000, measure: 'requests' }],
          600,
        ),
        categories: categories({ a: 50, b: 50 }),
        instances: 2,
        offsetsMs: [0, 0],
        seed: 1,
      }),
    );
    const ask = (category: string) => ({ provider: 'p', category, maxWaitMs: 0 });
    // Both categories spend their half of the day.
    const a1 = await drainOn(fleet, 0, ask('a'));
    const b1 = await drainOn(fleet, 1, ask('b'));
    // The operator moves 10% from b to a; it takes effect 15 s later, in the same day.
    fleet.publish(fleet.current.provider, categories({ a: 60, b: 40 }), 0);
    await fleet.clock.runUntil(fleet.clock.t + 20_000);
    const a2 = await drainOn(fleet, 0, ask('a'));
    const b2 = await drainOn(fleet, 1, ask('b'));
    const day = windowAt('day', START).id;
    const inDay = fleet.calls.filter((c) => windowAt('day', c.atMs).id === day);
    const total = sumBy(inDay, (c) => c.actual.requests);
    console.log('window/shares', JSON.stringify({ a1, b1, a2, b2, total }));
    expect(
      a1.grants + a2.grants,
      'a: its 50% of the day, fixed at the day start',
    ).toBeLessThanOrEqual(500);
    expect(total, 'requests the upstream saw in one day (limit 1000)').toBeLessThanOrEqual(1000);
  });

  it('a category added inside a window has none of it', async () => {
    const fleet = stableClock(
      new Fleet({
        startMs: START,
        provider: provider(
          [{ kind: 'window', unit: 'day', limit: 1000, measure: 'requests' }],
          600,
        ),
        categories: categories({ a: 50, b: 50 }),
        instances: 3,
        offsetsMs: [0, 0, 0],
        seed: 2,
      }),
    );
    const ask = (category: string) => ({ provider: 'p', category, maxWaitMs: 0 });
    const a1 = await drainOn(fleet, 0, ask('a'));
    const b1 = await drainOn(fleet, 1, ask('b'));
    fleet.publish(fleet.current.provider, categories({ a: 40, b: 40, c: 20 }), 0);
    await fleet.clock.runUntil(fleet.clock.t + 20_000);
    const c = await drainOn(fleet, 2, ask('c'));
    const day = windowAt('day', START).id;
    const total = sumBy(
      fleet.calls.filter((call) => windowAt('day', call.atMs).id === day),
      (call) => call.actual.requests,
    );
    console.log('window/new category', JSON.stringify({ a1, b1, c, total }));
    expect(c.grants, 'c was added inside the day').toBe(0);
    expect(total).toBeLessThanOrEqual(1000);
  });

  it('shares rotating every 20 s (as the churn bench does every 5 s) keep a day window within its limit', async () => {
    const fleet = stableClock(
      new Fleet({
        startMs: START,
        provider: provider(
          [
            { kind: 'window', unit: 'day', limit: 1000, measure: 'requests' },
            { kind: 'tokenBucket', capacity: 100, refillPerSecond: 50 },
          ],
          600,
        ),
        categories: categories({ x: 40, y: 35, z: 25 }),
        instances: 3,
        offsetsMs: [0, 100, -100],
        seed: 4,
      }),
    );
    const rotation = [
      { x: 40, y: 35, z: 25 },
      { x: 25, y: 40, z: 35 },
      { x: 35, y: 25, z: 40 },
    ];
    let n = 0;
    const requests = Array.from({ length: 9 }, (_, w) => ({
      provider: 'p',
      category: ['x', 'y', 'z'][w % 3]!,
      maxWaitMs: 1_000,
    }));
    await saturate(fleet, requests, START + 120_000, (t) => {
      if ((t - START) % 20_000 === 0 && t > START) {
        fleet.publish(fleet.current.provider, categories(rotation[++n % 3]!), 0);
      }
    });
    expect(fleet.errors).toEqual([]);
    const total = sumBy(fleet.calls, (c) => c.actual.requests);
    console.log('window/rotation', JSON.stringify({ publications: n, total }));
    expect(total, 'requests in one day, limit 1000').toBeLessThanOrEqual(1000);
  }, 60_000);
});
