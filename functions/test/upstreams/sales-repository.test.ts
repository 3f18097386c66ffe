import type { Firestore } from 'firebase-admin/firestore';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  SALES_COLLECTION,
  SalesRepository,
  salesDocId,
  storeSalesRows,
  summary,
} from '../../src/adapters/pipeline/sales-repository';
import { MAX_BATCH_WRITES } from '../../src/adapters/storage/write-buffer-types';
import type { SalesRow } from '../../src/core/upstreams/sales';
import { testFirestore } from '../support/firestore';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 10, 0, 0, 0);
const US = 'ATVPDKIKX0DER';
const DE = 'A1PA6795UKMFR9';

let db: Firestore;
let close: () => Promise<void>;

beforeEach(() => {
  ({ db, close } = testFirestore());
});
afterEach(() => close());

const row = (asin: string, hour: number, units: number, revenue: number): SalesRow => ({
  asin,
  hourStartMs: T0 + hour * HOUR,
  hourEndMs: T0 + (hour + 1) * HOUR,
  orderedUnits: units,
  orderedRevenue: revenue,
});

async function all() {
  const { docs } = await db.collection(SALES_COLLECTION).get();
  return new Map(docs.map((d) => [d.id, d.data()]));
}

describe('sales repository: storing', () => {
  it('writes one document per marketplace, hour and ASIN under a deterministic id', async () => {
    const rows = [row('B0AAAAAAA1', 3, 2, 39.98), row('B0AAAAAAA2', 3, 1, 5.5)];
    const outcome = await storeSalesRows(db, US, rows);
    expect(outcome).toEqual({ written: 2, deleted: 0, batches: 1 });
    const docs = await all();
    expect([...docs.keys()].sort()).toEqual([
      `${US}~2026-01-10T03:00:00Z~B0AAAAAAA1`,
      `${US}~2026-01-10T03:00:00Z~B0AAAAAAA2`,
    ]);
    expect(salesDocId(US, 'B0AAAAAAA1', T0 + 3 * HOUR)).toBe(
      `${US}~2026-01-10T03:00:00Z~B0AAAAAAA1`,
    );
    expect(docs.get(`${US}~2026-01-10T03:00:00Z~B0AAAAAAA1`)).toEqual({
      marketplaceId: US,
      asin: 'B0AAAAAAA1',
      hourStart: '2026-01-10T03:00:00Z',
      hourStartMs: T0 + 3 * HOUR,
      hourEndMs: T0 + 4 * HOUR,
      orderedUnits: 2,
      orderedRevenue: 39.98,
    });
  });

  it('is idempotent: storing the same rows again writes the same documents, counted once', async () => {
    const rows = [
      row('B0AAAAAAA1', 1, 2, 20),
      row('B0AAAAAAA1', 2, 3, 30),
      row('B0AAAAAAA2', 2, 1, 7),
    ];
    await storeSalesRows(db, US, rows);
    const first = await all();
    const before = await summary(db, { sinceMs: T0 });
    await storeSalesRows(db, US, rows);
    await storeSalesRows(db, US, [...rows].reverse());
    expect(await all()).toEqual(first);
    const after = await summary(db, { sinceMs: T0 });
    expect(after).toEqual(before);
    expect(after).toMatchObject({ orderedUnits: 6, orderedRevenue: 57 });
  });

  it('adds up two lines of one ASIN and hour instead of writing the bucket twice', async () => {
    await storeSalesRows(db, US, [row('B0AAAAAAA1', 1, 2, 20), row('B0AAAAAAA1', 1, 1, 10.01)]);
    const docs = await all();
    expect(docs.size).toBe(1);
    expect([...docs.values()][0]).toMatchObject({ orderedUnits: 3, orderedRevenue: 30.01 });
  });

  it('commits in batches of at most 500 writes', async () => {
    // 25 ASINs x 50 hours = 1250 buckets: three batches.
    const rows: SalesRow[] = [];
    for (let a = 0; a < 25; a++) {
      for (let h = 0; h < 50; h++) rows.push(row(`B0ASIN${String(a).padStart(4, '0')}`, h, 1, 1));
    }
    const outcome = await storeSalesRows(db, US, rows);
    expect(outcome).toEqual({ written: 1250, deleted: 0, batches: 3 });
    expect(MAX_BATCH_WRITES).toBe(500);
    expect((await db.collection(SALES_COLLECTION).count().get()).data().count).toBe(1250);
    // Again: still 1250, nothing new.
    await storeSalesRows(db, US, rows);
    expect((await db.collection(SALES_COLLECTION).count().get()).data().count).toBe(1250);
  });

  it("replaces a window: the window's buckets missing from the new rows go, others stay", async () => {
    const repo = new SalesRepository(db);
    await repo.store(US, [
      row('B0AAAAAAA1', 0, 1, 10), // before the window
      row('B0AAAAAAA1', 2, 1, 10),
      row('B0AAAAAAA2', 2, 4, 40), // revised away
      row('B0AAAAAAA2', 3, 2, 20), // revised away
      row('B0AAAAAAA1', 4, 1, 10), // at the window's end: outside
    ]);
    await repo.store(DE, [row('B0AAAAAAA2', 2, 9, 90)]); // another marketplace
    const outcome = await repo.replaceWindow(US, { startMs: T0 + 2 * HOUR, endMs: T0 + 4 * HOUR }, [
      row('B0AAAAAAA1', 2, 5, 50),
    ]);
    expect(outcome).toEqual({ written: 1, deleted: 2, batches: 1 });
    const docs = await all();
    expect([...docs.keys()].sort()).toEqual([
      `${DE}~2026-01-10T02:00:00Z~B0AAAAAAA2`,
      `${US}~2026-01-10T00:00:00Z~B0AAAAAAA1`,
      `${US}~2026-01-10T02:00:00Z~B0AAAAAAA1`,
      `${US}~2026-01-10T04:00:00Z~B0AAAAAAA1`,
    ]);
    expect(docs.get(`${US}~2026-01-10T02:00:00Z~B0AAAAAAA1`)).toMatchObject({ orderedUnits: 5 });
    // No rows (a CANCELLED report) empties the window.
    const empty = await repo.replaceWindow(
      US,
      { startMs: T0 + 2 * HOUR, endMs: T0 + 4 * HOUR },
      [],
    );
    expect(empty).toEqual({ written: 0, deleted: 1, batches: 1 });
    expect((await all()).size).toBe(3);
  });

  it('refuses a marketplace id or ASIN that cannot make a document id', async () => {
    await expect(storeSalesRows(db, 'A~B', [row('B0AAAAAAA1', 0, 1, 1)])).rejects.toThrow();
    await expect(storeSalesRows(db, US, [row('B0/AAAAAA1', 0, 1, 1)])).rejects.toThrow();
    // Long enough to take a bucket id past Firestore's 1,500 bytes: refused before writing.
    await expect(storeSalesRows(db, 'M'.repeat(101), [row('B0AAAAAAA1', 0, 1, 1)])).rejects.toThrow(
      /at most 100/,
    );
    expect((await all()).size).toBe(0);
  });
});

describe('sales repository: zero and negative hours', () => {
  // vendorRealTimeSalesReport.json: orderedUnits "can be negative if there are more
  // cancellations than orders"; its example lists zero rows.
  it('stores zero and negative rows as they are, and the summary adds them up', async () => {
    const rows = [
      row('B0AAAAAAA1', 1, 3, 59.97),
      row('B0AAAAAAA1', 2, -2, -39.98), // two of the earlier orders cancelled
      row('B0AAAAAAA2', 2, 0, 0), // listed, nothing sold
      row('B0AAAAAAA3', 3, 1, 10.01),
    ];
    expect(await storeSalesRows(db, US, rows)).toEqual({ written: 4, deleted: 0, batches: 1 });
    const docs = await all();
    expect(docs.get(`${US}~2026-01-10T02:00:00Z~B0AAAAAAA1`)).toMatchObject({
      orderedUnits: -2,
      orderedRevenue: -39.98,
    });
    expect(docs.get(`${US}~2026-01-10T02:00:00Z~B0AAAAAAA2`)).toMatchObject({
      orderedUnits: 0,
      orderedRevenue: 0,
    });
    const s = await summary(db, { sinceMs: T0 });
    expect(s).toMatchObject({
      orderedUnits: 2,
      orderedRevenue: 30,
      asins: 3,
      hours: 3,
      lastHour: { hourStartMs: T0 + 3 * HOUR, orderedUnits: 1, orderedRevenue: 10.01 },
    });
    // Net per ASIN: the cancellations take B0AAAAAAA1 down to 1 unit, 19.99.
    expect(s.top).toEqual([
      { asin: 'B0AAAAAAA1', orderedUnits: 1, orderedRevenue: 19.99 },
      { asin: 'B0AAAAAAA3', orderedUnits: 1, orderedRevenue: 10.01 },
      { asin: 'B0AAAAAAA2', orderedUnits: 0, orderedRevenue: 0 },
    ]);
    // The totals are the plain sums of the stored buckets.
    const stored = [...docs.values()];
    expect(s.orderedUnits).toBe(stored.reduce((n, d) => n + d.orderedUnits, 0));
    // The hour with the cancellation alone: down.
    const hour2 = await summary(db, { sinceMs: T0 + 2 * HOUR, untilMs: T0 + 3 * HOUR });
    expect(hour2).toMatchObject({ orderedUnits: -2, orderedRevenue: -39.98, hours: 1 });
  });

  it('a revision that turns an hour negative lowers the totals; revised to zero keeps a bucket', async () => {
    const repo = new SalesRepository(db);
    const window = { startMs: T0 + 2 * HOUR, endMs: T0 + 3 * HOUR };
    await repo.replaceWindow(US, window, [row('B0AAAAAAA1', 2, 4, 40), row('B0AAAAAAA2', 2, 1, 5)]);
    expect(await summary(db, { sinceMs: T0 })).toMatchObject({
      orderedUnits: 5,
      orderedRevenue: 45,
    });
    await repo.replaceWindow(US, window, [
      row('B0AAAAAAA1', 2, -1, -10),
      row('B0AAAAAAA2', 2, 0, 0),
    ]);
    expect(await summary(db, { sinceMs: T0 })).toMatchObject({
      orderedUnits: -1,
      orderedRevenue: -10,
      hours: 1,
      asins: 2,
    });
    expect((await all()).size).toBe(2);
  });

  it('nets orders and cancellations to exactly zero, never -0', async () => {
    // One hour: an order and its cancellation merge into a bucket of zeros.
    await storeSalesRows(db, US, [
      row('B0AAAAAAA1', 1, 1, 10.05),
      row('B0AAAAAAA1', 1, -1, -10.05),
    ]);
    const [bucket] = [...(await all()).values()];
    expect(bucket).toMatchObject({ orderedUnits: 0 });
    expect(Object.is(bucket!.orderedRevenue, 0)).toBe(true);
    // Across hours, read newest first: -0.2 + -0.1 + 0.3 is -5.6e-17 in floating point, which
    // rounds to 0, not -0.
    await storeSalesRows(db, DE, [
      row('B0AAAAAAA1', 1, 3, 0.3),
      row('B0AAAAAAA1', 2, -1, -0.1),
      row('B0AAAAAAA1', 3, -2, -0.2),
    ]);
    const s = await summary(db, { sinceMs: T0, marketplaceId: DE });
    expect(s.orderedUnits).toBe(0);
    expect(Object.is(s.orderedRevenue, 0)).toBe(true);
    expect(Object.is(s.top[0]!.orderedRevenue, 0)).toBe(true);
  });
});

describe('sales repository: summary', () => {
  beforeEach(async () => {
    await storeSalesRows(db, US, [
      row('B0AAAAAAA1', 0, 10, 100), // before `since`
      row('B0AAAAAAA1', 5, 3, 30),
      row('B0AAAAAAA2', 5, 1, 99.99),
      row('B0AAAAAAA3', 6, 4, 12.5),
      row('B0AAAAAAA1', 7, 2, 20.1),
      row('B0AAAAAAA3', 7, 1, 3.13),
    ]);
    await storeSalesRows(db, DE, [row('B0AAAAAAA3', 6, 7, 70)]);
  });

  it('totals, best sellers by revenue and the latest hour, from stored buckets only', async () => {
    const s = await summary(db, { sinceMs: T0 + 5 * HOUR });
    expect(s).toEqual({
      sinceMs: T0 + 5 * HOUR,
      untilMs: null,
      marketplaceIds: [DE, US],
      orderedUnits: 18,
      orderedRevenue: 235.72,
      asins: 3,
      hours: 3,
      top: [
        { asin: 'B0AAAAAAA2', orderedUnits: 1, orderedRevenue: 99.99 },
        { asin: 'B0AAAAAAA3', orderedUnits: 12, orderedRevenue: 85.63 },
        { asin: 'B0AAAAAAA1', orderedUnits: 5, orderedRevenue: 50.1 },
      ],
      lastHour: {
        hourStartMs: T0 + 7 * HOUR,
        hourEndMs: T0 + 8 * HOUR,
        orderedUnits: 3,
        orderedRevenue: 23.23,
      },
      truncated: false,
    });
  });

  it('bounds by marketplace, until and top', async () => {
    const s = await summary(db, {
      sinceMs: T0 + 5 * HOUR,
      untilMs: T0 + 7 * HOUR,
      marketplaceId: US,
      top: 1,
    });
    expect(s).toMatchObject({
      marketplaceIds: [US],
      orderedUnits: 8,
      orderedRevenue: 142.49,
      hours: 2,
      top: [{ asin: 'B0AAAAAAA2' }],
      lastHour: { hourStartMs: T0 + 6 * HOUR, orderedUnits: 4 },
    });
    const later = await summary(db, { sinceMs: T0 + 30 * 60_000 + 6 * HOUR, marketplaceId: US });
    expect(later).toMatchObject({ orderedUnits: 3, hours: 1 });
    const none = await summary(db, { sinceMs: T0 + 100 * HOUR });
    expect(none).toMatchObject({ orderedUnits: 0, orderedRevenue: 0, top: [], lastHour: null });
  });

  it('skips a malformed bucket instead of failing', async () => {
    await db
      .collection(SALES_COLLECTION)
      .doc('junk')
      .set({ hourStartMs: T0 + 6 * HOUR });
    const s = await summary(db, { sinceMs: T0 + 5 * HOUR });
    expect(s.orderedUnits).toBe(18);
  });
});
