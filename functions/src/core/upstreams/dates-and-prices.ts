/**
 * One cell of a price history read: a date in the formats shops write (as YYYY-MM-DD) and a
 * price with the confidence it was read with (lower when its separators are ambiguous). Pure.
 */

/** An ambiguous price (`1,299`: thousands or decimals?) is read with this confidence. */
export const AMBIGUOUS_PRICE_CONFIDENCE = 0.6;

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

function ymd(y: number, m: number, d: number): string | null {
  if (!(m >= 1 && m <= 12 && d >= 1 && d <= 31 && y >= 1900 && y <= 2999)) return null;
  const at = new Date(Date.UTC(y, m - 1, d));
  if (at.getUTCMonth() !== m - 1 || at.getUTCDate() !== d) return null;
  return at.toISOString().slice(0, 10);
}

/**
 * A date as YYYY-MM-DD: ISO dates and date-times, `YYYY/MM/DD`, day-first `DD/MM/YYYY` (as
 * South African sites write them; month-first only when the day-first reading is impossible),
 * `15 Mar 2026` and `Mar 15, 2026`. Null when it is none of these.
 */
export function parseDate(raw: string): string | null {
  const text = raw.trim();
  let m = /^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T\s].*)?$/.exec(text);
  if (m) return ymd(Number(m[1]), Number(m[2]), Number(m[3]));
  m = /^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$/.exec(text);
  if (m) {
    const [a, b, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
    return ymd(y, b, a) ?? ymd(y, a, b);
  }
  m = /^(\d{1,2})[\s-]+([a-z]{3})[a-z]*\.?[\s-]+(\d{4})$/i.exec(text);
  if (m) {
    const month = MONTHS.indexOf(m[2]!.toLowerCase());
    return month < 0 ? null : ymd(Number(m[3]), month + 1, Number(m[1]));
  }
  m = /^([a-z]{3})[a-z]*\.?\s+(\d{1,2}),?\s+(\d{4})$/i.exec(text);
  if (m) {
    const month = MONTHS.indexOf(m[1]!.toLowerCase());
    return month < 0 ? null : ymd(Number(m[3]), month + 1, Number(m[2]));
  }
  return null;
}

const NO_PRICE = /^(|-|--|—|n\/?a|null|none|nan|unavailable|out of stock)$/i;

/**
 * A price in any of the ways shops write them: `1299.00`, `R 1 299,00`, `R1,299.00`,
 * `ZAR 1299`, `1.299,00`. A lone separator followed by exactly three digits (`1,299`) could be
 * a thousands separator or decimals: read as thousands, with lower confidence.
 */
export function parsePrice(raw: string): { price: number | null; confidence: number } {
  let text = raw.trim();
  if (NO_PRICE.test(text)) return { price: null, confidence: 0 };
  let negative = false;
  if (/^\(.*\)$/.test(text)) {
    negative = true;
    text = text.slice(1, -1).trim();
  }
  if (text.startsWith('-')) {
    negative = !negative;
    text = text.slice(1).trim();
  }
  text = text
    .replace(/^(?:R|ZAR|USD|EUR|GBP|\$|€|£)\s*/i, '')
    .replace(/\s*(?:R|ZAR|USD|EUR|GBP|\$|€|£)$/i, '');
  if (text.startsWith('-')) {
    negative = !negative;
    text = text.slice(1);
  }
  const compact = text.replace(/[\s\u00a0\u202f\u2009']/g, '');
  if (!/^\d[\d.,]*$/.test(compact) || /[.,]$/.test(compact)) return { price: null, confidence: 0 };
  const lastDot = compact.lastIndexOf('.');
  const lastComma = compact.lastIndexOf(',');
  let whole = compact;
  let fraction = '';
  let confidence = 1;
  if (lastDot >= 0 && lastComma >= 0) {
    const decimal = lastDot > lastComma ? '.' : ',';
    const at = Math.max(lastDot, lastComma);
    whole = compact.slice(0, at);
    fraction = compact.slice(at + 1);
    const thousands = decimal === '.' ? ',' : '.';
    if (whole.includes(decimal) || !validGrouping(whole, thousands)) {
      return { price: null, confidence: 0 };
    }
    whole = whole.split(thousands).join('');
  } else if (lastDot >= 0 || lastComma >= 0) {
    const sep = lastDot >= 0 ? '.' : ',';
    const parts = compact.split(sep);
    if (parts.length > 2) {
      // Repeated: only a thousands separator repeats.
      if (!validGrouping(compact, sep)) return { price: null, confidence: 0 };
      whole = parts.join('');
    } else if (parts[1]!.length === 3 && /^\d{1,3}$/.test(parts[0]!)) {
      whole = parts.join('');
      confidence = AMBIGUOUS_PRICE_CONFIDENCE;
    } else {
      whole = parts[0]!;
      fraction = parts[1]!;
    }
  }
  if (!/^\d+$/.test(whole) || !/^\d*$/.test(fraction)) return { price: null, confidence: 0 };
  const value = Number(fraction ? `${whole}.${fraction}` : whole);
  if (!Number.isFinite(value)) return { price: null, confidence: 0 };
  return { price: negative && value !== 0 ? -value : value, confidence };
}

/** `1,299,000`-style grouping: 1-3 digits, then groups of exactly 3. */
function validGrouping(text: string, separator: string): boolean {
  const groups = text.split(separator);
  return groups.length === 1
    ? /^\d+$/.test(text)
    : /^\d{1,3}$/.test(groups[0]!) && groups.slice(1).every((g) => /^\d{3}$/.test(g));
}
