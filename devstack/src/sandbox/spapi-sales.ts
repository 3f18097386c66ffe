import { seededRandom } from './shared.ts';

/**
 * The sales the sandbox reports: the ASINs that sell, and each one's row per hour, deterministic
 * from (seed, ASIN, hour).
 */

const HOUR = 3_600_000;

/** The ASINs that sell in this sandbox: `B0` and eight letters or digits. */
export function sandboxAsins(seed: string | number = '', count = 6): string[] {
  const r = seededRandom(`asins:${seed}`);
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const out = new Set<string>();
  while (out.size < count) {
    let asin = 'B0';
    for (let i = 0; i < 8; i++) asin += alphabet[Math.floor(r() * alphabet.length)];
    out.add(asin);
  }
  return [...out];
}

export interface SalesRowJson {
  startTime: string;
  endTime: string;
  asin: string;
  orderedUnits: number;
  orderedRevenue: number;
}

export const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * Each ASIN's hours come in cycles of this many: in each, one hour where cancellations exceed
 * orders (negative units and revenue) and one where nothing sold (a zero row), at a phase of
 * the ASIN's own. So any 8 whole hours hold both for every ASIN.
 */
export const SANDBOX_SALES_CYCLE_HOURS = 8;

/**
 * One ASIN's sales in one hour, as GET_VENDOR_REAL_TIME_SALES_REPORT writes them
 * (vendorRealTimeSalesReport.json, `reportData`): busier in the (UTC) afternoon; an hour with
 * no sales is a zero row, as in the schema's example; once every SANDBOX_SALES_CYCLE_HOURS
 * hours cancellations exceed orders and the row is negative ("This number can be negative if
 * there are more cancellations than orders"), with revenue adjusted likewise.
 */
export function sandboxSalesRow(
  seed: string | number,
  asin: string,
  hourStartMs: number,
): SalesRowJson {
  const profile = seededRandom(`${seed}:${asin}`);
  const perHour = 0.5 + profile() * 6;
  const priceCents = 999 + Math.floor(profile() * 15_000);
  const phase = Math.floor(profile() * SANDBOX_SALES_CYCLE_HOURS);
  const hourOfDay = new Date(hourStartMs).getUTCHours();
  const daily = 0.35 + 0.65 * Math.max(0, Math.sin(((hourOfDay - 6) / 24) * 2 * Math.PI));
  const draw = seededRandom(`${seed}:${asin}:${hourStartMs}`);
  const slot = (Math.floor(hourStartMs / HOUR) + phase) % SANDBOX_SALES_CYCLE_HOURS;
  const units =
    slot === 0
      ? -(1 + Math.floor(draw() * 3)) // cancellations of earlier orders exceed this hour's
      : slot === SANDBOX_SALES_CYCLE_HOURS / 2
        ? 0
        : Math.floor(draw() * 2 * perHour * daily);
  return {
    startTime: isoSeconds(hourStartMs),
    endTime: isoSeconds(hourStartMs + HOUR),
    asin,
    orderedUnits: units,
    // units * priceCents is a whole number of cents: exact, and never -0.
    orderedRevenue: units === 0 ? 0 : (units * priceCents) / 100,
  };
}

/** Rows of the whole hours inside [startMs, endMs) that had ended by `asOfMs`. */
export function sandboxSalesRows(
  seed: string | number,
  asins: readonly string[],
  startMs: number,
  endMs: number,
  asOfMs: number,
): SalesRowJson[] {
  const rows: SalesRowJson[] = [];
  const last = Math.min(endMs, asOfMs);
  for (let h = Math.ceil(startMs / HOUR) * HOUR; h + HOUR <= last; h += HOUR) {
    for (const asin of asins) rows.push(sandboxSalesRow(seed, asin, h));
  }
  return rows;
}
