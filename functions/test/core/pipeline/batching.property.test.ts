import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type BatchingConfig,
  type BatchKind,
  type BatchQueues,
  batchingConfigSchema,
  batchKinds,
  defaultBatchingConfig,
  planNextBatch,
} from '../../../src/core/pipeline/batching';
import { refill } from '../../../src/core/quota/token-bucket';

const EPS = 1e-6;

const kindArb = (size: number, cost: number) =>
  fc
    .record({
      size: fc.integer({ min: 1, max: size }),
      costPerItem: fc.oneof(
        fc.integer({ min: 1, max: cost }),
        fc.double({ min: 0.1, max: cost, noNaN: true }),
      ),
      minFraction: fc.double({ min: 0, max: 1, noNaN: true }),
    })
    .map(({ size, costPerItem, minFraction }) => ({
      size,
      costPerItem,
      minItems: Math.max(1, Math.round(size * minFraction)),
    }));

const configArb: fc.Arbitrary<BatchingConfig> = fc
  .record({
    peek: kindArb(50, 3),
    commit: kindArb(5, 10),
    light: kindArb(50, 3),
    maxDeficit: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 100 })),
    minStartBalance: fc.oneof(
      fc.constant(1),
      fc.constant(0),
      fc.double({ min: 0, max: 5, noNaN: true }),
    ),
    order: fc.shuffledSubarray([...batchKinds], { minLength: 1 }),
  })
  .map((input) => batchingConfigSchema.parse(input));

const readingArb = fc.record({
  capacity: fc.integer({ min: 60, max: 2_000 }),
  ratePerSecond: fc.oneof(
    fc.double({ min: 0.05, max: 50, noNaN: true }),
    fc.integer({ min: 1, max: 20 }),
  ),
  balanceFraction: fc.double({ min: -1, max: 1, noNaN: true }),
  atMs: fc.integer({ min: 0, max: 1_000_000 }),
});

const queuesArb: fc.Arbitrary<BatchQueues<string>> = fc
  .record({ peek: fc.nat(200), commit: fc.nat(30), light: fc.nat(200) })
  .map((n) => ({
    peek: Array.from({ length: n.peek }, (_, i) => `p${i}`),
    commit: Array.from({ length: n.commit }, (_, i) => `c${i}`),
    light: Array.from({ length: n.light }, (_, i) => `l${i}`),
  }));

const SIZES: Record<BatchKind, number> = { peek: 50, commit: 5, light: 50 };

describe('batch planning properties', () => {
  it('never plans a batch past the allowed deficit, above its size or out of priority', () => {
    fc.assert(
      fc.property(configArb, readingArb, queuesArb, fc.nat(600_000), (config, r, queues, dt) => {
        const reading = { ...r, balance: r.balanceFraction * r.capacity };
        const nowMs = r.atMs + dt;
        const plan = planNextBatch(queues, reading, nowMs, config);
        const first = config.order.find((kind) => queues[kind].length > 0);
        if (!first) {
          expect(plan.kind).toBe('idle');
          return;
        }
        expect(plan.kind === 'idle' ? undefined : plan.batch).toBe(first);
        const projected = refill(reading, reading, nowMs).balance;
        if (plan.kind === 'run') {
          expect(plan.items.length).toBeGreaterThan(0);
          expect(plan.items.length).toBeLessThanOrEqual(config[first].size);
          expect(plan.items.length).toBeLessThanOrEqual(SIZES[first]);
          expect(plan.items).toEqual(queues[first].slice(0, plan.items.length));
          expect(plan.estimatedCost).toBeCloseTo(plan.items.length * config[first].costPerItem, 9);
          expect(projected).toBeGreaterThanOrEqual(config.minStartBalance - EPS);
          expect(plan.balanceAfter).toBeGreaterThanOrEqual(-config.maxDeficit - EPS);
        } else if (plan.kind === 'wait') {
          expect(plan.untilMs).toBeGreaterThanOrEqual(nowMs);
          // Woken at the promised time with no spending meanwhile, the task finds its batch.
          const later = planNextBatch(queues, reading, plan.untilMs, config);
          expect(later).toMatchObject({ kind: 'run', batch: first });
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('drains every queue against a reference bucket without a deep deficit', () => {
    fc.assert(
      fc.property(configArb, readingArb, queuesArb, (config, r, initial) => {
        const shape = { capacity: r.capacity, ratePerSecond: r.ratePerSecond };
        let state = { balance: r.balanceFraction * r.capacity, atMs: r.atMs };
        const queues = {
          peek: [...initial.peek],
          commit: [...initial.commit],
          light: [...initial.light],
        };
        const done: Record<BatchKind, string[]> = { peek: [], commit: [], light: [] };
        let nowMs = r.atMs;
        for (let step = 0; step < 2_000; step++) {
          const plan = planNextBatch(queues, { ...shape, ...state }, nowMs, config);
          if (plan.kind === 'idle') break;
          if (plan.kind === 'wait') {
            expect(plan.untilMs).toBeGreaterThan(nowMs - 1);
            nowMs = plan.untilMs;
            continue;
          }
          state = refill(shape, state, nowMs);
          expect(state.balance).toBeGreaterThanOrEqual(config.minStartBalance - EPS);
          state = { ...state, balance: state.balance - plan.estimatedCost };
          expect(state.balance).toBeGreaterThanOrEqual(-config.maxDeficit - EPS);
          queues[plan.batch].splice(0, plan.items.length);
          done[plan.batch].push(...plan.items);
        }
        for (const kind of batchKinds) {
          const expected = config.order.includes(kind) ? initial[kind] : [];
          expect(done[kind]).toEqual(expected);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('holds the default sizes: peek ≤ 50, commit ≤ 5, light ≤ 50', () => {
    fc.assert(
      fc.property(readingArb, queuesArb, fc.nat(600_000), (r, queues, dt) => {
        const reading = { ...r, balance: r.balanceFraction * r.capacity };
        const plan = planNextBatch(queues, reading, r.atMs + dt, defaultBatchingConfig);
        if (plan.kind === 'run') expect(plan.items.length).toBeLessThanOrEqual(SIZES[plan.batch]);
        if (plan.kind === 'run' && plan.batch === 'commit')
          expect(plan.estimatedCost).toBeLessThanOrEqual(25);
      }),
    );
  });
});
