import fc from 'fast-check';
import { expect, it } from 'vitest';
import { soloGate } from '../../attack/helpers';

const START = Date.UTC(2026, 11, 6, 12);

/** One instance, calls that never wait (the call limiter's way): at the retry time named, the call passes. */
it('a refused call of any cost passes at the time it was told (one instance)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        capacity: fc.integer({ min: 10, max: 120 }),
        rate: fc.integer({ min: 1, max: 20 }),
        blockTokens: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
      }),
      fc.array(
        fc.record({
          costFraction: fc.double({ min: 0, max: 1, noNaN: true }),
          dtMs: fc.integer({ min: 0, max: 2_000 }),
        }),
        {
          minLength: 1,
          maxLength: 30,
        },
      ),
      async (bucket, calls) => {
        const solo = soloGate(
          {
            limits: [
              {
                kind: 'tokenBucket',
                capacity: bucket.capacity,
                refillPerSecond: bucket.rate,
                ...(bucket.blockTokens ? { blockTokens: bucket.blockTokens } : {}),
              },
            ],
            safetyMarginMs: 0,
          },
          { a: 100 },
          START,
        );
        const span = bucket.capacity - 1;
        for (const { costFraction, dtMs } of calls) {
          solo.advanceTo(solo.now() + dtMs);
          const cost = Math.max(1, Math.round(span * costFraction));
          const request = { provider: 'p', category: 'a', cost, maxWaitMs: 0 };
          const first = await solo.gate.acquire(request);
          if (first.kind === 'granted') continue;
          if (first.kind !== 'retryAt') continue;
          const toldMs = first.atMs - solo.now();
          solo.advanceTo(first.atMs);
          const second = await solo.gate.acquire(request);
          expect(second.kind, `cost ${cost}, told to wait ${toldMs} ms`).toBe('granted');
        }
      },
    ),
    { numRuns: 300, seed: 42 },
  );
}, 300_000);
