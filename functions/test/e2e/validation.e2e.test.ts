import { describe, expect, it } from 'vitest';
import type { PriceHistoryUpsert } from '../../src/adapters/pipeline/price-history-upsert';
import { ProductsRepository } from '../../src/adapters/pipeline/products-repository';
import { latestValidation } from '../../src/adapters/validation/latest-validation';
import { connectToStack, fireSchedule } from './support';

/**
 * Data validation through the deployed scheduled function: a seeded data set with one product
 * per kind of defect in one marketplace and only clean products in another; the run stores its
 * findings and pass rates, and enqueues a re-collection for each failing product on the real
 * task queue.
 */

const { db } = connectToStack();
const COLLECTION = 'e2e-validation';
const DEFECTS = 'e2e-defects';
const CLEAN = 'e2e-clean';

/** Ten daily points around 100, confident and identified: passes every rule. */
function clean(marketplace: string, key: string): PriceHistoryUpsert {
  return {
    marketplace,
    key,
    collection: COLLECTION,
    identifiers: { plid: `PLID-${key}` },
    prices: Array.from({ length: 10 }, (_, i) => ({
      date: `2026-11-${String(i + 1).padStart(2, '0')}`,
      price: 100 + i,
      confidence: 0.95,
    })),
    confidence: 0.9,
    expectedRange: { from: '2026-11-01', to: '2026-11-10' },
  };
}

function withPrice(product: PriceHistoryUpsert, day: number, price: number): PriceHistoryUpsert {
  return { ...product, prices: product.prices.map((p, i) => (i === day ? { ...p, price } : p)) };
}

const defective: Array<{ product: PriceHistoryUpsert; rule: string }> = [
  { product: { ...clean(DEFECTS, 'no-ids'), identifiers: {} }, rule: 'missing-identifiers' },
  {
    product: {
      ...clean(DEFECTS, 'few'),
      prices: clean(DEFECTS, 'few').prices.slice(0, 3),
      expectedRange: { from: '2026-11-01', to: '2026-11-03' },
    },
    rule: 'too-few-prices',
  },
  { product: withPrice(clean(DEFECTS, 'zero'), 4, 0), rule: 'inconsistent-prices' },
  { product: withPrice(clean(DEFECTS, 'jump'), 5, 900), rule: 'inconsistent-prices' },
  { product: { ...clean(DEFECTS, 'unsure'), confidence: 0.5 }, rule: 'low-confidence' },
  {
    product: {
      ...clean(DEFECTS, 'gap'),
      // 11-01..05, then 11-20..24: a 15-day hole.
      prices: [1, 2, 3, 4, 5, 20, 21, 22, 23, 24].map((d) => ({
        date: `2026-11-${String(d).padStart(2, '0')}`,
        price: 50,
      })),
      expectedRange: { from: '2026-11-01', to: '2026-11-24' },
    },
    rule: 'incomplete-dates',
  },
];

describe('data validation on the local stack', () => {
  it('finds each kind of defect in a seeded data set, passes a clean one, and schedules fixes', async () => {
    // Completed, so the collection batches leave it alone; the fixes still need its category.
    await db.doc(`collections/${COLLECTION}`).set({
      id: COLLECTION,
      provider: 'smartproxy',
      category: 'buckcheap-historical',
      status: 'completed',
      marketplaces: {
        [DEFECTS]: { target: 8, collected: 8 },
        [CLEAN]: { target: 3, collected: 3 },
      },
    });
    const repo = new ProductsRepository(db);
    const seeded = [
      ...defective.map((d) => d.product),
      clean(DEFECTS, 'fine-1'),
      clean(DEFECTS, 'fine-2'),
      ...['a', 'b', 'c'].map((k) => clean(CLEAN, k)),
    ];
    for (const product of seeded) await repo.upsertPriceHistory(product);

    expect(await fireSchedule('dataValidation')).toBe(200);

    const withDefects = await latestValidation(db, DEFECTS);
    expect(withDefects?.marketplaces[DEFECTS]).toMatchObject({
      products: 8,
      passed: 2,
      failed: 6,
      passRate: 0.25,
      failedByRule: {
        'missing-identifiers': 1,
        'too-few-prices': 1,
        'inconsistent-prices': 2,
        'incomplete-dates': 1,
        'low-confidence': 1,
      },
    });
    const cleanRun = await latestValidation(db, CLEAN);
    expect(cleanRun?.marketplaces[CLEAN]).toMatchObject({
      products: 3,
      passed: 3,
      failed: 0,
      passRate: 1,
    });

    const runId = withDefects!.runId;
    const findings = await db.collection(`validationRuns/${runId}/findings`).get();
    const ours = new Map(
      findings.docs
        .filter((d) => [DEFECTS, CLEAN].includes(d.get('marketplace')))
        .map((d) => [d.id, d.data()]),
    );
    expect(ours.size).toBe(defective.length);
    for (const { product, rule } of defective) {
      expect(ours.get(`${DEFECTS}~${product.key}`), product.key).toMatchObject({
        rules: [rule],
        collection: COLLECTION,
        // A re-collection on the real Tasks emulator, under a deterministic id.
        fix: { result: 'enqueued' },
      });
    }
  });
});
