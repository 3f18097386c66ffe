import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Category, categorySchema, validateRuntimeConfig } from '../../../src/core/config';
import { DEFAULT_PHASES } from '../../../src/core/pipeline/phases';
import { redistributeShare } from '../../../src/core/pipeline/share-transition';

function category(id: string, sharePercent: number, extra: Partial<Category> = {}): Category {
  return categorySchema.parse({ id, provider: 'smartproxy', sharePercent, ...extra });
}

function apply(categories: Category[], id: string, percent: number): Category[] {
  const changes = redistributeShare(categories, id, percent);
  return categories.map((c) => {
    const change = changes.find((x) => x.category === c.id);
    return change ? { ...c, sharePercent: change.toPercent } : c;
  });
}

describe('share redistribution on a phase transition', () => {
  it('gives the freed share to the other categories (seed: 15% historical, 60% live)', () => {
    const seed = [
      category('buckcheap-historical', 15),
      category('proxy-live-prices', 60, { priority: 2 }),
    ];
    expect(redistributeShare(seed, 'buckcheap-historical', 10)).toEqual([
      { category: 'buckcheap-historical', fromPercent: 15, toPercent: 10 },
      { category: 'proxy-live-prices', fromPercent: 60, toPercent: 65 },
    ]);
  });

  it('walks the runbook schedule keeping the provider total', () => {
    let categories = [category('hist', 15), category('live', 60), category('misc', 25)];
    for (const phase of DEFAULT_PHASES.slice(1)) {
      categories = apply(categories, 'hist', phase.sharePercent);
      const total = categories.reduce((sum, c) => sum + c.sharePercent, 0);
      expect(total).toBeCloseTo(100, 9);
    }
    expect(categories.find((c) => c.id === 'hist')!.sharePercent).toBe(4.2);
  });

  it('skips paused, pinned and other providers', () => {
    const categories = [
      category('hist', 15),
      category('paused', 20, { paused: true }),
      category('pinned', 20, { overridePercent: 20 }),
      category('live', 40),
      categorySchema.parse({ id: 'keepa-deals', provider: 'keepa', sharePercent: 70 }),
    ];
    expect(redistributeShare(categories, 'hist', 10)).toEqual([
      { category: 'hist', fromPercent: 15, toPercent: 10 },
      { category: 'live', fromPercent: 40, toPercent: 45 },
    ]);
  });

  it('leaves the share unassigned when nobody can take it', () => {
    expect(redistributeShare([category('hist', 15)], 'hist', 10)).toEqual([
      { category: 'hist', fromPercent: 15, toPercent: 10 },
    ]);
  });

  it('splits by share in 0.01% steps, the rest to the largest remainder and priority', () => {
    const categories = [
      category('hist', 15),
      category('a', 10),
      category('b', 10, { priority: 1 }),
      category('c', 10),
    ];
    const changes = redistributeShare(categories, 'hist', 14.99);
    expect(changes).toEqual([
      { category: 'hist', fromPercent: 15, toPercent: 14.99 },
      { category: 'b', fromPercent: 10, toPercent: 10.01 },
    ]);
  });

  it('raises only into unassigned share, never shrinking another category', () => {
    const categories = [category('hist', 10), category('live', 85)];
    expect(redistributeShare(categories, 'hist', 30)).toEqual([
      { category: 'hist', fromPercent: 10, toPercent: 15 },
    ]);
  });

  it("hands a paused category's share out only as far as the provider has room", () => {
    // Found by the property below: the paused share was already free, so handing all of it
    // out pushed the active shares to 100.01%.
    const categories = [
      category('c0', 0.97, { paused: true }),
      category('c1', 35.75),
      category('c2', 29.69),
      category('c3', 33.6),
    ];
    const next = apply(categories, 'c0', 0);
    const active = next.filter((c) => !c.paused).reduce((sum, c) => sum + c.sharePercent, 0);
    expect(active).toBeCloseTo(100, 9);
  });

  it('keeps every valid configuration valid', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            share: fc.integer({ min: 0, max: 4000 }),
            paused: fc.boolean(),
            pinned: fc.option(fc.integer({ min: 0, max: 3000 }), { nil: null }),
            priority: fc.integer({ min: 0, max: 3 }),
          }),
          { minLength: 1, maxLength: 5 },
        ),
        fc.integer({ min: 0, max: 10_000 }),
        (specs, newHundredths) => {
          const categories = specs.map((s, i) =>
            category(`c${i}`, s.share / 100, {
              paused: s.paused,
              overridePercent: s.pinned === null ? null : s.pinned / 100,
              priority: s.priority,
            }),
          );
          const config = { providers: [{ id: 'smartproxy' }], categories, flags: {} } as never;
          try {
            validateRuntimeConfig(config);
          } catch {
            return; // only valid configurations are of interest
          }
          const next = apply(categories, 'c0', newHundredths / 100);
          expect(() =>
            validateRuntimeConfig({ ...(config as object), categories: next } as never),
          ).not.toThrow();
          for (const c of next) expect(c.sharePercent).toBe(Math.round(c.sharePercent * 100) / 100);
          // Others only gain; the category gets what it asked, or less on a capped raise.
          for (const [i, c] of next.entries()) {
            if (i > 0) expect(c.sharePercent).toBeGreaterThanOrEqual(categories[i]!.sharePercent);
          }
          const before = categories[0]!.sharePercent;
          const target = newHundredths / 100;
          if (target <= before) expect(next[0]!.sharePercent).toBe(target);
          else expect(next[0]!.sharePercent).toBeLessThanOrEqual(target);
        },
      ),
    );
  });
});
