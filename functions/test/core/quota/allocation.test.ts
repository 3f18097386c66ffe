import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Category, categorySchema } from '../../../src/core/config';
import { effectiveShares } from '../../../src/core/quota/allocation';

const category = (id: string, sharePercent: number, extra: Partial<Category> = {}): Category =>
  categorySchema.parse({ id, provider: 'p', sharePercent, ...extra });

const percents = (categories: Category[]) =>
  Object.fromEntries(effectiveShares(categories).map((s) => [s.category, s.percent]));

describe('allocation', () => {
  it('keeps configured shares when nothing is paused', () => {
    expect(percents([category('a', 60), category('b', 30)])).toEqual({ a: 60, b: 30 });
  });

  it('redistributes a paused share in proportion to the others', () => {
    expect(
      percents([category('a', 60), category('b', 30), category('c', 10, { paused: true })]),
    ).toEqual({
      a: 66.67,
      b: 33.33,
      c: 0,
    });
    // At or below its minimum (1% by default) a category counts as paused.
    expect(percents([category('a', 50), category('b', 49), category('c', 1)])).toEqual({
      a: 50.51,
      b: 49.49,
      c: 0,
    });
  });

  it('lets priority break rounding ties', () => {
    const shares = percents([
      category('a', 10, { priority: 1 }),
      category('b', 10, { priority: 5 }),
      category('c', 10, { priority: 2 }),
      category('d', 70, { paused: true }),
    ]);
    expect(shares).toEqual({ a: 33.33, b: 33.34, c: 33.33, d: 0 });
  });

  it('pins overridden categories and gives them nothing extra', () => {
    expect(
      percents([
        category('a', 40, { overridePercent: 20 }),
        category('b', 40),
        category('c', 20, { paused: true }),
      ]),
    ).toEqual({ a: 20, b: 80, c: 0 });
  });

  it('never exceeds 100% and never gives a paused category anything', () => {
    const categoryArb = fc.record({
      share: fc.integer({ min: 0, max: 40 }),
      paused: fc.boolean(),
      override: fc.option(fc.integer({ min: 0, max: 40 }), { nil: null }),
      priority: fc.integer({ min: 0, max: 3 }),
    });
    fc.assert(
      fc.property(fc.array(categoryArb, { minLength: 1, maxLength: 6 }), (specs) => {
        const categories = specs.map((s, i) =>
          category(`c${i}`, s.share, {
            paused: s.paused,
            overridePercent: s.override,
            priority: s.priority,
          }),
        );
        // Valid configurations only: what validateRuntimeConfig accepts.
        fc.pre(
          categories.reduce(
            (sum, c) => sum + (c.paused ? 0 : Math.max(c.sharePercent, c.overridePercent ?? 0)),
            0,
          ) <= 100,
        );
        const shares = effectiveShares(categories);
        const total = shares.reduce((sum, s) => sum + s.percent, 0);
        expect(total).toBeLessThanOrEqual(100 + 1e-9);
        for (const s of shares) {
          if (s.paused) expect(s.percent).toBe(0);
          expect(s.percent).toBeGreaterThanOrEqual(0);
        }
        // Without pins, the active categories share everything the configured shares held.
        if (categories.every((c) => c.overridePercent === null) && shares.some((s) => !s.paused)) {
          const configured = Math.min(
            100,
            categories.reduce((sum, c) => sum + c.sharePercent, 0),
          );
          const activeBase = categories
            .filter((_, i) => !shares[i]!.paused)
            .reduce((s, c) => s + c.sharePercent, 0);
          if (activeBase > 0) expect(total).toBeCloseTo(configured, 1);
        }
      }),
    );
  });
});
