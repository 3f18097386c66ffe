import type { Arrival } from '../../../functions/src/core/replay/sim-types.ts';

/**
 * The replay bench's recorded day (replay-bench.ts; functions/test/core/replay/fidelity.test.ts
 * replays its first minutes): Keepa's bucket shared 70/30 by deals and history. Plain documents:
 * each side parses them with its own schemas (the bench with the compiled ones).
 */
export const REPLAY_SCENARIO = {
  provider: { id: 'keepa', limits: [{ kind: 'tokenBucket', capacity: 300, refillPerSecond: 10 }] },
  categories: [
    { id: 'deals', provider: 'keepa', sharePercent: 70 },
    { id: 'history', provider: 'keepa', sharePercent: 30 },
  ],
};

/**
 * Its calls: Poisson times at a rate that follows the day (a busy half-hour at 1.3x
 * `callsPerSecond`, then two quieter ones at 0.85x), 60/40 between the categories.
 */
export function scenarioArrivals(
  fromMs: number,
  toMs: number,
  callsPerSecond: number,
  random: () => number,
): Arrival[] {
  const arrivals: Arrival[] = [];
  for (let t = fromMs; t < toMs; ) {
    const halfHour = Math.floor((t - fromMs) / 1_800_000);
    const rate = callsPerSecond * (halfHour % 3 === 0 ? 1.3 : 0.85);
    t += (-Math.log(1 - random()) * 1000) / rate;
    if (t >= toMs) break;
    arrivals.push({
      atMs: Math.floor(t),
      provider: 'keepa',
      category: random() < 0.6 ? 'deals' : 'history',
      cost: 1,
      bytes: 0,
      requests: 1,
    });
  }
  return arrivals;
}
