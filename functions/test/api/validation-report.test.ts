import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProductsRepository } from '../../src/adapters/pipeline/products-repository';
import type { ValidateDataResult, ValidationReportResult } from '../../src/core/operations';
import { quietLogger } from '../support/quiet-logger';
import { type ReadRecorder, recordReads } from '../support/reads';
import { type ApiFixture, apiFixture, call } from './support';

/**
 * Validation results through the API: a run for one marketplace, then the report a viewer
 * reads (latest, history, failing products with their rules and fixes), bounded in what it
 * reads and saying when it cut the list.
 */

quietLogger();

let f: ApiFixture;
beforeEach(async () => {
  f = await apiFixture();
  // A second marketplace with one defective product (few points, low confidence).
  await new ProductsRepository(f.db, { now: () => f.clock.now }).upsertPriceHistory({
    marketplace: 'makro',
    key: 'thin',
    collection: 'deals-2026',
    identifiers: { plid: 'PLID-thin' },
    prices: [{ date: '2026-01-01', price: 10 }],
    confidence: 0.3,
  });
});
afterEach(() => f.close());

async function run<T>(name: 'validateData' | 'getValidationReport', data: unknown) {
  const outcome = await call(f, name, data, name === 'validateData' ? 'operator' : 'viewer');
  if (!outcome.ok) throw outcome.error;
  return outcome.result as T;
}

describe('validation results', () => {
  it('validates one marketplace, and reports latest, history and failing products', async () => {
    const makro = await run<ValidateDataResult>('validateData', { marketplace: 'makro' });
    expect(Object.keys(makro.marketplaces)).toEqual(['makro']);
    expect(makro.runId).toMatch(/-manual-makro$/);
    f.clock.now += 60_000;
    const all = await run<ValidateDataResult>('validateData', {});
    expect(Object.keys(all.marketplaces).sort()).toEqual(['makro', 'takealot']);

    const report = await run<ValidationReportResult>('getValidationReport', {});
    expect(report.latest).toMatchObject({ runId: all.runId, products: all.products });
    expect(report.history.map((h) => h.runId)).toEqual([all.runId, makro.runId]);
    expect(report.findings.map((x) => x.product).sort()).toEqual(
      expect.arrayContaining(['makro~thin', 'takealot~unsure']),
    );
    const thin = report.findings.find((x) => x.product === 'makro~thin');
    expect(thin?.rules.length).toBeGreaterThan(0);
    expect(thin?.fix).toMatchObject({ result: expect.any(String) });

    // One marketplace: its numbers, its failing products only.
    const one = await run<ValidationReportResult>('getValidationReport', {
      marketplace: 'takealot',
      history: 5,
    });
    expect(Object.keys(one.latest!.marketplaces)).toEqual(['takealot']);
    expect(one.history.map((h) => h.runId)).toEqual([all.runId]); // the makro run did not check it
    expect(one.findings.every((x) => x.marketplace === 'takealot')).toBe(true);

    // Cut lists say so.
    const cut = await run<ValidationReportResult>('getValidationReport', { findings: 1 });
    expect(cut.findings).toHaveLength(1);
    expect(cut.findingsTruncated).toBe(true);
  });

  it('reads at most its bound of runs however many there are', async () => {
    const batch = f.db.batch();
    for (let i = 0; i < 150; i++) {
      batch.set(f.db.doc(`validationRuns/2026-01-01T${String(i).padStart(4, '0')}-failed`), {
        status: 'failed',
      });
    }
    await batch.commit();
    let reads: ReadRecorder | undefined;
    try {
      reads = recordReads();
      const report = await run<ValidationReportResult>('getValidationReport', { history: 30 });
      expect(report.latest).toBeNull();
      expect(reads.documents).toBeLessThanOrEqual(90 + 5);
    } finally {
      reads?.restore();
    }
  });

  it('answers with nothing before the first run', async () => {
    const report = await run<ValidationReportResult>('getValidationReport', {});
    expect(report).toEqual({ latest: null, history: [], findings: [], findingsTruncated: false });
  });
});
