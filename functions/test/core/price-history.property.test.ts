import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parsePrice } from '../../src/core/upstreams/dates-and-prices';
import { parsePriceHistoryCsv } from '../../src/core/upstreams/price-history';

const DAY = 86_400_000;
const START = Date.UTC(2015, 0, 1);

/** Distinct dates with prices in cents, as a site would publish them. */
const histories = fc
  .uniqueArray(fc.integer({ min: 0, max: 5_000 }), { minLength: 1, maxLength: 60 })
  .chain((days) =>
    fc.tuple(
      fc.constant(days.map((d) => new Date(START + d * DAY).toISOString().slice(0, 10))),
      fc.array(fc.integer({ min: 1, max: 99_999_999 }), {
        minLength: days.length,
        maxLength: days.length,
      }),
    ),
  )
  .map(([dates, cents]) => dates.map((date, i) => ({ date, price: cents[i]! / 100 })));

/** Ways of writing a price that are unambiguous. */
type Style = 'plain' | 'rands-space-comma' | 'rands-comma-dot' | 'zar';
function format(price: number, style: Style): string {
  const [whole, cents] = price.toFixed(2).split('.');
  const group = (sep: string) => whole!.replace(/\B(?=(\d{3})+(?!\d))/g, sep);
  switch (style) {
    case 'plain':
      return price.toFixed(2);
    case 'rands-space-comma':
      return `"R ${group(' ')},${cents}"`;
    case 'rands-comma-dot':
      return `"R${group(',')}.${cents}"`;
    case 'zar':
      return `ZAR ${group(' ')}.${cents}`;
  }
}

describe('price-history CSV properties', () => {
  it('a well-formed CSV of points round-trips with confidence 1', () => {
    fc.assert(
      fc.property(
        histories,
        fc.constantFrom<Style>('plain', 'rands-space-comma', 'rands-comma-dot', 'zar'),
        fc.constantFrom('date,price', 'Date,Price (ZAR)', '"date","price"', 'Day,Amount'),
        fc.constantFrom('\n', '\r\n'),
        fc.boolean(),
        (points, style, header, eol, blankLines) => {
          const rows = points.map((p) => `${p.date},${format(p.price, style)}`);
          const text = [header, ...rows].join(blankLines ? `${eol}${eol}` : eol) + eol;
          const parsed = parsePriceHistoryCsv(text);
          expect(parsed.points).toEqual(points.map((p) => ({ ...p, confidence: 1 })));
          expect(parsed.confidence).toBe(1);
          expect(parsed.cleanRows).toBe(points.length);
          expect(parsed.issues).toEqual([]);
        },
      ),
    );
  });

  it('the confidence is the share of clean rows and stays in 0..1', () => {
    fc.assert(
      fc.property(
        histories,
        fc.array(fc.string({ maxLength: 12 }), { maxLength: 20 }),
        fc.boolean(),
        (points, junk, linkFound) => {
          const rows = [
            ...points.map((p) => `${p.date},${p.price.toFixed(2)}`),
            ...junk.map((j) => `"${j.replace(/"/g, '""')}",x`),
          ];
          const parsed = parsePriceHistoryCsv(`date,price\n${rows.join('\n')}\n`, { linkFound });
          expect(parsed.confidence).toBeGreaterThanOrEqual(0);
          expect(parsed.confidence).toBeLessThanOrEqual(1);
          expect(parsed.cleanRows).toBe(points.length);
          const share = parsed.rows === 0 ? 0 : points.length / parsed.rows;
          expect(parsed.confidence).toBeCloseTo(share * (linkFound ? 1 : 0.5), 10);
        },
      ),
    );
  });

  it('never throws and never invents a price from text without digits', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        const parsed = parsePriceHistoryCsv(text);
        expect(parsed.confidence).toBeGreaterThanOrEqual(0);
        expect(parsed.confidence).toBeLessThanOrEqual(1);
        for (const p of parsed.points) expect(p.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (text) => {
        if (/\d/.test(text)) return;
        expect(parsePrice(text).price).toBeNull();
      }),
    );
  });
});
