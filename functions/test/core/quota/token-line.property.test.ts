import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Ledger } from '../../../src/core/quota/ledger';
import { type BucketShape, refill } from '../../../src/core/quota/token-bucket';
import { frontier, mintTimeMs, type TokenLine } from '../../../src/core/quota/token-line';
import { lineSource } from '../../../src/core/quota/token-source';
import { claimUntil } from './claim-registry';

/**
 * Simulates several instances sharing one bucket through block claims (a Set stands in for
 * create-if-absent documents) and checks every grant against a reference token bucket that
 * starts full: if the grants conform, the upstream never answers 429.
 */
function simulate(
  line: TokenLine,
  blockSize: number,
  instances: number,
  steps: Array<{ instance: number; advanceMs: number; cost: number }>,
  startMs: number,
) {
  const claimed = new Set<string>();
  const source = lineSource(line, blockSize);
  const ledgers = Array.from({ length: instances }, () => new Ledger());
  const grants: Array<{ atMs: number; cost: number }> = [];
  let now = startMs;
  for (const step of steps) {
    now += step.advanceMs;
    const ledger = ledgers[step.instance % instances]!;
    claimUntil(claimed, ledger, source, 'line', step.cost, now);
    if (ledger.take(step.cost, now)) grants.push({ atMs: now, cost: step.cost });
  }
  return grants;
}

/** Replays grants on a reference bucket; returns the lowest balance seen. */
function lowestBalance(
  shape: BucketShape,
  grants: Array<{ atMs: number; cost: number }>,
  startMs: number,
) {
  let state = { balance: shape.capacity, atMs: startMs };
  let lowest = shape.capacity;
  for (const grant of grants) {
    state = refill(shape, state, grant.atMs);
    state = { ...state, balance: state.balance - grant.cost };
    lowest = Math.min(lowest, state.balance);
  }
  return lowest;
}

const lineArb = fc.record({
  capacity: fc.integer({ min: 2, max: 400 }),
  ratePerSecond: fc.oneof(
    fc.integer({ min: 1, max: 500 }),
    fc.double({ min: 0.01, max: 50, noNaN: true }),
  ),
});
const stepsArb = fc.array(
  fc.record({
    instance: fc.nat(20),
    advanceMs: fc.oneof(
      fc.constant(0),
      fc.integer({ min: 0, max: 50 }),
      fc.integer({ min: 0, max: 20_000 }),
    ),
    cost: fc.integer({ min: 1, max: 30 }),
  }),
  { maxLength: 300 },
);

describe('token line', () => {
  it('never mints a token early, whatever the rate', () => {
    fc.assert(
      fc.property(lineArb, fc.nat(1_000_000), (line, n) => {
        const at = mintTimeMs(line, n);
        expect(frontier(line, at)).toBeGreaterThanOrEqual(n);
        expect(frontier(line, at - 1)).toBeLessThan(n);
      }),
    );
  });

  it('grants across instances always conform to the bucket (no upstream 429)', () => {
    fc.assert(
      fc.property(
        lineArb,
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 8 }),
        stepsArb,
        fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }),
        (line, blockSize, instances, steps, startMs) => {
          const grants = simulate(line, blockSize, instances, steps, startMs);
          // The reference starts full at the start: the most the upstream can allow.
          expect(lowestBalance(line, grants, startMs)).toBeGreaterThanOrEqual(-1e-9);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('spends the whole allowance under saturated demand, bar one block per instance', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 50, max: 400 }),
        fc.integer({ min: 5, max: 200 }),
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 6 }),
        (capacity, ratePerSecond, blockSize, instances) => {
          const line = { capacity, ratePerSecond };
          const startMs = 1_700_000_000_000;
          const steps = Array.from({ length: 3_000 }, (_, i) => ({
            instance: i,
            advanceMs: i % instances === 0 ? 1 : 0,
            cost: 1,
          }));
          const durationMs = Math.floor((3_000 - 1) / instances) + 1;
          const granted = simulate(line, blockSize, instances, steps, startMs).length;
          const allowed = capacity + (ratePerSecond * durationMs) / 1000;
          expect(granted).toBeLessThanOrEqual(allowed + 1e-9);
          expect(granted).toBeGreaterThanOrEqual(allowed - instances * blockSize - 3);
        },
      ),
      { numRuns: 25 },
    );
  });
});
