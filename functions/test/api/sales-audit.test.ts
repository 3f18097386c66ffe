import { afterEach, beforeEach, expect, it } from 'vitest';
import { registerAutoSyncFetcher } from '../../src/adapters/pipeline/autosync-fetchers';
import { SalesRepository } from '../../src/adapters/pipeline/sales-repository';
import { REALTIME_SALES_SOURCE } from '../../src/adapters/upstreams/wiring';
import { AUDIT_LOG_COLLECTION, type RefreshRealtimeSalesResult } from '../../src/core/operations';
import { floorToHour, HOUR_MS } from '../../src/core/upstreams/sales';
import { quietLogger } from '../support/quiet-logger';
import { type ApiFixture, apiFixture, as, recordWrites } from './support';

/**
 * An operator's refresh stores sales through the Firestore the cycle hands its fetcher (the
 * audited one), as the wiring's fetcher does (`new SalesRepository(options.db ?? db())`): every
 * commit of sales buckets carries its audit entry, and a window of more buckets than one commit
 * holds still commits (room is left for the entry).
 */

quietLogger();

let f: ApiFixture;
let restore: (() => void) | undefined;
beforeEach(async () => {
  f = await apiFixture();
});
afterEach(async () => {
  restore?.();
  await f.close();
});

it('every commit of the sales a refresh stores carries its audit entry', async () => {
  restore = registerAutoSyncFetcher(REALTIME_SALES_SOURCE, async (window, options) => {
    // What upstreams/wiring.ts registers, with the report's rows made up: 600 buckets.
    const store = new SalesRepository(options?.db ?? f.db);
    const hour = floorToHour(window.endMs) - HOUR_MS;
    const rows = Array.from({ length: 600 }, (_, i) => ({
      asin: `B${String(i).padStart(9, '0')}`,
      hourStartMs: hour,
      hourEndMs: hour + HOUR_MS,
      orderedUnits: 1,
      orderedRevenue: 9.99,
    }));
    await store.replaceWindow('ATVPDKIKX0DER', { startMs: hour, endMs: hour + HOUR_MS }, rows);
  });
  const log = recordWrites(f.db);
  let result: RefreshRealtimeSalesResult;
  try {
    result = (await f.callables.refreshRealtimeSales.run(
      as('operator', {}, 'op-1'),
    )) as RefreshRealtimeSalesResult;
  } finally {
    log.stop();
  }
  expect(result).toMatchObject({ status: 'ok', failed: 0 });
  const salesCommits = log.commits.filter((c) => c.some((p) => p.startsWith('sales/')));
  expect(salesCommits.length).toBeGreaterThanOrEqual(2);
  for (const commit of salesCommits) {
    expect(commit.filter((p) => p.startsWith(`${AUDIT_LOG_COLLECTION}/`))).toHaveLength(1);
    expect(commit.length).toBeLessThanOrEqual(500);
  }
  expect(salesCommits.flat().filter((p) => p.startsWith('sales/')).length).toBeGreaterThanOrEqual(
    600,
  );
});
