import { describe, expect, it } from 'vitest';
import { categories, Fleet, provider } from '../core/quota/fleet-sim';
import { drainOn, stableClock } from './helpers';

const START = Date.UTC(2026, 11, 3, 12, 0, 0);

/**
 * epochs.ts retain(): at most MAX_EPOCHS (32) epochs per category, the oldest dropped first,
 * even when all 32 kept are still pending: the epoch in force now is dropped, and the category
 * has no share until the first kept one starts (15 s later).
 */
describe('attack: many share changes in a few seconds', () => {
  it('a category keeps a share while changes are pending', async () => {
    const fleet = stableClock(
      new Fleet({
        startMs: START,
        provider: provider([{ kind: 'tokenBucket', capacity: 1_000, refillPerSecond: 100 }], 100),
        categories: categories({ a: 50, b: 50 }),
        instances: 1,
        offsetsMs: [0],
        seed: 13,
        viewCacheMs: 1,
      }),
    );
    for (let i = 0; i < 40; i++) {
      await fleet.clock.runUntil(fleet.clock.t + 10);
      fleet.publish(
        fleet.current.provider,
        categories(i % 2 ? { a: 50, b: 50 } : { a: 51, b: 49 }),
        0,
      );
    }
    const epochs = fleet.current.allocation.categories.a!;
    const inForce = epochs.filter((e) => e.startMs <= fleet.clock.t).length;
    const answer = await drainOn(fleet, 0, { provider: 'p', category: 'a', maxWaitMs: 0 }, 5);
    console.log('retention', JSON.stringify({ kept: epochs.length, inForce, answer }));
    expect(answer.grants, `a's answer: ${answer.reason}`).toBe(5);
  });
});
