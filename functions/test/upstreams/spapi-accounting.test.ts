import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSpApiSandbox } from '../../../devstack/src/sandbox/spapi.ts';
import { SPAPI_REPORTS_RATE_LIMITS } from '../../../devstack/src/sandbox/spapi-rate-limits.ts';
import {
  LWA_TOKEN_PATH,
  SPAPI_SANDBOX_CREDENTIALS,
  type SpApiSandbox,
} from '../../../devstack/src/sandbox/spapi-types.ts';
import { type AutoSyncSummary, runAutoSyncCycle } from '../../src/adapters/pipeline/autosync';
import { SalesRepository } from '../../src/adapters/pipeline/sales-repository';
import { QuotaEngine } from '../../src/adapters/quota/quota-engine';
import { SpApiReportsClient } from '../../src/adapters/upstreams/spapi-reports';
import { createRealtimeSalesFetcher } from '../../src/adapters/upstreams/spapi-sales-fetcher';
import { REALTIME_SALES_SYNC } from '../../src/core/pipeline/category-work';
import { testFirestore } from '../support/firestore';
import { quietLogger } from '../support/quiet-logger';

/**
 * Every SP-API request is charged to its own operation's limit, per marketplace: with the
 * sandbox holding SP-API's published rates (createReport and getReportDocument one a minute,
 * burst 15; getReport 2/s, burst 15), a weekly audit (28 six-hour windows) over three
 * marketplaces (84 reports, each a create, its polls and a document) completes over scheduled
 * cycles without a single 429. Reports finish in a second, so the limits, not the processing,
 * pace the flow: charging one createReport per window, or no poll or document,
 * runs into the sandbox's buckets.
 */

quietLogger();

const MARKETPLACES = ['ATVPDKIKX0DER', 'A2EUQ1WTGCTBG2', 'A1AM78C64UM0Y8'];
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const T0 = Date.UTC(2026, 11, 6, 12, 7);
/** As the scheduled function: every 15 minutes, 7 minutes of windows, fetches over by 8. */
const EVERY_MS = 15 * MINUTE;
const BUDGET_MS = 7 * MINUTE;
const FETCH_MS = 8 * MINUTE;

let t: number;
const now = () => t;
const sleep = async (ms: number) => {
  t += ms;
};
let sb: SpApiSandbox;
let db: FirebaseFirestore.Firestore;
let close: () => Promise<void>;

beforeEach(async () => {
  t = T0;
  ({ db, close } = testFirestore());
  sb = await startSpApiSandbox({ now, seed: 'accounting', processingMs: 1_000 });
});
afterEach(async () => {
  await sb.stop();
  await close();
});

async function configure() {
  const { createReport, getReport, getReportDocument } = SPAPI_REPORTS_RATE_LIMITS;
  await db.doc('providers/spapi').set({
    limits: [
      { kind: 'operation', operation: 'createReport', ...createReport },
      { kind: 'operation', operation: 'getReport', ...getReport },
      { kind: 'operation', operation: 'getReportDocument', ...getReportDocument },
    ],
  });
  await db.doc(`categories/${REALTIME_SALES_SYNC.category}`).set({
    provider: 'spapi',
    sharePercent: 100,
  });
  await db.doc('config/flags').set({ dailyAuditEnabled: false, weeklyAuditEnabled: true });
  // Synced up to the safe end: what the cycles fetch is the weekly audit (and the new hours).
  await db.doc(`autosync/${REALTIME_SALES_SYNC.source}`).set({
    watermarkMs: T0 - 5 * MINUTE,
    completed: [],
  });
}

describe('SP-API accounting', () => {
  it('a weekly audit over three marketplaces at the published rates gets no 429', async () => {
    await configure();
    const engine = new QuotaEngine(db, { now, sleep });
    const client = new SpApiReportsClient({
      baseUrl: sb.url,
      lwaUrl: `${sb.url}${LWA_TOKEN_PATH}`,
      credentials: SPAPI_SANDBOX_CREDENTIALS,
      marketplaceIds: MARKETPLACES,
      now,
      sleep,
    });
    const fetchAndStore = createRealtimeSalesFetcher({
      client,
      store: new SalesRepository(db),
      pollIntervalMs: 5_000,
    });

    const summaries: AutoSyncSummary[] = [];
    let weekly: unknown = null;
    for (let cycle = 0; cycle < 40 && !weekly; cycle++) {
      const startedAt = Math.ceil(t / EVERY_MS) * EVERY_MS;
      t = startedAt;
      summaries.push(
        await runAutoSyncCycle({
          db,
          engine,
          source: REALTIME_SALES_SYNC.source,
          provider: 'spapi',
          category: REALTIME_SALES_SYNC.category,
          fetchAndStore,
          now,
          deadlineMs: startedAt + BUDGET_MS,
          fetchDeadlineMs: startedAt + FETCH_MS,
        }),
      );
      const state = (await db.doc(`autosync/${REALTIME_SALES_SYNC.source}`).get()).data();
      weekly = state?.audits?.weekly ?? null;
    }
    await engine.shutdown();

    const { operations, reportsCreated } = sb.state();
    for (const operation of ['createReport', 'getReport', 'getReportDocument'] as const) {
      expect(operations[operation].rejected, operation).toBe(0);
    }
    expect(weekly).not.toBeNull();
    // 28 windows in each of three marketplaces, and the backfill's own reports.
    expect(reportsCreated).toBeGreaterThanOrEqual(28 * MARKETPLACES.length);
    expect(operations.getReportDocument.served).toBeGreaterThanOrEqual(28 * MARKETPLACES.length);
    // The gate, not the upstream, paced it: past the burst, a report a minute; no cycle ended
    // on a quota error, and the audit went on over several cycles instead of starting over.
    expect(summaries.every((s) => s.skipped === undefined && s.stopped?.kind !== 'quota')).toBe(
      true,
    );
    expect(summaries.length).toBeGreaterThan(1);
    expect(reportsCreated).toBeLessThan(2 * 28 * MARKETPLACES.length);
    // Three marketplaces' sales for a week were stored.
    const week = await db
      .collection('sales')
      .where('hourStartMs', '>=', T0 - 7 * 24 * HOUR)
      .count()
      .get();
    expect(week.data().count).toBeGreaterThan(0);
  }, 300_000);
});
