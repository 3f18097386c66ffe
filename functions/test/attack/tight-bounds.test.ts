import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  runScenario,
  SKEW_MS,
  stepArb,
  worstExcess,
  worstWindow,
} from '../core/quota/engine-scenario';

/**
 * engine.property.test.ts checks the scenario's limits with slack: the per-second window
 * (30 requests) against 120, the per-minute cost window (1500) against 3000, the operation
 * (burst 10 at 4/s) against 16 + 6T. README promises "at most the limit in each window" and
 * C + r*T. The same scenario, held to the limits it configures.
 */
describe('attack: the property scenario held to its own limits', () => {
  it('windows and the per-operation limit hold exactly', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: -SKEW_MS, max: SKEW_MS }), { minLength: 6, maxLength: 6 }),
        fc.array(stepArb, { minLength: 20, maxLength: 40 }),
        fc.integer(),
        async (offsetsMs, steps, seed) => {
          const { fleet } = await runScenario(offsetsMs, { capacity: 200, rate: 20 }, steps, seed);
          expect(fleet.errors).toEqual([]);
          const perSecond = worstWindow(
            fleet.calls,
            'second',
            30,
            (c) => c.actual.requests,
            () => 0,
          );
          const op = worstExcess(
            fleet.calls,
            (c) => (c.operation === 'op' ? 1 : 0),
            () => 0,
            (a, b) => 10 + (4 * (b - a)) / 1000,
          );
          console.log('tight', JSON.stringify({ perSecond, op }));
          expect(perSecond, 'requests over 30 in some second').toBe(0);
          expect(op.excess, `op over 10 + 4T in [${op.at}]`).toBeLessThanOrEqual(1e-9);
        },
      ),
      { numRuns: 6, seed: 42, endOnFailure: true },
    );
  }, 120_000);
});
