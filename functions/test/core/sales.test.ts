import { describe, expect, it } from 'vitest';
import {
  HOUR_MS,
  hourKey,
  hourWindow,
  mergeSalesRows,
  salesBucketKey,
  salesBucketRange,
  salesReportSchema,
  salesRowsFromReport,
} from '../../src/core/upstreams/sales';

const T0 = Date.UTC(2026, 0, 10, 12, 0, 0);
const spec = {
  reportType: 'GET_VENDOR_REAL_TIME_SALES_REPORT',
  dataStartTime: '2026-01-10T10:00:00Z',
  dataEndTime: '2026-01-10T12:00:00Z',
  marketplaceIds: ['ATVPDKIKX0DER'],
};
const line = (start: string, end: string, asin = 'B0AAAAAAA1', units = 2, revenue = 19.98) => ({
  startTime: start,
  endTime: end,
  asin,
  orderedUnits: units,
  orderedRevenue: revenue,
});

describe('vendor real-time sales report parsing', () => {
  it('parses rows into hourly buckets, oldest first, offsets included', () => {
    const report = salesReportSchema.parse({
      reportSpecification: { ...spec, reportOptions: { currencyCode: 'USD' } },
      reportData: [
        line('2026-01-10T11:00:00Z', '2026-01-10T12:00:00Z', 'B0AAAAAAA2', 1, 5),
        line('2026-01-10T11:00:00+01:00', '2026-01-10T12:00:00+01:00'),
      ],
    });
    expect(salesRowsFromReport(report)).toEqual([
      {
        asin: 'B0AAAAAAA1',
        hourStartMs: T0 - 2 * HOUR_MS,
        hourEndMs: T0 - HOUR_MS,
        orderedUnits: 2,
        orderedRevenue: 19.98,
      },
      {
        asin: 'B0AAAAAAA2',
        hourStartMs: T0 - HOUR_MS,
        hourEndMs: T0,
        orderedUnits: 1,
        orderedRevenue: 5,
      },
    ]);
  });

  it('rejects rows that are not one hour, bad ASINs, bad numbers and bad dates', () => {
    const bad = [
      line('2026-01-10T11:00:00Z', '2026-01-10T13:00:00Z'),
      line('2026-01-10T11:00:00Z', '2026-01-10T12:00:00Z', 'B0~AAAAAA1'),
      line('2026-01-10T11:00:00Z', '2026-01-10T12:00:00Z', 'B0AAAAAAA1', 1.5),
      line('yesterday', '2026-01-10T12:00:00Z'),
      { ...line('2026-01-10T11:00:00Z', '2026-01-10T12:00:00Z'), orderedRevenue: '5' },
    ];
    for (const row of bad) {
      expect(
        salesReportSchema.safeParse({ reportSpecification: spec, reportData: [row] }).success,
      ).toBe(false);
    }
    expect(salesReportSchema.safeParse({ reportData: [] }).success).toBe(false);
  });

  it('adds up two lines of one ASIN and hour', () => {
    const row = {
      asin: 'B0AAAAAAA1',
      hourStartMs: T0,
      hourEndMs: T0 + HOUR_MS,
      orderedUnits: 1,
      orderedRevenue: 0.1,
    };
    expect(mergeSalesRows([row, { ...row, orderedUnits: 2, orderedRevenue: 0.2 }])).toEqual([
      { ...row, orderedUnits: 3, orderedRevenue: 0.3 },
    ]);
  });
});

describe('hourly buckets', () => {
  it('keys a bucket by marketplace, hour and ASIN, in time order within a marketplace', () => {
    expect(hourKey(T0)).toBe('2026-01-10T12:00:00Z');
    expect(salesBucketKey('ATVPDKIKX0DER', 'B0AAAAAAA1', T0)).toBe(
      'ATVPDKIKX0DER~2026-01-10T12:00:00Z~B0AAAAAAA1',
    );
    expect(() => salesBucketKey('A/B', 'B0AAAAAAA1', T0)).toThrow(RangeError);
    // Firestore ids are at most 1,500 bytes: the key names the marketplace and the limit.
    expect(() => salesBucketKey('M'.repeat(1470), 'B0AAAAAAA1', T0)).toThrow(
      /^sales bucket of marketplace "M{40}": id "M{40}\.\.\." is 1502 bytes \(at most 1500\)$/,
    );
    const [from, to] = salesBucketRange('M', { startMs: T0, endMs: T0 + 2 * HOUR_MS });
    const inside = salesBucketKey('M', 'ZZZZZZZZZZ', T0 + HOUR_MS);
    const after = salesBucketKey('M', '0000000000', T0 + 2 * HOUR_MS);
    const before = salesBucketKey('M', 'ZZZZZZZZZZ', T0 - HOUR_MS);
    expect(from <= inside && inside < to).toBe(true);
    expect(after < to).toBe(false);
    expect(before < from).toBe(true);
  });

  it('maps consecutive windows to whole hours that tile time, each hour once', () => {
    const lag = 5 * 60_000;
    const windows = [0, 1, 2, 3].map((i) => ({
      startMs: T0 - lag + i * 90 * 60_000,
      endMs: T0 - lag + (i + 1) * 90 * 60_000,
    }));
    const hours = windows.map(hourWindow);
    expect(hours[0]).toEqual({ startMs: T0 - HOUR_MS, endMs: T0 + HOUR_MS });
    for (let i = 1; i < hours.length; i++) {
      expect(hours[i]?.startMs).toBe(hours[i - 1]?.endMs);
    }
    // Every hour ends by the end of the window that fetches it.
    windows.forEach((w, i) => {
      expect(hours[i]?.endMs).toBeLessThanOrEqual(w.endMs);
    });
    expect(hourWindow({ startMs: T0 + 60_000, endMs: T0 + 59 * 60_000 })).toEqual({
      startMs: T0,
      endMs: T0,
    });
  });
});
