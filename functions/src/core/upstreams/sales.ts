import { z } from 'zod';
import type { Interval } from '../pipeline/backfill';
import { documentIdProblem } from '../storage/firestore-names';

/**
 * Vendor real-time sales (SP-API report GET_VENDOR_REAL_TIME_SALES_REPORT): the report's
 * schema, its rows as hourly buckets per ASIN, the bucket keys the store writes under, and the
 * summary the dashboard reads. Pure: no Firebase, no clock.
 */

export const VENDOR_REAL_TIME_SALES_REPORT = 'GET_VENDOR_REAL_TIME_SALES_REPORT';
export const HOUR_MS = 3_600_000;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A marketplace id as the sales store keys its buckets with (`{marketplaceId}~{hour}~{asin}`):
 * SP-API's are 10-14 characters; the bound keeps bucket ids far from 1,500 bytes. The one schema
 * of the store and of the callables' input, so an id the store refuses is invalid input.
 */
export const salesMarketplaceIdSchema = z
  .string()
  .max(100, 'at most 100 characters (bucket ids stay within 1,500 bytes)')
  .regex(/^[^~/]+$/, 'non-empty, without "~" or "/"')
  .refine((s) => !LONE_SURROGATE.test(s), 'must be valid Unicode text');

const asinSchema = z.string().regex(/^[A-Z0-9]{10}$/i, 'an ASIN is 10 letters and digits');

/** An ISO 8601 instant with `Z` or an offset, as SP-API writes them, parsed to epoch ms. */
const isoInstant = z.iso.datetime({ offset: true }).transform((value) => Date.parse(value));

/**
 * One hour of one ASIN, as the report writes it (vendorRealTimeSalesReport.json, `reportData`):
 * units are an integer of any sign (zero when nothing sold; negative when cancellations exceed
 * orders, with revenue adjusted likewise), stored as they are.
 */
export const salesReportRowSchema = z
  .object({
    startTime: isoInstant,
    endTime: isoInstant,
    // Ten letters and digits; it also keeps `~` and `/` out of the bucket key.
    asin: asinSchema,
    orderedUnits: z.number().int(),
    orderedRevenue: z.number(),
  })
  .refine((row) => row.endTime - row.startTime === HOUR_MS, {
    message: 'a row covers exactly one hour',
    path: ['endTime'],
  })
  .transform(
    (row): SalesRow => ({
      asin: row.asin.toUpperCase(),
      hourStartMs: row.startTime,
      hourEndMs: row.endTime,
      orderedUnits: row.orderedUnits,
      orderedRevenue: row.orderedRevenue,
    }),
  );

/** The report document (after decompression). Unknown fields are ignored. */
export const salesReportSchema = z.object({
  reportSpecification: z.object({
    reportType: z.string(),
    dataStartTime: isoInstant,
    dataEndTime: isoInstant,
    marketplaceIds: z.array(z.string().min(1)).min(1),
  }),
  reportData: z.array(salesReportRowSchema),
});
export type SalesReport = z.output<typeof salesReportSchema>;

/** One ASIN's sales in one hour [hourStartMs, hourEndMs): net, so possibly zero or negative. */
export const salesRowSchema = z
  .object({
    asin: asinSchema,
    hourStartMs: z.number().int(),
    hourEndMs: z.number().int(),
    orderedUnits: z.number().int(),
    orderedRevenue: z.number(),
  })
  .refine((row) => row.hourEndMs > row.hourStartMs, {
    message: 'hourEndMs must be after hourStartMs',
    path: ['hourEndMs'],
  });
export type SalesRow = z.infer<typeof salesRowSchema>;

/**
 * The report's rows, one per (ASIN, hour), oldest hour first. Two lines for the same ASIN and
 * hour add up (the report splits, it never repeats), so the bucket holds the hour's total.
 */
export function salesRowsFromReport(report: SalesReport): SalesRow[] {
  return mergeSalesRows(report.reportData);
}

export function mergeSalesRows(rows: readonly SalesRow[]): SalesRow[] {
  const byKey = new Map<string, SalesRow>();
  for (const row of rows) {
    const key = `${row.hourStartMs}~${row.asin}`;
    const seen = byKey.get(key);
    byKey.set(
      key,
      seen
        ? {
            ...seen,
            orderedUnits: seen.orderedUnits + row.orderedUnits,
            orderedRevenue: roundMoney(seen.orderedRevenue + row.orderedRevenue),
          }
        : { ...row },
    );
  }
  return [...byKey.values()].sort(
    (a, b) => a.hourStartMs - b.hourStartMs || a.asin.localeCompare(b.asin),
  );
}

/** `2026-01-10T12:00:00Z`: sorts like time, readable in the console. */
export function hourKey(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The bucket of one ASIN's hour in a marketplace: `{marketplaceId}~{hourKey}~{asin}`. The
 * hour comes before the ASIN so one marketplace's buckets of a window are one key range.
 */
export function salesBucketKey(marketplaceId: string, asin: string, hourStartMs: number): string {
  if (!/^[^~/]+$/.test(marketplaceId)) {
    throw new RangeError(`marketplaceId "${marketplaceId}" must be non-empty, without "~" or "/"`);
  }
  const key = `${marketplaceId}~${hourKey(hourStartMs)}~${asin}`;
  // Never reserved (it ends in the ASIN); too long only with an absurd marketplace id.
  const problem = documentIdProblem(key);
  if (problem)
    throw new RangeError(`sales bucket of marketplace "${marketplaceId.slice(0, 40)}": ${problem}`);
  return key;
}

/** The key range [from, to) holding a marketplace's buckets of hours starting in the window. */
export function salesBucketRange(marketplaceId: string, window: Interval): [string, string] {
  return [
    `${marketplaceId}~${hourKey(window.startMs)}`,
    `${marketplaceId}~${hourKey(window.endMs)}`,
  ];
}

export function floorToHour(ms: number): number {
  return Math.floor(ms / HOUR_MS) * HOUR_MS;
}

/**
 * The whole hours a window stands for: both ends floored to the hour. Consecutive windows
 * tile time, so their hour windows do too: every hour is fetched by exactly one window, the
 * first one that reaches past its end, which is when the hour is over. Empty when the window
 * lies within one hour.
 */
export function hourWindow(window: Interval): Interval {
  return { startMs: floorToHour(window.startMs), endMs: floorToHour(window.endMs) };
}

/**
 * To the cent, halves away from zero, so a cancellation rounds exactly as the order it undoes
 * (`roundMoney(-x) === -roundMoney(x)`), and never -0.
 */
export function roundMoney(value: number): number {
  const cents = Math.round(Math.abs(value) * 100);
  return cents === 0 ? 0 : (Math.sign(value) * cents) / 100;
}

export interface AsinSales {
  asin: string;
  orderedUnits: number;
  orderedRevenue: number;
}

export interface HourSales {
  hourStartMs: number;
  hourEndMs: number;
  orderedUnits: number;
  orderedRevenue: number;
}

export interface SalesSummary {
  sinceMs: number;
  untilMs: number | null;
  /** Marketplaces of the buckets read; revenue adds up across them as plain numbers. */
  marketplaceIds: string[];
  orderedUnits: number;
  orderedRevenue: number;
  /** Distinct ASINs and hours with a bucket. */
  asins: number;
  hours: number;
  /** Best sellers by revenue, then units. */
  top: AsinSales[];
  /** The latest hour with data, or null when there is none. */
  lastHour: HourSales | null;
}

export interface StoredSalesBucket extends SalesRow {
  marketplaceId: string;
}

/**
 * Totals, best sellers and the latest hour of the buckets given. Buckets are net sales, so a
 * negative one (cancellations exceeding orders) takes units and revenue down, a zero one counts
 * as an hour with data, and the totals are the plain sums of what is stored.
 */
export function summarizeSales(
  buckets: readonly StoredSalesBucket[],
  options: { sinceMs: number; untilMs?: number; top?: number },
): SalesSummary {
  const perAsin = new Map<string, AsinSales>();
  const perHour = new Map<number, HourSales>();
  const marketplaces = new Set<string>();
  let units = 0;
  let revenue = 0;
  for (const b of buckets) {
    marketplaces.add(b.marketplaceId);
    units += b.orderedUnits;
    revenue += b.orderedRevenue;
    const asin = perAsin.get(b.asin) ?? { asin: b.asin, orderedUnits: 0, orderedRevenue: 0 };
    asin.orderedUnits += b.orderedUnits;
    asin.orderedRevenue += b.orderedRevenue;
    perAsin.set(b.asin, asin);
    const hour = perHour.get(b.hourStartMs) ?? {
      hourStartMs: b.hourStartMs,
      hourEndMs: b.hourEndMs,
      orderedUnits: 0,
      orderedRevenue: 0,
    };
    hour.orderedUnits += b.orderedUnits;
    hour.orderedRevenue += b.orderedRevenue;
    perHour.set(b.hourStartMs, hour);
  }
  const top = [...perAsin.values()]
    .map((a) => ({ ...a, orderedRevenue: roundMoney(a.orderedRevenue) }))
    .sort(
      (a, b) =>
        b.orderedRevenue - a.orderedRevenue ||
        b.orderedUnits - a.orderedUnits ||
        a.asin.localeCompare(b.asin),
    )
    .slice(0, options.top ?? 10);
  const latest = [...perHour.values()].sort((a, b) => b.hourStartMs - a.hourStartMs)[0];
  return {
    sinceMs: options.sinceMs,
    untilMs: options.untilMs ?? null,
    marketplaceIds: [...marketplaces].sort(),
    orderedUnits: units,
    orderedRevenue: roundMoney(revenue),
    asins: perAsin.size,
    hours: perHour.size,
    top,
    lastHour: latest ? { ...latest, orderedRevenue: roundMoney(latest.orderedRevenue) } : null,
  };
}
