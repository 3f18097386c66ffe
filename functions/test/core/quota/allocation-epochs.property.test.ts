import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { providerSchema } from '../../../src/core/config';
import type { Allocation } from '../../../src/core/quota/epochs';
import { Ledger } from '../../../src/core/quota/ledger';
import { planLimits } from '../../../src/core/quota/limits';
import { lowestBalance } from '../../quota/grant-log';
import { allocationFor } from './allocation-fixture';
import { claimUntil } from './claim-registry';

/**
 * Shares change while instances hold blocks of the old token lines: the old line stops minting
 * at the change and the new one starts empty, so across every category the provider's bucket
 * still holds in every interval.
 */
describe('share changes', () => {
  it('never let two categories together exceed the provider bucket', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 10, max: 100 }),
        fc.integer({ min: 5, max: 50 }),
        fc.integer({ min: 1, max: 90 }),
        fc.integer({ min: 1, max: 90 }),
        fc.integer({ min: 0, max: 3_000 }),
        fc.array(
          fc.record({
            instance: fc.nat(4),
            category: fc.constantFrom('a', 'b'),
            advanceMs: fc.integer({ min: 0, max: 20 }),
            cost: fc.integer({ min: 1, max: 10 }),
          }),
          { minLength: 100, maxLength: 600 },
        ),
        (capacity, rate, before, after, changeAfterMs, steps) => {
          const provider = providerSchema.parse({
            id: 'p',
            limits: [{ kind: 'tokenBucket', capacity, refillPerSecond: rate }],
            safetyMarginMs: 0,
          });
          const startMs = 1_800_000_000_000;
          const changeMs = startMs + changeAfterMs;
          const first = allocationFor(provider, { a: before, b: 100 - before });
          const allocation: Allocation = {
            ...first,
            categories: {
              a: [
                { percent: before, startMs: 0 },
                { percent: after, startMs: changeMs },
              ],
              b: [
                { percent: 100 - before, startMs: 0 },
                { percent: 100 - after, startMs: changeMs },
              ],
            },
          };
          const claimed = new Set<string>();
          const ledgers = new Map<string, Ledger>();
          const grants: Array<{ atMs: number; cost: number }> = [];
          let now = startMs;
          for (const step of steps) {
            now += step.advanceMs;
            const [limit] = planLimits(
              allocation,
              'p',
              step.category,
              { cost: step.cost, bytes: 0, requests: 1 },
              now,
            );
            if (!limit || step.cost > limit.source.maxCost(now)) continue;
            const key = `${step.instance}/${limit.key}`;
            const ledger = ledgers.get(key) ?? new Ledger();
            ledgers.set(key, ledger);
            claimUntil(claimed, ledger, limit.source, limit.key, step.cost, now);
            if (ledger.take(step.cost, now)) grants.push({ atMs: now, cost: step.cost });
          }
          expect(
            lowestBalance({ capacity, ratePerSecond: rate }, grants, startMs),
          ).toBeGreaterThanOrEqual(-1e-9);
        },
      ),
      { numRuns: 200 },
    );
  });
});
