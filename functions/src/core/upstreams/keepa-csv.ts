/**
 * Keepa's time (minutes since its epoch) and its price histories (flat `csv` arrays) read as
 * daily price points; a product's current price and sales rank, and the default peek filter.
 */

/** Keepa time is minutes since 2011-01-01T00:00Z; this is that instant in Unix minutes. */
export const KEEPA_EPOCH_MINUTES = 21_564_000;
const MINUTE_MS = 60_000;

export function keepaMinuteToMs(keepaMinute: number): number {
  return (keepaMinute + KEEPA_EPOCH_MINUTES) * MINUTE_MS;
}

export function msToKeepaMinute(ms: number): number {
  return Math.floor(ms / MINUTE_MS) - KEEPA_EPOCH_MINUTES;
}

/** Indexes of a product's `csv` histories and of `stats.current` (Keepa's CsvType). */
export const KeepaCsvType = {
  AMAZON: 0,
  NEW: 1,
  USED: 2,
  SALES: 3,
  LIST_PRICE: 4,
  COLLECTIBLE: 5,
  REFURBISHED: 6,
  NEW_FBM_SHIPPING: 7,
  LIGHTNING_DEAL: 8,
  WAREHOUSE: 9,
  NEW_FBA: 10,
  COUNT_NEW: 11,
  COUNT_USED: 12,
  RATING: 16,
  COUNT_REVIEWS: 17,
  BUY_BOX_SHIPPING: 18,
} as const;

/** Histories stored as [time, price, shipping] triples rather than [time, price] pairs. */
const WITH_SHIPPING = new Set([7, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 32]);

/** Whether a csv type's history is [time, price, shipping] triples. */
export function keepaHasShipping(csvType: number): boolean {
  return WITH_SHIPPING.has(csvType);
}
/** One point of a product's price history as the products repository stores it. */
export interface KeepaPricePoint {
  /** ISO date (UTC day), `2026-01-31`. */
  date: string;
  /** In currency units (19.99); null: no offer / no data at that time (Keepa's -1). */
  price: number | null;
}

/** A Keepa price (smallest currency unit, negative = none) in currency units, or null. */
export function keepaPrice(value: number | null | undefined, divisor = 100): number | null {
  if (value == null || !Number.isFinite(value) || value < 0) return null;
  return value / divisor;
}

export function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export interface KeepaHistoryOptions {
  /** Smallest currency units per unit (100; 1 for yen). See `KeepaDomain.divisor`. */
  divisor?: number;
  /** The history is [time, price, shipping] triples; the point is price plus shipping. */
  withShipping?: boolean;
}

/**
 * A Keepa csv history (`[keepaMinute, price, keepaMinute, price, ...]`, -1 = no offer) as
 * daily price points, oldest first. Keepa records every change, so a day can have several
 * entries: the day's last one wins (the price the day closed at, which is what a daily
 * history would have recorded). A trailing incomplete entry is ignored; entries with a time
 * that is not a number are skipped.
 */
export function keepaPriceHistory(
  series: readonly number[] | null | undefined,
  options: KeepaHistoryOptions = {},
): KeepaPricePoint[] {
  if (!series) return [];
  const divisor = options.divisor ?? 100;
  const stride = options.withShipping ? 3 : 2;
  const entries: Array<{ atMs: number; price: number | null }> = [];
  for (let i = 0; i + stride <= series.length; i += stride) {
    const minute = series[i];
    if (minute === undefined || !Number.isFinite(minute)) continue;
    let cents = series[i + 1];
    if (options.withShipping && cents !== undefined && cents >= 0) {
      const shipping = series[i + 2];
      if (shipping !== undefined && shipping > 0) cents += shipping;
    }
    entries.push({ atMs: keepaMinuteToMs(minute), price: keepaPrice(cents, divisor) });
  }
  // Keepa sends histories oldest first; sort anyway (stable), so the last of a day wins.
  entries.sort((a, b) => a.atMs - b.atMs);
  const byDay = new Map<string, number | null>();
  for (const entry of entries) byDay.set(isoDate(entry.atMs), entry.price);
  return [...byDay].map(([date, price]) => ({ date, price }));
}

/** The csv history of one type from a product's `csv` (null entries are absent types). */
export function keepaTypeHistory(
  csv: ReadonlyArray<readonly number[] | null | undefined> | null | undefined,
  csvType: number,
  divisor = 100,
): KeepaPricePoint[] {
  return keepaPriceHistory(csv?.[csvType], { divisor, withShipping: keepaHasShipping(csvType) });
}

/** A current value from `stats.current` (or a deal's `current`) as a price, or null. */
export function keepaCurrentPrice(
  current: readonly number[] | null | undefined,
  csvType: number,
  divisor = 100,
): number | null {
  return keepaPrice(current?.[csvType], divisor);
}

/** The sales rank from `stats.current`, or null when Keepa has none (-1). */
export function keepaSalesRank(current: readonly number[] | null | undefined): number | null {
  const rank = current?.[KeepaCsvType.SALES];
  return rank == null || rank < 0 ? null : rank;
}

export interface KeepaPeekFilterOptions {
  /** The price that must exist (a csv type index; NEW by default). */
  priceType?: number;
  /** Products ranked at or above this (or without a rank) are rejected. 100 000 by default. */
  maxSalesRank?: number;
}

/** What the peek filter sees of a product: its asin and `stats.current`. */
export interface KeepaPeekProduct {
  asin: string;
  stats?: { current?: readonly number[] | null } | null;
}

/** The default peek filter: a current price of `priceType` and a sales rank below the bound. */
export function keepaPeekFilter(
  options: KeepaPeekFilterOptions = {},
): (product: KeepaPeekProduct) => boolean {
  const priceType = options.priceType ?? KeepaCsvType.NEW;
  const maxSalesRank = options.maxSalesRank ?? 100_000;
  return (product) => {
    const current = product.stats?.current;
    if (keepaCurrentPrice(current, priceType) === null) return false;
    const rank = keepaSalesRank(current);
    return rank !== null && rank < maxSalesRank;
  };
}
