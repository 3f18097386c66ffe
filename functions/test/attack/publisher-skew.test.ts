import { describe, expect, it } from 'vitest';
import { worstExcess } from '../core/quota/engine-scenario';
import { categories, Fleet, provider } from '../core/quota/fleet-sim';
import { finish, stableClock, worker } from './helpers';

const START = Date.UTC(2026, 11, 3, 12, 0, 0);
const C = 5_000;
const R = 1_000;

/**
 * Two publications 10 ms apart from instances whose clocks are 600 ms apart (each within the
 * ±300 ms the margin of 600 covers). The first, from the fast clock, changes a and b: their
 * next epoch starts at its now + 15 s. The second, from the slow clock, lowers a and b and adds
 * c: a and b chain after the pending epoch (last.startMs + 1), but c has none, so c's share
 * starts at the slow clock's now + 15 s: ~600 ms before a and b give theirs up. The margin
 * between lines (600 ms) is eaten by the publishers' skew, and c's line mints while a's and b's
 * old lines still do, on instances skewed the other way.
 */
async function scenario(withC: boolean) {
  const fleet = stableClock(
    new Fleet({
      startMs: START,
      provider: provider([{ kind: 'tokenBucket', capacity: C, refillPerSecond: R }], 600),
      categories: categories({ a: 50, b: 50 }),
      instances: 6,
      offsetsMs: [-300, -300, -300, 300, 300, 300],
      seed: 17,
    }),
  );
  const end = START + 22_000;
  const request = (category: string) => ({ provider: 'p', category, cost: 10, maxWaitMs: 100 });
  const workers = Array.from({ length: 12 }, (_, w) =>
    worker(fleet, w % 3, request(w % 2 ? 'a' : 'b'), end),
  );
  await fleet.clock.runUntil(START + 1_000);
  fleet.publish(fleet.current.provider, categories({ a: 60, b: 40 }), +300);
  await fleet.clock.runUntil(START + 1_010);
  fleet.publish(
    fleet.current.provider,
    categories(withC ? { a: 40, b: 30, c: 30 } : { a: 40, b: 30 }),
    -300,
  );
  const epochs = fleet.current.allocation.categories;
  if (withC) {
    await fleet.clock.runUntil(START + 7_000); // every view has c by now
    for (let w = 0; w < 6; w++) workers.push(worker(fleet, 3 + (w % 3), request('c'), end));
  }
  await fleet.clock.runUntil(end);
  await finish(fleet, workers);
  expect(fleet.errors).toEqual([]);
  const check = worstExcess(
    fleet.calls,
    (c) => c.actual.cost,
    () => 0,
    (a, b) => C + (R * (b - a)) / 1000,
  );
  const starts = Object.fromEntries(
    Object.entries(epochs).map(([k, e]) => [k, e.map((x) => x.startMs - START)]),
  );
  console.log(
    `publisher-skew withC=${withC}`,
    JSON.stringify({
      starts,
      calls: fleet.calls.length,
      check: { excess: check.excess, at: check.at?.map((t) => t - START) },
    }),
  );
  return check;
}

describe('attack: publishers with skewed clocks', () => {
  it('control: the same publications without a new category stay within C + r*T', async () => {
    expect((await scenario(false)).excess).toBeLessThanOrEqual(0);
  }, 60_000);

  it('a category added by a slow publisher right after a fast one stays within C + r*T', async () => {
    const check = await scenario(true);
    expect(check.excess).toBeLessThanOrEqual(0);
  }, 60_000);
});
