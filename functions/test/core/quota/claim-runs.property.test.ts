import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { categorySchema, flagsSchema, providerSchema } from '../../../src/core/config';
import { maxGrantable } from '../../../src/core/quota/limit-shape';
import { type Arrival, FleetSimulator } from '../../../src/core/replay';

/**
 * Liveness of calls whose cost is near their share's size, across instances: claimed block by
 * block, each instance held a part of the few tokens valid together until they expired, and no
 * call was served (2% of a 250-token bucket, calls of 3 on 3 instances: 10 of 13 still waiting
 * after an hour). Runs (claim-runs.ts) claim a call's blocks all or none. The simulator's
 * upstream is an exact bucket: whatever the runs do, nothing may be over-spent (no 429).
 */

const from = Date.UTC(2026, 11, 1, 10);

describe('calls near their share’s size', () => {
  it('are all served across instances, and the bucket is never over-spent', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          capacity: fc.integer({ min: 50, max: 400 }),
          rate: fc.integer({ min: 5, max: 40 }),
          share: fc.integer({ min: 2, max: 30 }),
          // How near the share's size a call's cost is: 50% to 100% of what it can ever grant.
          costFraction: fc.double({ min: 0.5, max: 1, noNaN: true }),
          instances: fc.integer({ min: 2, max: 6 }),
          calls: fc.integer({ min: 4, max: 16 }),
          gapMs: fc.integer({ min: 0, max: 3_000 }),
        }),
        async (p) => {
          const config = {
            providers: [
              providerSchema.parse({
                id: 'keepa',
                limits: [{ kind: 'tokenBucket', capacity: p.capacity, refillPerSecond: p.rate }],
              }),
            ],
            categories: [
              categorySchema.parse({ id: 'small', provider: 'keepa', sharePercent: p.share }),
              categorySchema.parse({ id: 'rest', provider: 'keepa', sharePercent: 100 - p.share }),
            ],
            flags: flagsSchema.parse({}),
          };
          const sim = new FleetSimulator({
            config,
            fromMs: from,
            toMs: from + 60_000,
            instances: p.instances,
            seed: 3,
            drainMs: 60 * 60_000,
          });
          // The most one call can be granted at this share (the gate refuses more for good).
          const [provider] = config.providers;
          const maxCost =
            maxGrantable(provider!.limits[0]!, p.share, provider!.safetyMarginMs) ?? 0;
          fc.pre(maxCost >= 2);
          const cost = Math.max(2, Math.round(maxCost * p.costFraction));
          const arrivals: Arrival[] = [];
          for (let i = 0; i < p.calls; i++) {
            const atMs = from + i * p.gapMs;
            arrivals.push({
              atMs,
              provider: 'keepa',
              category: 'small',
              cost,
              bytes: 0,
              requests: 1,
            });
            arrivals.push({
              atMs,
              provider: 'keepa',
              category: 'rest',
              cost: 1,
              bytes: 0,
              requests: 1,
            });
          }
          const result = await sim.run(arrivals);
          expect(result.upstream429).toEqual([]);
          const small = result.categories.find((c) => c.category === 'small')!;
          expect({ granted: small.granted, waiting: small.waitingAtEnd }).toEqual({
            granted: p.calls,
            waiting: 0,
          });
        },
      ),
      { numRuns: 40 },
    );
  }, 300_000);
});
