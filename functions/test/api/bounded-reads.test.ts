import type { Firestore } from 'firebase-admin/firestore';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MAX_MINUTE_DOCS } from '../../src/adapters/operations/stats';
import {
  MAX_SUMMARY_BUCKETS,
  SALES_COLLECTION,
  salesDocId,
  summary,
} from '../../src/adapters/pipeline/sales-repository';
import type {
  QuotaStatsResult,
  RealtimeSalesSummaryResult,
  StatusResult,
} from '../../src/core/operations';
import { usageStatsUpdate } from '../../src/core/storage/write-buffer/usage-stats';
import { HOUR_MS, hourKey } from '../../src/core/upstreams/sales';
import { quietLogger } from '../support/quiet-logger';
import { type ReadRecorder, recordReads } from '../support/reads';
import { type ApiFixture, apiFixture, as } from './support';

/**
 * Reads a viewer can trigger are bounded, on a database seeded larger than each bound: the
 * documents read (counted as Firestore bills them, never timed) stay within the callable's
 * stated bound, filters are part of the query (a filtered answer is complete), and an answer
 * the bound cut says `truncated: true`.
 */

quietLogger();

const MIN = 60_000;
/** getQuotaStats also queries the fleet statistics: none here, billed as one read. */
const FLEET_QUERY = 1;

/** Sets many documents quickly: batches of 500, a few in flight. */
async function bulkSet(db: Firestore, docs: Array<{ path: string; data: object }>) {
  const batches: Array<typeof docs> = [];
  for (let i = 0; i < docs.length; i += 500) batches.push(docs.slice(i, i + 500));
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < batches.length) {
        const batch = db.batch();
        for (const { path, data } of batches[next++]!) batch.set(db.doc(path), data);
        await batch.commit();
      }
    }),
  );
}

function usageDoc(provider: string, category: string, atMs: number, granted: number) {
  const { path } = usageStatsUpdate({ provider, category, at: atMs });
  const minute = Math.floor(atMs / MIN) * MIN;
  return {
    path,
    data: {
      provider,
      category,
      minute: new Date(minute),
      expiresAt: new Date(minute + 86_400_000),
      granted,
      deferred: 0,
      calls: granted,
      quota429: 0,
    },
  };
}

let f: ApiFixture;
let reads: ReadRecorder;

async function run<T>(name: keyof ApiFixture['callables'], data: unknown): Promise<T> {
  const fn = f.callables[name] as { run: (r: unknown) => Promise<unknown> };
  reads.reset();
  return (await fn.run(as('viewer', data, 'viewer-1'))) as T;
}

describe('getQuotaStats on a day of usage larger than one answer', () => {
  // Four busy keepa categories every minute of the last day (5,760 documents, more than one
  // answer holds), and a quiet spapi category in the last ten minutes only: the newest
  // documents, the ones an unfiltered read in time order reaches last.
  const BUSY = ['b1', 'b2', 'b3', 'b4'];
  beforeAll(async () => {
    f = await apiFixture();
    const now = f.clock.now;
    const docs = [];
    for (let m = 0; m < 1440; m++) {
      for (const c of BUSY) docs.push(usageDoc('keepa', c, now - m * MIN, 1));
    }
    for (let m = 0; m < 10; m++) docs.push(usageDoc('spapi', 'reports', now - m * MIN, 7));
    await bulkSet(f.db, docs);
    expect(docs.length).toBeGreaterThan(MAX_MINUTE_DOCS);
    reads = recordReads();
  }, 120_000);
  afterAll(async () => {
    reads?.restore();
    await f.close();
  });

  it('filters by provider in the query: complete, and reads only what matches', async () => {
    const r = await run<QuotaStatsResult>('getQuotaStats', { provider: 'spapi', minutes: 1440 });
    // The provider document, the ten minutes, and the (empty) fleet statistics' query.
    expect(reads.documents).toBeLessThanOrEqual(1 + 10 + FLEET_QUERY);
    expect(r.truncated).toBe(false);
    expect(r.minutes).toHaveLength(10);
    expect(r.totals).toEqual([
      { provider: 'spapi', category: 'reports', granted: 70, deferred: 0, calls: 70, quota429: 0 },
    ]);
  });

  it('filters by category in the query', async () => {
    const r = await run<QuotaStatsResult>('getQuotaStats', { category: 'reports', minutes: 1440 });
    expect(reads.documents).toBeLessThanOrEqual(1 + 10 + FLEET_QUERY);
    expect(r).toMatchObject({ truncated: false, totals: [{ category: 'reports', granted: 70 }] });
    const both = await run<QuotaStatsResult>('getQuotaStats', {
      provider: 'spapi',
      category: 'reports',
      minutes: 1440,
    });
    expect(both.minutes).toHaveLength(10);
    expect(reads.documents).toBeLessThanOrEqual(2 + 10 + FLEET_QUERY);
  });

  it('reads at most its bound unfiltered, and says the answer was cut', async () => {
    const r = await run<QuotaStatsResult>('getQuotaStats', { minutes: 1440 });
    expect(reads.documents).toBeLessThanOrEqual(MAX_MINUTE_DOCS + 1 + FLEET_QUERY);
    expect(r.truncated).toBe(true);
    expect(r.minutes).toHaveLength(MAX_MINUTE_DOCS);
  });

  it('a filtered answer the bound cuts says so too', async () => {
    const r = await run<QuotaStatsResult>('getQuotaStats', { provider: 'keepa', minutes: 1440 });
    expect(reads.documents).toBeLessThanOrEqual(1 + MAX_MINUTE_DOCS + 1 + FLEET_QUERY);
    expect(r.truncated).toBe(true);
    expect(r.minutes.every((m) => m.provider === 'keepa')).toBe(true);
    expect(r.minutes).toHaveLength(MAX_MINUTE_DOCS);
  });
});

describe('getStatus on an hour of usage larger than one answer', () => {
  beforeAll(async () => {
    f = await apiFixture();
    const docs = [];
    for (let m = 0; m < 60; m++) {
      for (let c = 0; c < 90; c++) docs.push(usageDoc('keepa', `c${c}`, f.clock.now - m * MIN, 1));
    }
    await bulkSet(f.db, docs);
    reads = recordReads();
  }, 120_000);
  afterAll(async () => {
    reads?.restore();
    await f.close();
  });

  it('reads at most its bound of usage and says the usage was cut', async () => {
    const status = await run<StatusResult>('getStatus', { usageWindowMinutes: 60 });
    expect(status.usageTruncated).toBe(true);
    const usage = reads.queries.filter((q) => q.collection === 'usageStats');
    expect(usage).toEqual([{ collection: 'usageStats', documents: MAX_MINUTE_DOCS + 1 }]);
    const small = await run<StatusResult>('getStatus', { usageWindowMinutes: 1 });
    expect(small.usageTruncated).toBe(false);
  });
});

describe('getRealtimeSalesSummary on more buckets than one answer reads', () => {
  // 1,000 ASINs selling every hour of the last 26 hours in each of two marketplaces.
  const ASINS = 1_000;
  const HOURS = 26;
  const US = 'ATVPDKIKX0DER';
  const DE = 'A1PA6795UKMFR9';
  let newestHour: number;
  beforeAll(async () => {
    f = await apiFixture();
    newestHour = Math.floor(f.clock.now / HOUR_MS) * HOUR_MS - HOUR_MS;
    const docs = [];
    for (const marketplaceId of [US, DE]) {
      for (let h = 0; h < HOURS; h++) {
        const hourStartMs = newestHour - h * HOUR_MS;
        for (let a = 0; a < ASINS; a++) {
          const asin = `B0${String(a).padStart(8, '0')}`;
          docs.push({
            path: `${SALES_COLLECTION}/${salesDocId(marketplaceId, asin, hourStartMs)}`,
            data: {
              marketplaceId,
              asin,
              hourStart: hourKey(hourStartMs),
              hourStartMs,
              hourEndMs: hourStartMs + HOUR_MS,
              orderedUnits: 1,
              orderedRevenue: 2,
            },
          });
        }
      }
    }
    await bulkSet(f.db, docs);
    expect(ASINS * HOURS).toBeGreaterThan(MAX_SUMMARY_BUCKETS);
    reads = recordReads();
  }, 240_000);
  afterAll(async () => {
    reads?.restore();
    await f.close();
  });

  it('one marketplace over 90 days: at most its bound, the newest whole hours, truncated', async () => {
    const r = await run<RealtimeSalesSummaryResult>('getRealtimeSalesSummary', {
      sinceHours: 2_160,
      marketplaceId: US,
    });
    // The buckets and the sync state.
    expect(reads.documents).toBeLessThanOrEqual(MAX_SUMMARY_BUCKETS + 1 + 1);
    expect(r.truncated).toBe(true);
    // 25,000 buckets are the newest 25 hours whole.
    const wholeHours = Math.floor(MAX_SUMMARY_BUCKETS / ASINS);
    expect(r.summary).toMatchObject({
      marketplaceIds: [US],
      hours: wholeHours,
      asins: ASINS,
      orderedUnits: wholeHours * ASINS,
      sinceMs: newestHour - (wholeHours - 1) * HOUR_MS,
      lastHour: { hourStartMs: newestHour, orderedUnits: ASINS },
    });
  });

  it('every marketplace: the same bound', async () => {
    const r = await run<RealtimeSalesSummaryResult>('getRealtimeSalesSummary', {
      sinceHours: 2_160,
    });
    expect(reads.documents).toBeLessThanOrEqual(MAX_SUMMARY_BUCKETS + 1 + 1);
    expect(r.truncated).toBe(true);
    expect(r.summary.lastHour).toMatchObject({ hourStartMs: newestHour, orderedUnits: 2 * ASINS });
  });

  it('a reach within the bound is whole and not truncated', async () => {
    const r = await run<RealtimeSalesSummaryResult>('getRealtimeSalesSummary', {
      sinceHours: 3,
      marketplaceId: DE,
    });
    expect(r.truncated).toBe(false);
    expect(r.summary).toMatchObject({ orderedUnits: 2 * ASINS, hours: 2 });
    // The key range starts on the hour: the hour \`since\` falls in is read, then dropped.
    expect(reads.documents).toBeLessThanOrEqual(3 * ASINS + 1);
  });
});

describe('the sales summary bound, cutting inside an hour', () => {
  beforeEach(async () => {
    f = await apiFixture({ seed: false });
  });
  afterEach(() => f.close());

  it('leaves the hour it cut out, and keeps a lone hour that is larger than the bound', async () => {
    const hour0 = Date.UTC(2026, 0, 10, 0);
    const docs = [];
    for (let h = 0; h < 5; h++) {
      for (let a = 0; a < 10; a++) {
        const asin = `B0${String(a).padStart(8, '0')}`;
        const hourStartMs = hour0 + h * HOUR_MS;
        docs.push({
          path: `${SALES_COLLECTION}/${salesDocId('US', asin, hourStartMs)}`,
          data: {
            marketplaceId: 'US',
            asin,
            hourStart: hourKey(hourStartMs),
            hourStartMs,
            hourEndMs: hourStartMs + HOUR_MS,
            orderedUnits: 1,
            orderedRevenue: 1,
          },
        });
      }
    }
    await bulkSet(f.db, docs);
    for (const marketplaceId of ['US', undefined]) {
      // 25 buckets: hours 4 and 3 whole, half of hour 2 (left out).
      const cut = await summary(f.db, { sinceMs: hour0, marketplaceId, maxBuckets: 25 });
      expect(cut).toMatchObject({
        truncated: true,
        hours: 2,
        orderedUnits: 20,
        sinceMs: hour0 + 3 * HOUR_MS,
      });
      // 5 buckets: half of the newest hour, said to be cut.
      const lone = await summary(f.db, { sinceMs: hour0, marketplaceId, maxBuckets: 5 });
      expect(lone).toMatchObject({
        truncated: true,
        hours: 1,
        orderedUnits: 5,
        sinceMs: hour0 + 4 * HOUR_MS,
      });
      const whole = await summary(f.db, { sinceMs: hour0, marketplaceId, maxBuckets: 50 });
      expect(whole).toMatchObject({ truncated: false, orderedUnits: 50, sinceMs: hour0 });
    }
  });
});
