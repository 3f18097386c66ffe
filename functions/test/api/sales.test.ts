import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registerAutoSyncFetcher } from '../../src/adapters/autosync-fetchers';
import { storeSalesRows } from '../../src/adapters/sales-repository';
import { REALTIME_SALES_SOURCE } from '../../src/adapters/upstreams/wiring';
import type { RealtimeSalesSummaryResult, RefreshRealtimeSalesResult } from '../../src/core/api';
import { QuotaExceededError } from '../../src/core/quota/errors';
import { floorToHour } from '../../src/core/sales';
import { quietLogger } from '../support/quiet-logger';
import { type ApiFixture, apiFixture, as, auditEntries } from './support';

/**
 * Real-time sales through the API: the summary is served from Firestore only; a refresh runs
 * the auto-sync now and, on a quota error, still answers with the window and the cached data.
 */

quietLogger();

let f: ApiFixture;
let restore: () => void;
beforeEach(async () => {
  f = await apiFixture();
  const hour = floorToHour(f.clock.now - 2 * 3_600_000);
  await storeSalesRows(f.db, 'ATVPDKIKX0DER', [
    {
      asin: 'B0SANDBOX1',
      hourStartMs: hour,
      hourEndMs: hour + 3_600_000,
      orderedUnits: 3,
      orderedRevenue: 59.97,
    },
  ]);
});
afterEach(async () => {
  restore?.();
  await f.close();
});

async function call<T>(name: 'refreshRealtimeSales' | 'getRealtimeSalesSummary', data: unknown) {
  const fn = f.callables[name] as { run: (r: unknown) => Promise<unknown> };
  return (await fn.run(as('operator', data, 'op-1'))) as T;
}

describe('real-time sales callables', () => {
  it('getRealtimeSalesSummary answers from Firestore, calling no upstream', async () => {
    let calls = 0;
    restore = registerAutoSyncFetcher(REALTIME_SALES_SOURCE, async () => {
      calls++;
    });
    const result = await call<RealtimeSalesSummaryResult>('getRealtimeSalesSummary', {});
    expect(result.summary).toMatchObject({ orderedUnits: 3, asins: 1 });
    expect(result.syncedUntilMs).toBeNull();
    expect(calls).toBe(0);
  });

  it('refreshRealtimeSales stores through the fetcher and audits the run', async () => {
    const windows: Array<{ startMs: number; endMs: number }> = [];
    restore = registerAutoSyncFetcher(REALTIME_SALES_SOURCE, async (w) => {
      windows.push({ startMs: w.startMs, endMs: w.endMs });
    });
    const result = await call<RefreshRealtimeSalesResult>('refreshRealtimeSales', {});
    expect(result).toMatchObject({ status: 'ok', stored: 1, failed: 0 });
    if (result.status !== 'ok') throw new Error('unreachable');
    // The backfill's chunk first, then the daily audit's chunks.
    expect(windows[0]).toEqual(result.window);
    expect(result.syncedUntilMs).toBe(result.window.endMs);
    const audits = await auditEntries(f.db);
    expect(audits.some((a) => a.what === 'refreshRealtimeSales')).toBe(true);
  });

  it('on QuotaExceeded answers successfully with the window and the cached summary', async () => {
    restore = registerAutoSyncFetcher(REALTIME_SALES_SOURCE, async () => {
      throw new QuotaExceededError('spapi', 'createReport', undefined);
    });
    const result = await call<RefreshRealtimeSalesResult>('refreshRealtimeSales', {});
    expect(result).toMatchObject({
      status: 'error',
      error: 'QuotaExceeded',
      message: expect.stringContaining('QuotaExceeded'),
      window: { startMs: expect.any(Number), endMs: expect.any(Number) },
      summary: { orderedUnits: 3 },
    });
    // While the cooldown lasts, a refresh calls nothing and answers the same way.
    let calls = 0;
    restore();
    restore = registerAutoSyncFetcher(REALTIME_SALES_SOURCE, async () => {
      calls++;
    });
    const again = await call<RefreshRealtimeSalesResult>('refreshRealtimeSales', {});
    expect(again).toMatchObject({
      status: 'error',
      error: 'QuotaExceeded',
      summary: { orderedUnits: 3 },
    });
    expect(calls).toBe(0);
  });
});
