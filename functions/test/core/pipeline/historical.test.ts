import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Collection } from '../../../src/core/pipeline/collection-schema';
import {
  generationKey,
  type HistoricalState,
  historicalConfigSchema,
  markExhausted,
  planDiscovery,
  rewindDiscovery,
} from '../../../src/core/pipeline/historical';

const config = historicalConfigSchema.parse({ productsPerRun: 200, listingPageSize: 50 });

function collection(marketplaces: Collection['marketplaces'], status = 'running'): Collection {
  return {
    id: 'c',
    provider: 'smartproxy',
    category: 'buckcheap-historical',
    marketplaces,
    phase: 1,
    status: status as Collection['status'],
    startedAt: 0,
    lastUpdateAt: 0,
    lastProgressAt: 0,
    phaseHistory: [{ phase: 1, sharePercent: 15, at: 0 }],
    samples: [],
    phases: null,
    stalledAt: null,
    restarts: 0,
    deadline: null,
    lateSince: null,
    deadlineRaisedAt: null,
  };
}

const empty: HistoricalState = { marketplaces: {} };

describe('historical discovery plan', () => {
  it('hands out pages up to productsPerRun ahead of the collected count, per marketplace', () => {
    const plan = planDiscovery(
      collection({ takealot: { target: 800, collected: 0 }, makro: { target: 400, collected: 0 } }),
      empty,
      config,
    );
    expect(plan.pages).toEqual([
      ...[1, 2, 3, 4].map((page) => ({ marketplace: 'takealot', page, limit: 50 })),
      ...[1, 2, 3, 4].map((page) => ({ marketplace: 'makro', page, limit: 50 })),
    ]);
    expect(plan.next.marketplaces.takealot).toEqual({ nextPage: 5, exhausted: false });
  });

  it('hands out nothing more while the collection lags; more once it has caught up', () => {
    const first = planDiscovery(
      collection({ takealot: { target: 800, collected: 0 } }),
      empty,
      config,
    );
    const lagging = planDiscovery(
      collection({ takealot: { target: 800, collected: 120 } }),
      first.next,
      config,
    );
    // 120 collected + 200 ahead reaches product 320: pages 5..7 (page 7 starts at product 300).
    expect(lagging.pages.map((p) => p.page)).toEqual([5, 6, 7]);
  });

  it('never plans past the target, nor for an exhausted marketplace or a paused collection', () => {
    const small = planDiscovery(collection({ makro: { target: 60, collected: 0 } }), empty, config);
    // The last page of a target takes only what the target lacks.
    expect(small.pages.map((p) => [p.page, p.limit])).toEqual([
      [1, 50],
      [2, 10],
    ]);
    const exhausted = planDiscovery(
      collection({ makro: { target: 400, collected: 0 } }),
      markExhausted(empty, 'makro'),
      config,
    );
    expect(exhausted.pages).toEqual([]);
    const paused = planDiscovery(
      collection({ makro: { target: 400, collected: 0 } }, 'paused'),
      empty,
      config,
    );
    expect(paused.pages).toEqual([]);
  });

  it('over any sequence of runs hands out each page once and never a page past the target', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2_000 }),
        fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 30 }),
        (target, progress) => {
          let state = empty;
          let collected = 0;
          const seen = new Set<number>();
          let taken = 0;
          for (const step of progress) {
            collected = Math.min(target, collected + step);
            const plan = planDiscovery(collection({ m: { target, collected } }), state, config);
            for (const { page, limit } of plan.pages) {
              expect(seen.has(page)).toBe(false);
              seen.add(page);
              taken += limit;
              expect((page - 1) * config.listingPageSize).toBeLessThan(target);
            }
            state = plan.next;
          }
          expect(taken).toBeLessThanOrEqual(target);
          // Once everything is collected, every page of the target was handed out.
          if (collected === target) {
            expect(seen.size).toBe(Math.ceil(target / config.listingPageSize));
            expect(taken).toBe(target);
          }
        },
      ),
    );
  });
});

describe('rewinding discovery after a restart', () => {
  it('hands out again from the page holding the first product not yet collected', () => {
    const c = collection({
      takealot: { target: 500, collected: 120 },
      makro: { target: 50, collected: 0 },
    });
    const state: HistoricalState = {
      marketplaces: {
        takealot: { nextPage: 7, exhausted: false },
        makro: { nextPage: 2, exhausted: true },
      },
    };
    expect(rewindDiscovery(c, state, config)).toEqual({
      marketplaces: {
        // 120 of 50 a page: page 3 holds product 121.
        takealot: { nextPage: 3, exhausted: false },
        // An exhausted catalogue stays so; a cursor never moves forward.
        makro: { nextPage: 1, exhausted: true },
      },
    });
    expect(generationKey('takealot~3', 0)).toBe('takealot~3');
    expect(generationKey('takealot~3', 2)).toBe('takealot~3~r2');
  });
});
