import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  defaultValidationConfig,
  type ProductRecord,
  type RuleId,
  validateProduct,
  validateRun,
} from '../../../src/core/validation';

const DAY_MS = 86_400_000;
const START = Date.UTC(2025, 0, 1);
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * A product that passes the default rules: enough points, daily-ish dates (gaps of 1..7 days),
 * positive prices that move by at most a factor of 2, confident extraction.
 */
const cleanArb: fc.Arbitrary<ProductRecord> = fc
  .record({
    marketplace: fc.constantFrom('takealot', 'amazon', 'makro'),
    key: fc.stringMatching(/^[A-Z0-9]{6,12}$/),
    start: fc.integer({ min: 0, max: 300 }),
    steps: fc.array(
      fc.record({
        gap: fc.integer({ min: 1, max: 7 }),
        factor: fc.double({ min: 0.5, max: 2, noNaN: true }),
        confidence: fc.option(fc.double({ min: 0.8, max: 1, noNaN: true }), { nil: undefined }),
      }),
      { minLength: 5, maxLength: 60 },
    ),
    firstPrice: fc.integer({ min: 100, max: 100_000 }),
    withRange: fc.boolean(),
  })
  .map(({ marketplace, key, start, steps, firstPrice, withRange }) => {
    let atMs = START + start * DAY_MS;
    let price = firstPrice / 100;
    const prices = steps.map((step, i) => {
      if (i > 0) {
        atMs += step.gap * DAY_MS;
        price = Math.max(0.01, Math.round(price * step.factor * 100) / 100);
      }
      return {
        date: day(atMs),
        price,
        ...(step.confidence === undefined ? {} : { confidence: step.confidence }),
      };
    });
    const expectedRange = withRange
      ? { from: prices[0]!.date, to: prices.at(-1)!.date }
      : undefined;
    return {
      marketplace,
      key,
      identifiers: { id: key },
      prices,
      ...(expectedRange ? { expectedRange } : {}),
    };
  });

/** Breaks a clean product in one way; the rule that must notice. */
const defects: Array<[RuleId, (p: ProductRecord, at: number) => ProductRecord]> = [
  ['missing-identifiers', (p) => ({ ...p, identifiers: { id: ' ' } })],
  ['too-few-prices', (p) => ({ ...p, prices: p.prices.slice(0, 4), expectedRange: undefined })],
  [
    'inconsistent-prices',
    (p, at) => ({ ...p, prices: p.prices.map((x, i) => (i === at ? { ...x, price: 0 } : x)) }),
  ],
  [
    'inconsistent-prices',
    (p, at) => ({
      ...p,
      prices: p.prices.map((x, i) => (i === at ? { ...x, price: x.price! * 20 } : x)),
    }),
  ],
  [
    'incomplete-dates',
    (p, at) => ({
      ...p,
      expectedRange: undefined,
      prices: p.prices.map((x, i) =>
        i > at ? { ...x, date: day(Date.parse(x.date) + 30 * DAY_MS) } : x,
      ),
    }),
  ],
  [
    'incomplete-dates',
    (p, at) => ({ ...p, prices: p.prices.map((x, i) => (i === at ? { ...x, date: 'n/a' } : x)) }),
  ],
  [
    'low-confidence',
    (p, at) => ({
      ...p,
      prices: p.prices.map((x, i) => (i === at ? { ...x, confidence: 0.5 } : x)),
    }),
  ],
];

describe('validation properties', () => {
  it('passes a clean data set', () => {
    fc.assert(
      fc.property(fc.array(cleanArb, { maxLength: 20 }), (products) => {
        const report = validateRun('run', products);
        expect(report.findings).toEqual([]);
        expect(report.fixes).toEqual([]);
        for (const summary of report.marketplaces) expect(summary.passRate).toBe(1);
      }),
      { numRuns: 300 },
    );
  });

  it('finds each kind of defect seeded into a data set, and only in the seeded products', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(cleanArb, {
          selector: (p) => `${p.marketplace}/${p.key}`,
          minLength: 1,
          maxLength: 20,
        }),
        fc.array(
          fc.record({ product: fc.nat(), defect: fc.nat(defects.length - 1), at: fc.nat() }),
        ),
        (clean, seeds) => {
          const broken = new Map<number, RuleId[]>();
          const products = [...clean];
          for (const seed of seeds) {
            const index = seed.product % products.length;
            // One defect per product: two can hide each other (a jump on a point whose date
            // no longer parses is not between consecutive dates).
            if (broken.has(index)) continue;
            const product = products[index]!;
            const [rule, breakIt] = defects[seed.defect]!;
            // Interior points, so a jump has neighbours and a moved tail is a gap.
            const at = 1 + (seed.at % (product.prices.length - 2));
            products[index] = breakIt(product, at);
            broken.set(index, [rule]);
          }
          products.forEach((product, index) => {
            const found = validateProduct(product, defaultValidationConfig).map((f) => f.rule);
            const seeded = broken.get(index) ?? [];
            if (seeded.length === 0) expect(found).toEqual([]);
            for (const rule of seeded) expect(found).toContain(rule);
          });
          const report = validateRun('run', products);
          expect(report.fixes.map((f) => f.productKey).sort()).toEqual(
            [...broken.keys()].map((i) => products[i]!.key).sort(),
          );
          expect(new Set(report.fixes.map((f) => f.id)).size).toBe(report.fixes.length);
          expect(report.passed).toBe(products.length - broken.size);
        },
      ),
      { numRuns: 300 },
    );
  });
});
