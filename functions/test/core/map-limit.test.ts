import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mapLimit } from '../../src/core/map-limit';

describe('mapLimit', () => {
  it('keeps input order and never has more than `limit` calls in flight', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 30 }),
        fc.integer({ min: 1, max: 6 }),
        async (delays, limit) => {
          let inFlight = 0;
          let most = 0;
          const results = await mapLimit(delays, limit, async (delay) => {
            most = Math.max(most, ++inFlight);
            await new Promise((r) => setTimeout(r, delay));
            inFlight--;
            return delay * 2;
          });
          expect(results).toEqual(delays.map((d) => d * 2));
          expect(most).toBeLessThanOrEqual(limit);
          if (delays.length > 0) expect(most).toBe(Math.min(limit, delays.length));
        },
      ),
      { numRuns: 40 },
    );
  });
});
