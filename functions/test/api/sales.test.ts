import type { Timestamp } from 'firebase-admin/firestore';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSpApiSandbox } from '../../../devstack/src/sandbox/spapi.ts';
import {
  LWA_TOKEN_PATH,
  SPAPI_SANDBOX_CREDENTIALS,
  SPAPI_SANDBOX_MARKETPLACE_ID,
} from '../../../devstack/src/sandbox/spapi-types.ts';
import { REFRESH_SAVE_MARGIN_MS } from '../../src/adapters/operations/sales';
import { registerAutoSyncFetcher } from '../../src/adapters/pipeline/autosync-fetchers';
import { AUTOSYNC_COLLECTION } from '../../src/adapters/pipeline/autosync-state';
import { SalesRepository, storeSalesRows } from '../../src/adapters/pipeline/sales-repository';
import { SpApiReportsClient } from '../../src/adapters/upstreams/spapi-reports';
import { createRealtimeSalesFetcher } from '../../src/adapters/upstreams/spapi-sales-fetcher';
import { REALTIME_SALES_SOURCE } from '../../src/adapters/upstreams/wiring';
import type {
  RealtimeSalesSummaryResult,
  RefreshRealtimeSalesResult,
} from '../../src/core/operations';
import { QuotaExceededError } from '../../src/core/quota/errors';
import { floorToHour } from '../../src/core/upstreams/sales';
import { TIMEOUT_SECONDS } from '../../src/entry/operations/define';
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

  it("stops polling a report that never ends before the call's timeout, and releases its lease", async () => {
    // SP-API as it behaves when a report never finishes: IN_PROGRESS for ever. The fetcher is
    // the production one; each 15 s poll interval moves the test clock.
    const sandbox = await startSpApiSandbox({ now: () => f.clock.now, processingMs: 30_000 });
    sandbox.misbehave('stuck');
    let polls = 0;
    let leaseExpiresAt: number | undefined;
    const leaseRef = f.db.doc(`${AUTOSYNC_COLLECTION}/${REALTIME_SALES_SOURCE}/lease/current`);
    const client = new SpApiReportsClient({
      baseUrl: sandbox.url,
      lwaUrl: `${sandbox.url}${LWA_TOKEN_PATH}`,
      credentials: { ...SPAPI_SANDBOX_CREDENTIALS },
      marketplaceIds: [SPAPI_SANDBOX_MARKETPLACE_ID],
      now: () => f.clock.now,
      sleep: async (ms) => {
        f.clock.now += ms;
      },
      fetch: async (input, init) => {
        if (String(input).includes('/reports/2021-06-30/reports/')) {
          polls++;
          leaseExpiresAt ??= ((await leaseRef.get()).get('expiresAt') as Timestamp).toMillis();
        }
        return fetch(input, init);
      },
    });
    restore = registerAutoSyncFetcher(
      REALTIME_SALES_SOURCE,
      createRealtimeSalesFetcher({
        client,
        store: new SalesRepository(f.db),
        pollIntervalMs: 15_000,
        maxPolls: 40, // 40 polls of 15 s: ten minutes, five times the callable's timeout
      }),
    );
    try {
      const started = f.clock.now;
      const result = await call<RefreshRealtimeSalesResult>('refreshRealtimeSales', {});
      // It answered before its function would have been stopped (120 s), with time to spare.
      expect(f.clock.now - started).toBeLessThan(TIMEOUT_SECONDS.refreshRealtimeSales! * 1000);
      expect(f.clock.now - started).toBeLessThanOrEqual(
        TIMEOUT_SECONDS.refreshRealtimeSales! * 1000 - REFRESH_SAVE_MARGIN_MS,
      );
      expect(polls).toBeGreaterThan(1);
      expect(polls).toBeLessThan(40);
      expect(['ok', 'skipped']).toContain(result.status);
      // Its lease is released: the schedule is not blocked...
      expect((await leaseRef.get()).exists).toBe(false);
      // ...and would have run out soon after the call's timeout had the call been killed.
      expect(leaseExpiresAt).toBeLessThanOrEqual(started + 150_000);
      sandbox.misbehave('none');
      restore();
      restore = registerAutoSyncFetcher(REALTIME_SALES_SOURCE, async () => {});
      const next = await call<RefreshRealtimeSalesResult>('refreshRealtimeSales', {});
      expect(next.status).not.toBe('skipped');
    } finally {
      await sandbox.stop();
    }
  });

  it('fetches a named window first and answers its summary: last_3h, last_24h, explicit', async () => {
    const windows: Array<{ startMs: number; endMs: number; purpose: string }> = [];
    restore = registerAutoSyncFetcher(REALTIME_SALES_SOURCE, async (w) => {
      windows.push({ startMs: w.startMs, endMs: w.endMs, purpose: w.purpose });
    });
    const now = f.clock.now;
    const result = await call<RefreshRealtimeSalesResult>('refreshRealtimeSales', {
      window: 'last_3h',
    });
    expect(result).toMatchObject({ status: 'ok', stored: 1, failed: 0 });
    if (result.status !== 'ok') throw new Error('unreachable');
    expect(result.window).toEqual({ startMs: now - 3 * 3_600_000, endMs: now });
    // The window's chunk comes first, whatever the sync already holds.
    expect(windows[0]).toEqual({ startMs: now - 3 * 3_600_000, endMs: now, purpose: 'requested' });
    // The summary covers the window: the seeded sale two hours ago is in it.
    expect(result.summary).toMatchObject({ orderedUnits: 3, sinceMs: now - 3 * 3_600_000 });

    windows.length = 0;
    const day = await call<RefreshRealtimeSalesResult>('refreshRealtimeSales', {
      window: 'last_24h',
    });
    if (day.status !== 'ok') throw new Error(JSON.stringify(day));
    expect(day.window).toEqual({ startMs: now - 24 * 3_600_000, endMs: now });
    expect(windows.filter((w) => w.purpose === 'requested')).toHaveLength(4); // 6-hour chunks

    // An explicit window before the sale: its summary has none of it.
    const early = { startMs: now - 30 * 3_600_000, endMs: now - 26 * 3_600_000 };
    const explicit = await call<RefreshRealtimeSalesResult>('refreshRealtimeSales', {
      window: early,
    });
    if (explicit.status !== 'ok') throw new Error(JSON.stringify(explicit));
    expect(explicit.window).toEqual(early);
    expect(explicit.summary).toMatchObject({ orderedUnits: 0, asins: 0 });
  });

  it('refuses a window with sinceHours, longer than a week, or ending before it starts', async () => {
    const fn = f.callables.refreshRealtimeSales;
    const now = f.clock.now;
    for (const [data, path] of [
      [{ window: 'last_3h', sinceHours: 5 }, 'sinceHours'],
      [{ window: { startMs: now - 8 * 24 * 3_600_000, endMs: now } }, 'window.endMs'],
      [{ window: { startMs: now, endMs: now - 1 } }, 'window.endMs'],
      [{ window: 'last_week' }, 'window'],
    ] as const) {
      const error = await fn.run(as('operator', data, 'op-1')).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'invalid-argument' });
      expect(JSON.stringify((error as { details: unknown }).details)).toContain(path);
    }
  });
});
