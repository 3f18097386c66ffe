import { describe, expect, it } from 'vitest';
import { worstExcess } from '../core/quota/engine-scenario';
import { categories, Fleet, provider } from '../core/quota/fleet-sim';
import { drainOn, finish, stableClock, worker } from './helpers';

const START = Date.UTC(2026, 11, 3, 12, 0, 0);
const C = 300;
const r = 5;

/**
 * maxAwaitSeconds defaults to 60: the gate takes tokens of the line it plans with, for an
 * instant up to a minute ahead, then sleeps. A share change published during the sleep starts
 * new lines 15 s later, while the tokens the sleeping grant took were minted by the old line
 * after it should have stopped: for that stretch the category mints at old + new rate.
 */
async function scenario(change: boolean) {
  const fleet = stableClock(
    new Fleet({
      startMs: START,
      provider: provider([{ kind: 'tokenBucket', capacity: C, refillPerSecond: r }], 600),
      categories: categories({ a: 50, b: 50 }),
      instances: 3,
      offsetsMs: [0, 0, 0],
      seed: 3,
    }),
  );
  // Both categories spend what their lines hold.
  await drainOn(fleet, 0, { provider: 'p', category: 'a', maxWaitMs: 0 });
  await drainOn(fleet, 1, { provider: 'p', category: 'b', maxWaitMs: 0 });
  const t0 = fleet.clock.t;
  // A call of a costing 100 is granted from tokens minted over the next 40 s, and waits.
  const big = fleet.ask(
    0,
    { provider: 'p', category: 'a', cost: 100, maxWaitMs: 60_000 },
    { durationMs: 1, actual: { cost: 100, bytes: 0, requests: 1 } },
  );
  await fleet.clock.runUntil(t0 + 1_000);
  // The operator moves a to 90% (b 10%), in force 15 s later.
  if (change) fleet.publish(fleet.current.provider, categories({ a: 90, b: 10 }), 0);
  const end = t0 + 50_000;
  const workers = [
    worker(fleet, 1, { provider: 'p', category: 'a', maxWaitMs: 0 }, end),
    worker(fleet, 2, { provider: 'p', category: 'b', maxWaitMs: 0 }, end),
  ];
  await fleet.clock.runUntil(end);
  await finish(fleet, [...workers, big]);
  expect(fleet.errors).toEqual([]);
  const bigCall = fleet.calls.find((c) => c.actual.cost === 100);
  const check = worstExcess(
    fleet.calls,
    (c) => c.actual.cost,
    () => 0,
    (from, to) => C + (r * (to - from)) / 1000,
  );
  console.log(
    `long-wait change=${change}`,
    JSON.stringify({
      bigCallAfterMs: bigCall && Math.round(bigCall.atMs - t0),
      calls: fleet.calls.length,
      check,
    }),
  );
  return check;
}

describe('attack: a grant that waits across a share change', () => {
  it('control: without the change, every interval is within C + r*T', async () => {
    expect((await scenario(false)).excess).toBeLessThanOrEqual(0);
  });

  it('with a share change during the wait, every interval is still within C + r*T', async () => {
    const check = await scenario(true);
    expect(check.excess, `over C + r*T in [${check.at}]`).toBeLessThanOrEqual(0);
  });
});
