import {
  categorySchema,
  flagsSchema,
  providerSchema,
  type RuntimeConfig,
} from '../../../src/core/config';
import {
  type DemandMinute,
  DemandRecorder,
} from '../../../src/core/storage/write-buffer/demand-stats';

/** Where the replay tests' recorded demand starts. */
export const REPLAY_FROM = Date.UTC(2026, 11, 1, 10);

/** Keepa with one bucket, shared by categories at the given percents. */
export function keepaConfig(
  shares: Record<string, number>,
  bucket = { capacity: 300, rate: 20 },
): RuntimeConfig {
  return {
    providers: [
      providerSchema.parse({
        id: 'keepa',
        limits: [{ kind: 'tokenBucket', capacity: bucket.capacity, refillPerSecond: bucket.rate }],
      }),
    ],
    categories: Object.entries(shares).map(([id, sharePercent]) =>
      categorySchema.parse({ id, provider: 'keepa', sharePercent }),
    ),
    flags: flagsSchema.parse({}),
  };
}

/**
 * Steady demand per category (calls per second) over `minutes` from REPLAY_FROM, first asks
 * recorded by second as the gate records them.
 */
export function steadyDemand(perSecond: Record<string, number>, minutes: number): DemandMinute[] {
  const recorder = new DemandRecorder();
  for (const [category, rate] of Object.entries(perSecond)) {
    for (let t = REPLAY_FROM; t < REPLAY_FROM + minutes * 60_000; t += 1000 / rate) {
      recorder.record({
        provider: 'keepa',
        category,
        at: Math.floor(t),
        cost: 1,
        bytes: 0,
        requests: 1,
        outcome: 'granted',
      });
    }
  }
  return recorder.records();
}
