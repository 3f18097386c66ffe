import { describe, expect, it } from 'vitest';
import {
  defaultValidationConfig,
  type ProductRecord,
  productRecordSchema,
  rulesFor,
  validateProduct,
  validationConfigSchema,
} from '../../../src/core/validation';

/** Ten daily points around 100, all confident: passes every rule. */
function clean(overrides: Partial<ProductRecord> = {}): ProductRecord {
  return {
    marketplace: 'takealot',
    key: 'PLID1',
    identifiers: { plid: 'PLID1' },
    prices: Array.from({ length: 10 }, (_, i) => ({
      date: `2026-01-${String(i + 1).padStart(2, '0')}`,
      price: 100 + i,
      confidence: 0.95,
    })),
    ...overrides,
  };
}

const rulesOf = (product: ProductRecord, config = defaultValidationConfig) =>
  validateProduct(product, config).map((f) => f.rule);

describe('validation configuration', () => {
  it('has the documented defaults', () => {
    expect(defaultValidationConfig).toEqual({
      requiredIdentifiers: [],
      minPricePoints: 5,
      maxJumpRatio: 5,
      maxGapDays: 7,
      minConfidence: 0.8,
      disabledRules: [],
      marketplaces: {},
      maxExamples: 5,
    });
  });

  it('applies a marketplace override only where it names a value', () => {
    const config = validationConfigSchema.parse({
      minPricePoints: 3,
      marketplaces: { amazon: { requiredIdentifiers: ['asin'], maxGapDays: 2 } },
    });
    expect(rulesFor(config, 'amazon')).toMatchObject({
      requiredIdentifiers: ['asin'],
      maxGapDays: 2,
      minPricePoints: 3,
      minConfidence: 0.8,
    });
    expect(rulesFor(config, 'takealot').maxGapDays).toBe(7);
    expect(rulesFor(config, 'toString').maxGapDays).toBe(7);
  });

  it('rejects impossible thresholds', () => {
    expect(validationConfigSchema.safeParse({ maxJumpRatio: 1 }).success).toBe(false);
    expect(validationConfigSchema.safeParse({ minConfidence: 1.5 }).success).toBe(false);
    expect(validationConfigSchema.safeParse({ disabledRules: ['nope'] }).success).toBe(false);
  });
});

describe('rules', () => {
  it('passes a clean product', () => {
    expect(validateProduct(clean())).toEqual([]);
  });

  it('finds missing identifiers: none at all, blank ones, or a required one', () => {
    expect(validateProduct(clean({ identifiers: {} }))).toEqual([
      {
        marketplace: 'takealot',
        productKey: 'PLID1',
        rule: 'missing-identifiers',
        count: 1,
        examples: [{ kind: 'missing-identifier', missing: ['any'] }],
      },
    ]);
    expect(rulesOf(clean({ identifiers: { plid: '  ', sku: null } }))).toEqual([
      'missing-identifiers',
    ]);
    const amazon = validationConfigSchema.parse({
      marketplaces: { amazon: { requiredIdentifiers: ['asin', 'ean'] } },
    });
    const product = clean({ marketplace: 'amazon', identifiers: { asin: 'B000TEST', ean: '' } });
    expect(validateProduct(product, amazon)[0]?.examples).toEqual([
      { kind: 'missing-identifier', missing: ['ean'] },
    ]);
  });

  it('finds too few usable price points', () => {
    const product = clean();
    const few = clean({ prices: product.prices.slice(0, 4) });
    expect(validateProduct(few)[0]).toMatchObject({
      rule: 'too-few-prices',
      examples: [{ kind: 'too-few-prices', count: 4, minimum: 5 }],
    });
    expect(rulesOf(few, validationConfigSchema.parse({ minPricePoints: 4 }))).toEqual([]);
    // Points without a usable price or date do not count.
    const unusable = clean({
      prices: [
        ...product.prices.slice(0, 4),
        { date: '2026-01-05', price: 0 },
        { date: 'soon', price: 104 },
      ],
    });
    expect(rulesOf(unusable)).toContain('too-few-prices');
  });

  it('finds non-positive and missing prices', () => {
    const prices = clean().prices.map((p, i) =>
      i === 2 ? { ...p, price: 0 } : i === 5 ? { ...p, price: null } : p,
    );
    const [finding] = validateProduct(clean({ prices }));
    expect(finding).toMatchObject({
      rule: 'inconsistent-prices',
      count: 2,
      examples: [
        { kind: 'non-positive-price', date: '2026-01-03', price: 0 },
        { kind: 'non-positive-price', date: '2026-01-06', price: null },
      ],
    });
    const negative = clean().prices.map((p, i) => (i === 1 ? { ...p, price: -3 } : p));
    expect(rulesOf(clean({ prices: negative }))).toEqual(['inconsistent-prices']);
  });

  it('finds implausible jumps between consecutive dates, either way', () => {
    const prices = clean().prices.map((p, i) => (i === 4 ? { ...p, price: 10_400 } : p));
    const [finding] = validateProduct(clean({ prices: [...prices].reverse() }));
    expect(finding).toMatchObject({ rule: 'inconsistent-prices', count: 2 });
    expect(finding?.examples[0]).toMatchObject({
      kind: 'price-jump',
      from: '2026-01-04',
      to: '2026-01-05',
      previousPrice: 103,
      price: 10_400,
    });
    expect(finding?.examples[1]).toMatchObject({
      kind: 'price-jump',
      from: '2026-01-05',
      to: '2026-01-06',
    });
    // A halving is a sale, not a defect, at the default ratio of 5.
    const sale = clean().prices.map((p, i) => (i >= 5 ? { ...p, price: 50 } : p));
    expect(rulesOf(clean({ prices: sale }))).toEqual([]);
    expect(
      rulesOf(clean({ prices: sale }), validationConfigSchema.parse({ maxJumpRatio: 1.5 })),
    ).toEqual(['inconsistent-prices']);
  });

  it('finds gaps longer than the allowed days, and unparseable dates', () => {
    const prices = clean().prices.map((p, i) =>
      i >= 5 ? { ...p, date: `2026-02-${String(i + 1).padStart(2, '0')}` } : p,
    );
    const [finding] = validateProduct(clean({ prices }));
    expect(finding).toMatchObject({
      rule: 'incomplete-dates',
      examples: [{ kind: 'date-gap', from: '2026-01-05', to: '2026-02-06', days: 32 }],
    });
    // Exactly the allowed gap passes.
    const week = clean().prices.map((p, i) => ({
      ...p,
      date: new Date(Date.UTC(2026, 0, 1 + 7 * i)).toISOString(),
    }));
    expect(rulesOf(clean({ prices: week }))).toEqual([]);
    const bad = clean().prices.map((p, i) => (i === 0 ? { ...p, date: 'yesterday' } : p));
    expect(validateProduct(clean({ prices: bad }))[0]).toMatchObject({
      rule: 'incomplete-dates',
      examples: [{ kind: 'invalid-date', date: 'yesterday' }],
    });
  });

  it('counts the ends of the expected range as gaps', () => {
    const covered = clean({ expectedRange: { from: '2025-12-30', to: '2026-01-12' } });
    expect(validateProduct(covered)).toEqual([]);
    const late = clean({ expectedRange: { from: '2025-12-01', to: '2026-01-31' } });
    expect(validateProduct(late)[0]?.examples).toEqual([
      { kind: 'date-gap', from: '2025-12-01', to: '2026-01-01', days: 31 },
      { kind: 'date-gap', from: '2026-01-10', to: '2026-01-31', days: 21 },
    ]);
    // Points outside the range say nothing about it.
    const outside = clean({ expectedRange: { from: '2026-03-01', to: '2026-03-20' } });
    expect(validateProduct(outside)[0]?.examples).toEqual([
      { kind: 'date-gap', from: '2026-03-01', to: '2026-03-20', days: 19 },
    ]);
  });

  it('finds low extraction confidence, per point and for the product', () => {
    const prices = clean().prices.map((p, i) => (i === 3 ? { ...p, confidence: 0.79 } : p));
    expect(validateProduct(clean({ prices, confidence: 0.5 }))[0]).toMatchObject({
      rule: 'low-confidence',
      count: 2,
      examples: [
        { kind: 'low-confidence', confidence: 0.5 },
        { kind: 'low-confidence', date: '2026-01-04', confidence: 0.79 },
      ],
    });
    const exact = clean().prices.map((p) => ({ ...p, confidence: 0.8 }));
    expect(rulesOf(clean({ prices: exact }))).toEqual([]);
    const unmeasured = clean().prices.map(({ date, price }) => ({ date, price }));
    expect(rulesOf(clean({ prices: unmeasured }))).toEqual([]);
  });

  it('skips disabled rules, per marketplace too', () => {
    const product = clean({ identifiers: {}, confidence: 0.1 });
    expect(rulesOf(product)).toEqual(['missing-identifiers', 'low-confidence']);
    const config = validationConfigSchema.parse({
      disabledRules: ['low-confidence'],
      marketplaces: { takealot: { disabledRules: ['missing-identifiers'] } },
    });
    expect(rulesOf(product, config)).toEqual(['low-confidence']);
    expect(rulesOf({ ...product, marketplace: 'amazon' }, config)).toEqual(['missing-identifiers']);
  });

  it('keeps a few examples but the full count', () => {
    const prices = clean().prices.map((p) => ({ ...p, confidence: 0.1 }));
    const [finding] = validateProduct(
      clean({ prices }),
      validationConfigSchema.parse({ maxExamples: 2 }),
    );
    expect(finding).toMatchObject({ count: 10 });
    expect(finding?.examples).toHaveLength(2);
  });
});

describe('reading stored records', () => {
  it('turns malformed values into defects instead of failing', () => {
    const record = productRecordSchema.parse({
      marketplace: 'takealot',
      key: 'PLID9',
      identifiers: { plid: 42, sku: 'S9' },
      prices: [
        { date: '2026-01-01', price: '12.99' },
        { date: 20260102, price: 13, confidence: 'high' },
        'garbage',
      ],
      confidence: 'n/a',
    });
    expect(record.identifiers).toEqual({ plid: null, sku: 'S9' });
    expect(record.prices).toEqual([
      { date: '2026-01-01', price: null },
      { date: '', price: 13, confidence: Number.NaN },
      { date: '', price: null },
    ]);
    expect(rulesOf(record)).toEqual([
      'too-few-prices',
      'inconsistent-prices',
      'incomplete-dates',
      'low-confidence',
    ]);
  });

  it('rejects a record it cannot name', () => {
    expect(productRecordSchema.safeParse({ marketplace: 'takealot', prices: [] }).success).toBe(
      false,
    );
  });
});
