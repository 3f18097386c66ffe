/**
 * Price-history CSVs in the manner of Buck.cheap parsed into dated price points with a
 * confidence per point and per product (the pages that link them: product-page.ts). Pure: no
 * I/O, no clock.
 *
 * Confidence means "how sure is the extractor that it read what the site meant", not "is the
 * price plausible": a clean `0.00` is read with confidence 1 and left for validation to flag.
 */

import { csvRecords, detectDelimiter } from './csv-records';
import { AMBIGUOUS_PRICE_CONFIDENCE, parseDate, parsePrice } from './dates-and-prices';

export interface PriceHistoryPoint {
  /** YYYY-MM-DD. */
  date: string;
  /** null: the row had a date but no readable price. */
  price: number | null;
  /** 1 when read without guessing, lower when the price format was ambiguous, 0 when unread. */
  confidence: number;
}

export interface PriceHistoryParse {
  /** One per row with a readable date, in file order. */
  points: PriceHistoryPoint[];
  /** Product-level extraction confidence, 0..1. */
  confidence: number;
  /** Data rows seen (blank lines and the header excluded). */
  rows: number;
  /** Rows whose date and price were read with confidence 1. */
  cleanRows: number;
  /** A date column and a price column were found and at least one dated point read. */
  usable: boolean;
  header: boolean;
  /** The price or date column had to be guessed among several candidates. */
  ambiguousColumns: boolean;
  /** What lowered the confidence; the first few problems, for logs. */
  issues: string[];
}

export interface ParseOptions {
  /** False when the CSV was found without the page linking it (a guessed URL). */
  linkFound?: boolean;
}

/** Multipliers of the product-level confidence. */
export const CONFIDENCE_PENALTIES = {
  missingLink: 0.5,
  ambiguousColumns: 0.8,
  noHeader: 0.9,
} as const;
const MAX_ISSUES = 10;

const normalise = (header: string) => header.toLowerCase().replace(/[^a-z]/g, '');
const DATE_HEADER = /date|day|time|when|datum/;
const PRICE_HEADER = /price|amount|value|cost|zar|rand|sellingprice|prijs/;

interface Columns {
  date: number;
  price: number;
  header: boolean;
  ambiguous: boolean;
}

function pick(candidates: number[], names: string[], exact: string[]) {
  const preferred = candidates.filter((i) => exact.includes(names[i]!));
  if (preferred.length === 1) return { index: preferred[0]!, ambiguous: false };
  return { index: candidates[0]!, ambiguous: candidates.length > 1 };
}

function findColumns(first: string[]): Columns | undefined {
  const names = first.map(normalise);
  const dates = names.flatMap((n, i) => (DATE_HEADER.test(n) ? [i] : []));
  const prices = names.flatMap((n, i) => (PRICE_HEADER.test(n) && !dates.includes(i) ? [i] : []));
  if (dates.length > 0 && prices.length > 0) {
    const date = pick(dates, names, ['date', 'day']);
    const price = pick(prices, names, ['price', 'pricezar', 'zar', 'amount']);
    return {
      date: date.index,
      price: price.index,
      header: true,
      ambiguous: date.ambiguous || price.ambiguous,
    };
  }
  if (dates.length > 0 && first.length === 2) {
    // `date,whatever`: the other column must be the price, but that is a guess.
    return { date: dates[0]!, price: dates[0] === 0 ? 1 : 0, header: true, ambiguous: true };
  }
  // No header: the first row is data if one cell is a date and another a price.
  const date = first.findIndex((cell) => parseDate(cell) !== null);
  if (date < 0) return undefined;
  const price = first.findIndex((cell, i) => i !== date && parsePrice(cell).price !== null);
  if (price < 0) return undefined;
  return { date, price, header: false, ambiguous: first.length > 2 };
}

/**
 * Price points from a price-history CSV: header variants (`date,price`, `Date,Price (ZAR)`,
 * or none), `,`/`;`/tab delimiters, quoted fields, currency symbols and thousands separators,
 * blank lines, a byte-order mark. A row with a date but no readable price becomes a point
 * with a null price and confidence 0; a row without a readable date is dropped (and counts
 * against the confidence). The product's confidence is the share of rows read cleanly, times
 * the penalties for a guessed CSV URL, guessed columns or a missing header.
 */
export function parsePriceHistoryCsv(text: string, options: ParseOptions = {}): PriceHistoryParse {
  const issues: string[] = [];
  const note = (issue: string) => {
    if (issues.length < MAX_ISSUES) issues.push(issue);
  };
  const body = text.replace(/^\uFEFF/, '');
  const delimiter = detectDelimiter(body);
  const records = csvRecords(body, delimiter).filter((r) => r.some((cell) => cell.trim() !== ''));
  const empty = (rows: number): PriceHistoryParse => ({
    points: [],
    confidence: 0,
    rows,
    cleanRows: 0,
    usable: false,
    header: false,
    ambiguousColumns: false,
    issues,
  });
  if (records.length === 0) {
    note('no rows');
    return empty(0);
  }
  const columns = findColumns(records[0]!);
  if (!columns) {
    note('no date and price columns');
    return empty(records.length);
  }
  if (columns.ambiguous) note('columns guessed');
  if (!columns.header) note('no header');
  const data = columns.header ? records.slice(1) : records;
  const width = columns.header ? records[0]!.length : undefined;
  const points: PriceHistoryPoint[] = [];
  let cleanRows = 0;
  data.forEach((cells, n) => {
    const line = n + (columns.header ? 2 : 1);
    const date = parseDate(cells[columns.date] ?? '');
    if (date === null) {
      note(`row ${line}: unreadable date "${(cells[columns.date] ?? '').slice(0, 30)}"`);
      return;
    }
    let raw = cells[columns.price] ?? '';
    let cap = 1;
    if (width !== undefined && cells.length > width) {
      // More cells than the header: `2026-01-01,1299,00` or `2026-01-01,1,299` (an unquoted
      // separator split the price), or a shifted row. Either way the reading is a guess.
      cap = AMBIGUOUS_PRICE_CONFIDENCE;
      if (delimiter === ',' && columns.price === width - 1) {
        raw = cells.slice(columns.price).join(',');
      }
    }
    const { price, confidence: read } = parsePrice(raw);
    const confidence = Math.min(read, cap);
    if (price === null) note(`row ${line}: unreadable price "${raw.slice(0, 30)}"`);
    else if (confidence < 1) note(`row ${line}: ambiguous price "${raw.slice(0, 30)}"`);
    if (confidence === 1) cleanRows++;
    points.push({ date, price, confidence });
  });
  const rows = data.length;
  let confidence = rows === 0 ? 0 : cleanRows / rows;
  if (options.linkFound === false) {
    note('CSV not linked from the page');
    confidence *= CONFIDENCE_PENALTIES.missingLink;
  }
  if (columns.ambiguous) confidence *= CONFIDENCE_PENALTIES.ambiguousColumns;
  if (!columns.header) confidence *= CONFIDENCE_PENALTIES.noHeader;
  return {
    points,
    confidence,
    rows,
    cleanRows,
    usable: points.length > 0,
    header: columns.header,
    ambiguousColumns: columns.ambiguous,
    issues,
  };
}

/** First and last date of the points, the range the history covers; undefined when empty. */
export function coveredRange(
  points: readonly { date: string }[],
): { from: string; to: string } | undefined {
  if (points.length === 0) return undefined;
  let from = points[0]!.date;
  let to = from;
  for (const { date } of points) {
    if (date < from) from = date;
    if (date > to) to = date;
  }
  return { from, to };
}
