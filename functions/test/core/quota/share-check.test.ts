import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Category,
  ConfigError,
  categorySchema,
  type Limit,
  type Provider,
  providerSchema,
} from '../../../src/core/config';
import { nextAllocation } from '../../../src/core/quota/epochs';
import { maxGrantable, planLimits } from '../../../src/core/quota/limits';
import {
  checkShares,
  introducedProblems,
  shareError,
  shareProblems,
  type WorkCall,
} from '../../../src/core/quota/share-check';

function provider(limits: unknown[], extra: Record<string, unknown> = {}): Provider {
  return providerSchema.parse({ id: 'p', limits, ...extra });
}

function category(sharePercent: number, extra: Record<string, unknown> = {}): Category {
  return categorySchema.parse({ id: 'c', provider: 'p', sharePercent, ...extra });
}

function problems(p: Provider, c: Category, calls: WorkCall[]) {
  return shareProblems({ providers: [p], categories: [c] }, new Map([[c.id, calls]]));
}

const GET_REPORT = { kind: 'operation', operation: 'getReport', ratePerSecond: 2, burst: 15 };
const KEEPA = {
  kind: 'tokenBucket',
  capacity: 300,
  refillPerSecond: 5,
  allowNegative: true,
  burstThreshold: 280,
};
const SYNC: WorkCall[] = ['createReport', 'getReport', 'getReportDocument'].map((operation) => ({
  work: `sync: ${operation}`,
  operation,
}));
const PEEK: WorkCall = { work: 'peek batch (50 x 1)', operation: 'peek', cost: 50 };

describe('the examples', () => {
  it('SP-API getReport, burst 15: below 2/15 of it (13.3%) no call fits, without a margin', () => {
    const spapi = provider([GET_REPORT], { safetyMarginMs: 0 });
    expect(problems(spapi, category(13.33), SYNC)).toEqual([
      {
        category: 'c',
        provider: 'p',
        limit: 'getReport 2/s burst 15',
        limitIndex: 0,
        cost: 1,
        max: 0,
        percent: 13.33,
        work: 'sync: getReport',
        field: 'sharePercent',
      },
    ]);
    expect(problems(spapi, category(13.34), SYNC)).toEqual([]);
  });

  it('SP-API getReport with the default 100 ms safety margin needs 20%: a whole token is reserved', () => {
    const spapi = provider([GET_REPORT]);
    expect(problems(spapi, category(19.99), SYNC)).toMatchObject([{ cost: 1, max: 0 }]);
    expect(problems(spapi, category(20), SYNC)).toEqual([]);
  });

  it("Keepa's 50-token batches need 18.22% of a 280 burst threshold, 18.58% with the margin", () => {
    const bare = provider([KEEPA], { safetyMarginMs: 0 });
    expect(problems(bare, category(18.21), [PEEK])).toMatchObject([
      { limit: 'token bucket 300@5/s', cost: 50, max: 49, work: PEEK.work },
    ]);
    expect(problems(bare, category(18.22), [PEEK])).toEqual([]);
    const keepa = provider([KEEPA]);
    expect(problems(keepa, category(18.57), [PEEK])).toMatchObject([{ cost: 50, max: 49 }]);
    expect(problems(keepa, category(18.58), [PEEK])).toEqual([]);
  });

  it('reports a ConfigError naming the category, the field, the limit and the cost', () => {
    const spapi = provider([GET_REPORT], { safetyMarginMs: 0 });
    const error = (() => {
      try {
        checkShares({ providers: [spapi], categories: [category(10)] }, new Map([['c', SYNC]]));
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).document).toBe('categories/c');
    expect((error as ConfigError).issues).toEqual([
      {
        path: 'sharePercent',
        message:
          'share 10% of getReport 2/s burst 15 carries at most 0 per call; the work asks 1 (sync: getReport)',
      },
    ]);
  });
});

describe('which share and which limits', () => {
  const spapi = provider([GET_REPORT], { safetyMarginMs: 0 });

  it('checks the override when one pins the share, and names that field', () => {
    expect(problems(spapi, category(50, { overridePercent: 10 }), SYNC)).toMatchObject([
      { percent: 10, field: 'overridePercent' },
    ]);
    expect(problems(spapi, category(10, { overridePercent: 50 }), SYNC)).toEqual([]);
  });

  it('skips paused categories: by flag, or at or below their minimum share', () => {
    expect(problems(spapi, category(10, { paused: true }), SYNC)).toEqual([]);
    expect(problems(spapi, category(10, { minSharePercent: 10 }), SYNC)).toEqual([]);
  });

  it('checks the configured share, not what others leave free while paused', () => {
    const other = categorySchema.parse({ id: 'o', provider: 'p', sharePercent: 90, paused: true });
    const config = { providers: [spapi], categories: [category(10), other] };
    expect(shareProblems(config, new Map([['c', SYNC]]))).toHaveLength(1);
  });

  it('asks operation limits only of their operation, windows by what they measure', () => {
    const p = provider(
      [
        { kind: 'operation', operation: 'product', ratePerSecond: 1, burst: 2 },
        { kind: 'window', unit: 'second', limit: 10, measure: 'requests' },
        { kind: 'window', unit: 'month', limit: 1000, measure: 'bytes' },
        { kind: 'window', unit: 'minute', limit: 100, measure: 'cost' },
        { kind: 'concurrency', max: 1 },
      ],
      { safetyMarginMs: 0 },
    );
    const calls: WorkCall[] = [
      { work: 'listing', operation: 'listing', cost: 3, requests: 2, bytes: 50 },
    ];
    // 5%: 0 of 2 burst (no call asks it), 0 requests/s, 50 bytes, 5 cost per minute.
    expect(problems(p, category(5), calls).map((x) => [x.limitIndex, x.cost, x.max])).toEqual([
      [1, 2, 0],
    ]);
    expect(problems(p, category(2), calls).map((x) => [x.limitIndex, x.cost, x.max])).toEqual([
      [1, 2, 0],
      [2, 50, 20],
      [3, 3, 2],
    ]);
  });

  it('takes shares in 0.01% steps, rounded down, as the allocation publishes them', () => {
    expect(problems(spapi, category(13.339), SYNC)).toMatchObject([{ percent: 13.33, max: 0 }]);
  });

  it('has nothing to check for categories without work or of unknown providers', () => {
    expect(problems(spapi, category(1.5), [])).toEqual([]);
    const stray = categorySchema.parse({ id: 'c', provider: 'ghost', sharePercent: 1.5 });
    expect(
      shareProblems({ providers: [spapi], categories: [stray] }, new Map([['c', SYNC]])),
    ).toEqual([]);
  });
});

describe('introduced problems', () => {
  const spapi = provider([GET_REPORT], { safetyMarginMs: 0 });
  const at = (percent: number) => problems(spapi, category(percent), SYNC);

  it('are the ones a change adds: a share lowered, or moved to another too small', () => {
    expect(introducedProblems(at(10), at(10))).toEqual([]);
    expect(introducedProblems(at(10), at(12))).toMatchObject([{ percent: 12 }]);
    expect(introducedProblems(at(50), at(12))).toMatchObject([{ percent: 12 }]);
    expect(introducedProblems(at(10), at(50))).toEqual([]);
    // Work added where the share carried none before.
    expect(introducedProblems([], at(10))).toHaveLength(1);
  });

  it('make one ConfigError for the first category, one issue per limit', () => {
    const error = shareError([...at(10), { ...at(10)[0]!, category: 'other', limit: 'x' }]);
    expect(error.document).toBe('categories/c');
    expect(error.issues).toHaveLength(1);
  });
});

/** Limits as configuration allows them, small enough that shares often do not fit. */
const limitArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.record({
    kind: fc.constant('tokenBucket'),
    capacity: fc.integer({ min: 2, max: 400 }),
    refillPerSecond: fc.constantFrom(0.01, 0.5, 1, 5, 20, 200),
    burstThreshold: fc.option(fc.integer({ min: 2, max: 400 }), { nil: undefined }),
  }),
  fc.record({
    kind: fc.constant('operation'),
    operation: fc.constantFrom('a', 'b'),
    ratePerSecond: fc.constantFrom(0.0167, 0.5, 2, 10, 50),
    burst: fc.integer({ min: 2, max: 60 }),
  }),
  fc.record({
    kind: fc.constant('window'),
    unit: fc.constantFrom('second', 'minute', 'day'),
    limit: fc.integer({ min: 1, max: 500 }),
    measure: fc.constantFrom('cost', 'requests', 'bytes'),
  }),
  fc.record({ kind: fc.constant('concurrency'), max: fc.integer({ min: 1, max: 5 }) }),
);

const callArb: fc.Arbitrary<WorkCall> = fc.record({
  work: fc.constantFrom('w1', 'w2', 'w3'),
  operation: fc.option(fc.constantFrom('a', 'b', 'c'), { nil: undefined }),
  cost: fc.option(fc.integer({ min: 1, max: 120 }), { nil: undefined }),
  requests: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
  bytes: fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined }),
});

describe('against the gate, for random limits, shares and work', () => {
  it("reports a limit exactly when the gate's bound at the share cannot carry the work", () => {
    const seen = { reported: 0, carried: 0 };
    fc.assert(
      fc.property(
        fc.array(limitArb, { minLength: 1, maxLength: 4 }),
        fc.constantFrom(0, 50, 100, 250),
        // Whole 0.01% steps above the 1% minimum, as operators and phases set shares.
        fc.integer({ min: 101, max: 10_000 }).map((h) => h / 100),
        fc.array(callArb, { minLength: 1, maxLength: 4 }),
        (limits, safetyMarginMs, percent, calls) => {
          // Only what configuration accepts (a margin may not swallow a bucket or a window).
          fc.pre(providerSchema.safeParse({ id: 'p', limits, safetyMarginMs }).success);
          const p = provider(limits, { safetyMarginMs });
          const found = problems(p, category(percent), calls);
          // The gate's own plan of each call at this share: its amount per limit, and the most
          // that limit's source can ever hand one call.
          const published = categorySchema.parse({
            id: 'c',
            provider: 'p',
            sharePercent: percent,
            minSharePercent: 0,
          });
          const { allocation } = nextAllocation(undefined, p, [published], 0);
          const asked = new Map<number, { cost: number; bound: number }>();
          for (const call of calls) {
            const amounts = {
              operation: call.operation,
              cost: call.cost ?? 1,
              requests: call.requests ?? 1,
              bytes: call.bytes ?? 0,
            };
            for (const planned of planLimits(allocation, 'p', 'c', amounts, 0)) {
              const index = p.limits.indexOf(planned.limit as Limit);
              const bound = planned.source.maxCost(0);
              const seen = asked.get(index);
              if (!seen || planned.amount > seen.cost)
                asked.set(index, { cost: planned.amount, bound });
            }
          }
          for (const problem of found) {
            const gate = asked.get(problem.limitIndex)!;
            // A reported problem: the gate really can never grant the largest call.
            expect(gate.cost).toBe(problem.cost);
            expect(gate.cost).toBeGreaterThan(gate.bound);
            expect(problem.max).toBe(gate.bound);
          }
          const reported = new Set(found.map((x) => x.limitIndex));
          seen.reported += found.length;
          for (const [index, { cost, bound }] of asked) {
            if (reported.has(index)) continue;
            seen.carried++;
            // No report: maxGrantable carries every call, and so does the gate.
            expect(maxGrantable(p.limits[index]!, percent, safetyMarginMs)).toBeGreaterThanOrEqual(
              cost,
            );
            expect(bound).toBeGreaterThanOrEqual(cost);
          }
        },
      ),
      { numRuns: 2_000 },
    );
    // Both outcomes were exercised, many times.
    expect(seen.reported).toBeGreaterThan(200);
    expect(seen.carried).toBeGreaterThan(200);
  });
});
