import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Category,
  categorySchema,
  type Provider,
  providerSchema,
} from '../../src/core/config';
import {
  grantableItemsPerSecond,
  MIN_DISPATCHES_PER_SECOND,
  QUEUE_HEADROOM,
  queueRateFor,
} from '../../src/core/queues/queue-rate';
import type { WorkCall } from '../../src/core/quota/share-check';

const DEPLOYED = { maxDispatchesPerSecond: 10, maxConcurrentDispatches: 10 };

function provider(limits: unknown[], id = 'keepa'): Provider {
  return providerSchema.parse({ id, limits, safetyMarginMs: 0 });
}
function category(id: string, sharePercent: number, extra: Partial<Category> = {}): Category {
  return categorySchema.parse({ id, provider: 'keepa', sharePercent, ...extra });
}

const recollect: WorkCall = { work: 'validation re-collection', cost: 1 };
const dealScan: WorkCall = { work: 'deal scan', operation: 'deal', cost: 10 };

describe('the rate a work queue follows', () => {
  it("is what the tightest limit grants the active shares' cheapest item", () => {
    const keepa = provider([{ kind: 'tokenBucket', capacity: 300, refillPerSecond: 5 }]);
    const categories = [category('deals', 60), category('history', 40)];
    expect(grantableItemsPerSecond(keepa, categories, [recollect, dealScan])).toBeCloseTo(5);
    // Only deal scans: ten tokens an item.
    expect(grantableItemsPerSecond(keepa, categories, [dealScan])).toBeCloseTo(0.5);
    // A paused category's share goes to the others: the provider still grants all of it.
    const paused = [category('deals', 60), category('history', 40, { paused: true })];
    expect(grantableItemsPerSecond(keepa, paused, [recollect])).toBeCloseTo(5);
    // Shares that leave part of the provider unused grant only their part.
    const pinned = [category('deals', 60, { overridePercent: 20 })];
    expect(grantableItemsPerSecond(keepa, pinned, [recollect])).toBeCloseTo(1);
    expect(
      grantableItemsPerSecond(keepa, [category('deals', 60, { paused: true })], [recollect]),
    ).toBe(0);
  });

  it('counts windows at their average rate, and skips limits that do not bound every item', () => {
    const proxy = provider([
      { kind: 'window', unit: 'hour', limit: 3600, measure: 'requests' },
      { kind: 'window', unit: 'month', limit: 1e12, measure: 'bytes' },
      { kind: 'operation', operation: 'listing', ratePerSecond: 0.1, burst: 5 },
      { kind: 'concurrency', max: 4 },
    ]);
    const calls: WorkCall[] = [
      { work: 'listing', operation: 'listing', cost: 1 },
      { work: 'price history', operation: 'product', cost: 1 },
    ];
    // The listing limit bounds listings only; bytes are not known up front.
    expect(grantableItemsPerSecond(proxy, [category('deals', 100)], calls)).toBeCloseTo(1);
    expect(queueRateFor(proxy, [category('deals', 100)], calls, DEPLOYED)).toEqual({
      maxDispatchesPerSecond: 1.25,
      maxConcurrentDispatches: 5,
    });
    // Every item a listing: the operation limit is the tightest.
    const listings = [calls[0]!];
    expect(grantableItemsPerSecond(proxy, [category('deals', 100)], listings)).toBeCloseTo(0.1);
  });

  it('goes above the deployed values when the gate grants more, stays within Cloud Tasks, never stops the queue', () => {
    const fast = provider([{ kind: 'tokenBucket', capacity: 1000, refillPerSecond: 100 }]);
    expect(queueRateFor(fast, [category('a', 100)], [recollect], DEPLOYED)).toEqual({
      maxDispatchesPerSecond: 125,
      maxConcurrentDispatches: 10,
    });
    const huge = provider([{ kind: 'tokenBucket', capacity: 1e6, refillPerSecond: 1e5 }]);
    expect(
      queueRateFor(huge, [category('a', 100)], [recollect], DEPLOYED).maxDispatchesPerSecond,
    ).toBe(500);
    const none = queueRateFor(fast, [category('a', 100, { paused: true })], [recollect], DEPLOYED);
    expect(none.maxDispatchesPerSecond).toBe(MIN_DISPATCHES_PER_SECOND);
    // No work known: the deployed bounds.
    expect(queueRateFor(fast, [category('a', 100)], [], DEPLOYED)).toEqual(DEPLOYED);
  });

  /**
   * The guarantee the queue rate must keep: it never dispatches slower than the gate grants
   * (the queue would then hold back quota the gate could spend), and never more than a little
   * faster (tasks dispatched only to be deferred), within the deployed bounds.
   */
  it('is never below what the gate grants, nor far above it, within Cloud Tasks (property)', () => {
    const limit = fc.oneof(
      fc.record({
        kind: fc.constant('tokenBucket'),
        capacity: fc.integer({ min: 50, max: 10_000 }),
        refillPerSecond: fc.double({ min: 0.001, max: 1000, noNaN: true }),
      }),
      fc.record({
        kind: fc.constant('window'),
        unit: fc.constantFrom('second', 'minute', 'hour', 'day'),
        limit: fc.integer({ min: 1, max: 1_000_000 }),
        measure: fc.constantFrom('cost', 'requests', 'bytes'),
      }),
      fc.record({
        kind: fc.constant('operation'),
        operation: fc.constantFrom('deal', 'product'),
        ratePerSecond: fc.double({ min: 0.01, max: 100, noNaN: true }),
        burst: fc.integer({ min: 50, max: 500 }),
      }),
    );
    const call = fc.record({
      work: fc.constant('w'),
      operation: fc.constantFrom(undefined, 'deal', 'product'),
      cost: fc.integer({ min: 1, max: 500 }),
      requests: fc.integer({ min: 1, max: 5 }),
    });
    const share = fc.record({
      sharePercent: fc.double({ min: 0, max: 100, noNaN: true }),
      paused: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(limit, { minLength: 1, maxLength: 4 }),
        fc.array(call, { minLength: 1, maxLength: 4 }),
        fc.array(share, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 500 }),
        (limits, calls, shares, deployedRate) => {
          const p = provider(limits);
          const total = shares.reduce((s, c) => s + c.sharePercent, 0);
          const categories = shares.map((c, i) =>
            category(`c${i}`, total > 100 ? (c.sharePercent * 100) / total : c.sharePercent, {
              paused: c.paused,
            }),
          );
          const deployed = { maxDispatchesPerSecond: deployedRate, maxConcurrentDispatches: 10 };
          const rate = queueRateFor(p, categories, calls, deployed).maxDispatchesPerSecond;
          expect(rate).toBeLessThanOrEqual(500);
          expect(rate).toBeGreaterThanOrEqual(MIN_DISPATCHES_PER_SECOND);
          const grantable = grantableItemsPerSecond(p, categories, calls);
          if (grantable === undefined) {
            expect(rate).toBe(deployedRate);
            return;
          }
          // The most items any single limit lets through: each item asks it at least its least.
          expect(rate).toBeGreaterThanOrEqual(Math.min(500, grantable));
          expect(rate).toBeLessThanOrEqual(
            Math.max(MIN_DISPATCHES_PER_SECOND, grantable * QUEUE_HEADROOM * 1.01),
          );
        },
      ),
    );
  });
});
