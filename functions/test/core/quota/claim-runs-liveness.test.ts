import { describe, expect, it } from 'vitest';
import { soloGate } from '../../attack/helpers';
import { categories, Fleet, provider } from './fleet-sim';

const START = Date.UTC(2026, 11, 6, 12);

describe('runs, liveness', () => {
  it('serves a call needing more than 512 blocks (Keepa-like bucket: 1200 tokens at 20/min, block 1)', async () => {
    const solo = soloGate(
      {
        limits: [{ kind: 'tokenBucket', capacity: 1200, refillPerSecond: 1 / 3 }],
        safetyMarginMs: 0,
      },
      { a: 100 },
      START,
    );
    // The bucket is full (1199 tokens valid): a call of 600 can go at once.
    const decision = await solo.gate.acquire({
      provider: 'p',
      category: 'a',
      cost: 600,
      maxWaitMs: 60_000,
    });
    expect(
      decision.kind === 'retryAt' ? `retry in ${decision.atMs - solo.now()} ms` : decision.kind,
    ).toBe('granted');
  });

  it('a run call that finds no run before a share change is not sent away for 2 x maxWait', async () => {
    const fleet = new Fleet({
      startMs: START,
      provider: provider([{ kind: 'tokenBucket', capacity: 100, refillPerSecond: 10 }], 0),
      categories: categories({ a: 50, b: 50 }),
      instances: 1,
      offsetsMs: [0],
      seed: 1,
    });
    // A share change, in force 15 s after it is published: a's old line stops minting then.
    const published = fleet.publish(fleet.current.provider, categories({ a: 60, b: 40 }), 0);
    const changeAtMs = published.allocation.categories.a!.at(-1)!.startMs;
    await fleet.clock.runUntil(changeAtMs - 2_000);
    const ask = async () => {
      let done = false;
      const answer = fleet
        .askAndWait(
          0,
          { provider: 'p', category: 'a', cost: 40 },
          {
            durationMs: 10,
            actual: { cost: 40, bytes: 0, requests: 1 },
          },
        )
        .finally(() => {
          done = true;
        });
      // Virtual time: run the clock while the gate waits.
      while (!done) await fleet.clock.runUntil(fleet.clock.t + 50);
      return answer;
    };
    // The old line (50 tokens, 5/s) is full: one call of 40 passes.
    expect(await ask()).toBeUndefined();
    // The next 40 cannot come from the old line (it ends in 2 s); the new one (60, 6/s) holds 40
    // about 7 s after the change. Being told to come back after the change is fine; 2 minutes is not.
    const retryAtMs = await ask();
    expect(retryAtMs).toBeDefined();
    expect(retryAtMs! - fleet.clock.t, 'deferred for').toBeLessThanOrEqual(20_000);
  });
});
