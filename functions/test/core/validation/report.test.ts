import { describe, expect, it } from 'vitest';
import { fixId, type ProductRecord, validateRun } from '../../../src/core/validation';

function product(
  marketplace: string,
  key: string,
  defects: Partial<ProductRecord> = {},
): ProductRecord {
  return {
    marketplace,
    key,
    identifiers: { id: key },
    prices: Array.from({ length: 6 }, (_, i) => ({ date: `2026-01-0${i + 1}`, price: 10 + i })),
    ...defects,
  };
}

describe('a validation run', () => {
  const products = [
    product('takealot', 'A'),
    product('takealot', 'B', { identifiers: {} }),
    product('amazon', 'C', { prices: [] }),
    product('takealot', 'D'),
    product('takealot', 'A', { identifiers: {} }), // listed twice: checked once
    product('takealot', 'E', { identifiers: {}, confidence: 0.2 }),
  ];
  const report = validateRun('2026-01-10T06', products);

  it('reports pass rates per marketplace and overall', () => {
    expect(report).toMatchObject({ runId: '2026-01-10T06', products: 5, passed: 2, passRate: 0.4 });
    expect(report.marketplaces).toEqual([
      {
        marketplace: 'amazon',
        products: 1,
        passed: 0,
        failed: 1,
        passRate: 0,
        failedByRule: {
          'missing-identifiers': 0,
          'too-few-prices': 1,
          'inconsistent-prices': 0,
          'incomplete-dates': 0,
          'low-confidence': 0,
        },
      },
      {
        marketplace: 'takealot',
        products: 4,
        passed: 2,
        failed: 2,
        passRate: 0.5,
        failedByRule: {
          'missing-identifiers': 2,
          'too-few-prices': 0,
          'inconsistent-prices': 0,
          'incomplete-dates': 0,
          'low-confidence': 1,
        },
      },
    ]);
  });

  it('lists findings per product and rule', () => {
    expect(report.findings.map((f) => `${f.marketplace}/${f.productKey}/${f.rule}`)).toEqual([
      'takealot/B/missing-identifiers',
      'amazon/C/too-few-prices',
      'takealot/E/missing-identifiers',
      'takealot/E/low-confidence',
    ]);
  });

  it('schedules one re-collection per failing product, with deterministic ids', () => {
    expect(report.fixes.map((f) => [f.productKey, f.rules])).toEqual([
      ['B', ['missing-identifiers']],
      ['C', ['too-few-prices']],
      ['E', ['missing-identifiers', 'low-confidence']],
    ]);
    expect(report.fixes[1]).toEqual({
      id: fixId('2026-01-10T06', 'amazon', 'C'),
      kind: 'recollect',
      runId: '2026-01-10T06',
      marketplace: 'amazon',
      productKey: 'C',
      identifiers: { id: 'C' },
      rules: ['too-few-prices'],
    });
    // The same run again yields the same ids; the next run its own.
    expect(validateRun('2026-01-10T06', products).fixes.map((f) => f.id)).toEqual(
      report.fixes.map((f) => f.id),
    );
    const next = validateRun('2026-01-10T18', products).fixes.map((f) => f.id);
    expect(next.some((id) => report.fixes.some((f) => f.id === id))).toBe(false);
  });

  it('has no pass rate without products', () => {
    expect(validateRun('r', [])).toEqual({
      runId: 'r',
      products: 0,
      passed: 0,
      passRate: null,
      marketplaces: [],
      findings: [],
      fixes: [],
    });
  });
});

describe('fix ids', () => {
  it('are valid task ids that keep apart what sanitising would merge', () => {
    const a = fixId('run', 'takealot', 'a/b');
    const b = fixId('run', 'takealot', 'a_b');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^fix-takealot-a_b-[0-9a-f]{16}$/);
    expect(fixId('run', 'x', 'y'.repeat(1_000))).toMatch(/^[A-Za-z0-9_-]{1,500}$/);
    expect(fixId('run', 'x', 'é')).not.toBe(fixId('run', 'x', 'è'));
  });
});
