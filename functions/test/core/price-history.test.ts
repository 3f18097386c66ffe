import { describe, expect, it } from 'vitest';
import { csvRecords } from '../../src/core/upstreams/csv-records';
import {
  AMBIGUOUS_PRICE_CONFIDENCE,
  parseDate,
  parsePrice,
} from '../../src/core/upstreams/dates-and-prices';
import {
  CONFIDENCE_PENALTIES,
  coveredRange,
  parsePriceHistoryCsv,
} from '../../src/core/upstreams/price-history';
import { findPriceHistoryLink } from '../../src/core/upstreams/product-page';

const PAGE = 'https://buck.example/takealot/product/PLID123';

describe('findPriceHistoryLink', () => {
  it('resolves root-relative, relative and absolute links against the page', () => {
    const page = (href: string) =>
      `<html><body><h1>Kettle</h1><a href="/">Home</a><a class="download" href="${href}">Download CSV</a></body></html>`;
    expect(
      findPriceHistoryLink(page('/takealot/product/PLID123/price-history.csv'), PAGE).csvUrl,
    ).toBe('https://buck.example/takealot/product/PLID123/price-history.csv');
    expect(findPriceHistoryLink(page('PLID123/price-history.csv'), PAGE).csvUrl).toBe(
      'https://buck.example/takealot/product/PLID123/price-history.csv',
    );
    expect(
      findPriceHistoryLink(page('https://buck.example/x/price-history.csv?v=2&amp;d=1'), PAGE)
        .csvUrl,
    ).toBe('https://buck.example/x/price-history.csv?v=2&d=1');
  });

  it("follows only links on the site's origin, counting the others", () => {
    // Any host a page names would be fetched through the proxy, and its 403 cool it down.
    for (const elsewhere of [
      'https://cdn.example/x/price-history.csv',
      'http://buck.example/takealot/product/PLID123/price-history.csv', // another scheme
      'https://buck.example:8443/price-history.csv', // another port
      '//evil.example/price-history.csv',
    ]) {
      const found = findPriceHistoryLink(
        `<a href="${elsewhere}" download>Price history (CSV)</a>`,
        PAGE,
      );
      expect(found.csvUrl, elsewhere).toBeNull();
      expect(found.skippedLinks).toEqual({ offOrigin: 1, malformed: 0 });
    }
    // A foreign link first, even scoring higher, loses to the site's own.
    const both = `<a href="https://cdn.example/price-history.csv" download>Price history CSV</a>
      <a href="/exports/history.csv">CSV</a>`;
    expect(findPriceHistoryLink(both, PAGE)).toMatchObject({
      csvUrl: 'https://buck.example/exports/history.csv',
      skippedLinks: { offOrigin: 1, malformed: 0 },
    });
    // The site's origin may be named: a page served elsewhere still links only the site.
    expect(
      findPriceHistoryLink('<a href="https://cdn.example/p.csv">CSV</a>', PAGE, {
        origin: 'https://cdn.example',
      }).csvUrl,
    ).toBe('https://cdn.example/p.csv');
    expect(
      findPriceHistoryLink(
        '<a href="http://[::1/price-history.csv">CSV</a><a href="http://a b/x.csv">x</a>',
        PAGE,
      ).skippedLinks,
    ).toEqual({ offOrigin: 0, malformed: 2 });
  });

  it('prefers the price-history CSV among several links, and reports none when there is none', () => {
    const html = `<a href="/terms.pdf">Terms</a>
      <a href='/exports/sales.csv'>Sales</a>
      <a href="/exports/price-history.csv" download>Price history (CSV)</a>
      <a href="javascript:void(0)">CSV</a>`;
    expect(findPriceHistoryLink(html, PAGE).csvUrl).toBe(
      'https://buck.example/exports/price-history.csv',
    );
    const export_ =
      '<a href="/export?id=1&amp;format=csv" title="Export price history as CSV">Export</a>';
    expect(findPriceHistoryLink(export_, PAGE).csvUrl).toBe(
      'https://buck.example/export?id=1&format=csv',
    );
    const none = findPriceHistoryLink(
      '<h1>Kettle</h1><p>Export unavailable.</p><a href="/">x</a>',
      PAGE,
    );
    expect(none.csvUrl).toBeNull();
    expect(none.title).toBe('Kettle');
  });

  it('reads the title and identifiers from data attributes, itemprops or labels', () => {
    const sandboxLike = `<!doctype html><html><head><title>Defy Kettle 1.7L | Buck.cheap</title></head><body>
      <h1 class="product-title">Defy Kettle 1.7L &amp; Cord</h1>
      <dl class="identifiers"><dt>PLID</dt><dd data-identifier="plid">PLID71000131</dd>
      <dt>Barcode</dt><dd data-identifier="barcode">6001234567890</dd></dl>
      <a href="PLID71000131/price-history.csv">Download price history (CSV)</a></body></html>`;
    expect(findPriceHistoryLink(sandboxLike, PAGE)).toEqual({
      csvUrl: 'https://buck.example/takealot/product/PLID71000131/price-history.csv',
      title: 'Defy Kettle 1.7L & Cord',
      identifiers: { plid: 'PLID71000131', barcode: '6001234567890' },
      skippedLinks: { offOrigin: 0, malformed: 0 },
    });
    const schemaOrg = `<head><meta property="og:title" content="Bosch Drill"></head>
      <span itemprop="sku">MK000400017</span><meta itemprop="gtin13" content="6009876543210">`;
    expect(findPriceHistoryLink(schemaOrg, PAGE)).toMatchObject({
      title: 'Bosch Drill',
      identifiers: { sku: 'MK000400017', barcode: '6009876543210' },
    });
    const labels = '<title>LG Fridge – Buck</title><p>PLID: 4455667</p><p>EAN 6001111111116</p>';
    expect(findPriceHistoryLink(labels, PAGE)).toMatchObject({
      title: 'LG Fridge',
      identifiers: { plid: 'PLID4455667', barcode: '6001111111116' },
    });
    expect(findPriceHistoryLink('<p>nothing</p>', PAGE)).toEqual({
      csvUrl: null,
      title: null,
      identifiers: {},
      skippedLinks: { offOrigin: 0, malformed: 0 },
    });
  });
});

describe('parsePrice', () => {
  it.each([
    ['1299.00', 1299],
    ['1299', 1299],
    ['R 1 299,00', 1299],
    ['R1,299.00', 1299],
    ['R\u00a01\u00a0299,50', 1299.5],
    ['ZAR 15 999.99', 15999.99],
    ['1.299.000,00', 1299000],
    ['1,299,000', 1299000],
    ['12,99', 12.99],
    ['R0.00', 0],
    ['-5.00', -5],
    ['R -5', -5],
    ['$ 19.95', 19.95],
  ])('%s -> %d, cleanly', (raw, price) => {
    expect(parsePrice(raw)).toEqual({ price, confidence: 1 });
  });

  it('reads a lone three-digit group as thousands, with lower confidence', () => {
    expect(parsePrice('1,299')).toEqual({ price: 1299, confidence: AMBIGUOUS_PRICE_CONFIDENCE });
    expect(parsePrice('R 1.299')).toEqual({ price: 1299, confidence: AMBIGUOUS_PRICE_CONFIDENCE });
  });

  it.each([
    '',
    '-',
    'N/A',
    'abc',
    '12,99,1',
    '1,2,3',
    '1..2',
    '1.299,00.5',
    'R',
    '12.',
    '<b>1</b>',
  ])('%j is no price', (raw) => {
    expect(parsePrice(raw)).toEqual({ price: null, confidence: 0 });
  });
});

describe('parseDate', () => {
  it.each([
    ['2026-03-15', '2026-03-15'],
    ['2026-3-5', '2026-03-05'],
    ['2026/03/15', '2026-03-15'],
    ['2026-03-15T23:59:59Z', '2026-03-15'],
    ['2026-03-15 08:00', '2026-03-15'],
    ['15/03/2026', '2026-03-15'],
    ['05/03/2026', '2026-03-05'],
    ['03/15/2026', '2026-03-15'],
    ['15 Mar 2026', '2026-03-15'],
    ['15 March 2026', '2026-03-15'],
    ['Mar 15, 2026', '2026-03-15'],
  ])('%s -> %s', (raw, date) => {
    expect(parseDate(raw)).toBe(date);
  });

  it.each(['2026-02-30', '2026-13-01', '32/01/2026', 'yesterday', '', '15 Foo 2026', '20260315'])(
    '%j is no date',
    (raw) => {
      expect(parseDate(raw)).toBeNull();
    },
  );
});

describe('csvRecords', () => {
  it('handles quotes, doubled quotes, delimiters and newlines inside quotes, CRLF', () => {
    expect(csvRecords('a,"b,c","say ""hi"""\r\n"multi\nline",2\n')).toEqual([
      ['a', 'b,c', 'say "hi"'],
      ['multi\nline', '2'],
    ]);
    expect(csvRecords('x;y', ';')).toEqual([['x', 'y']]);
  });
});

describe('parsePriceHistoryCsv', () => {
  it('reads the sandbox takealot format with confidence 1', () => {
    const r = parsePriceHistoryCsv('date,price\n2026-03-01,1299.00\n2026-03-02,1199.00\n');
    expect(r).toMatchObject({
      points: [
        { date: '2026-03-01', price: 1299, confidence: 1 },
        { date: '2026-03-02', price: 1199, confidence: 1 },
      ],
      confidence: 1,
      rows: 2,
      cleanRows: 2,
      usable: true,
      header: true,
      ambiguousColumns: false,
      issues: [],
    });
  });

  it('tolerates header variants, quoting, currencies, blank lines, a BOM and semicolons', () => {
    const makro =
      '\uFEFFDate,Price (ZAR)\r\n2026-03-01,"R1,299.00"\r\n\r\n2026-03-02,"R 1 199,00"\r\n';
    expect(parsePriceHistoryCsv(makro)).toMatchObject({
      points: [
        { date: '2026-03-01', price: 1299 },
        { date: '2026-03-02', price: 1199 },
      ],
      confidence: 1,
    });
    const semicolons = 'Datum;Prijs\n01/03/2026;R 1 299,00\n02/03/2026;R 1 199,00\n';
    expect(parsePriceHistoryCsv(semicolons).points).toEqual([
      { date: '2026-03-01', price: 1299, confidence: 1 },
      { date: '2026-03-02', price: 1199, confidence: 1 },
    ]);
    const extraColumns = 'product,day,list price,price\nX,2026-03-01,1500,1299\n';
    expect(parsePriceHistoryCsv(extraColumns)).toMatchObject({
      points: [{ date: '2026-03-01', price: 1299, confidence: 1 }],
      confidence: 1,
      ambiguousColumns: false,
    });
  });

  it('counts unreadable rows against the confidence and keeps dated rows without a price', () => {
    const r = parsePriceHistoryCsv(
      'date,price\n2026-03-01,1299.00\nnot a date,1.00\n2026-03-03,n/a\n2026-03-04,1,299\n',
    );
    expect(r.points).toEqual([
      { date: '2026-03-01', price: 1299, confidence: 1 },
      { date: '2026-03-03', price: null, confidence: 0 },
      { date: '2026-03-04', price: 1299, confidence: AMBIGUOUS_PRICE_CONFIDENCE },
    ]);
    expect(r).toMatchObject({ rows: 4, cleanRows: 1, confidence: 0.25, usable: true });
    expect(r.issues).toHaveLength(3);
  });

  it('joins a price split by an unquoted separator, as a guess', () => {
    const r = parsePriceHistoryCsv('date,price\n2026-03-01,1299,00\n2026-03-02,"1299,00"\n');
    expect(r.points).toEqual([
      { date: '2026-03-01', price: 1299, confidence: AMBIGUOUS_PRICE_CONFIDENCE },
      { date: '2026-03-02', price: 1299, confidence: 1 },
    ]);
    // A row wider than the header with the price not last: shifted, so not trusted either.
    const shifted = parsePriceHistoryCsv('price,date\n1299,2026-03-01\n1,299,2026-03-02\n');
    expect(shifted.points).toEqual([{ date: '2026-03-01', price: 1299, confidence: 1 }]);
    expect(shifted.rows).toBe(2);
  });

  it('penalises a guessed link, guessed columns and a missing header', () => {
    const clean = 'date,price\n2026-03-01,10.00\n';
    expect(parsePriceHistoryCsv(clean, { linkFound: false }).confidence).toBe(
      CONFIDENCE_PENALTIES.missingLink,
    );
    const guessed = parsePriceHistoryCsv('date,old price,new price\n2026-03-01,12,10\n');
    expect(guessed).toMatchObject({
      ambiguousColumns: true,
      confidence: CONFIDENCE_PENALTIES.ambiguousColumns,
    });
    expect(guessed.points[0]!.price).toBe(12);
    const twoColumns = parsePriceHistoryCsv('date,whatever\n2026-03-01,10\n');
    expect(twoColumns).toMatchObject({ ambiguousColumns: true, points: [{ price: 10 }] });
    const headless = parsePriceHistoryCsv('2026-03-01,10.00\n2026-03-02,11.00\n');
    expect(headless).toMatchObject({ header: false, confidence: CONFIDENCE_PENALTIES.noHeader });
    expect(headless.points).toHaveLength(2);
  });

  it('finds nothing usable in garbage, HTML or an empty file', () => {
    for (const text of [
      '',
      '\n\n',
      '\u0000\u0007PK\u0003\u0004<<binary>>;;;\nlorem ipsum,,,\n\u00ff\u00fe',
      '<!doctype html><html><body><h1>Access denied</h1></body></html>',
      'date,price\n',
      'date,price\nyesterday,12\n',
    ]) {
      const r = parsePriceHistoryCsv(text);
      expect(r.usable, JSON.stringify(text)).toBe(false);
      expect(r.confidence).toBe(0);
      expect(r.points).toEqual([]);
    }
  });

  it('keeps clean non-positive prices for validation to flag', () => {
    const r = parsePriceHistoryCsv('date,price\n2026-03-01,0.00\n2026-03-02,-1\n');
    expect(r.points.map((p) => p.price)).toEqual([0, -1]);
    expect(r.confidence).toBe(1);
  });
});

describe('coveredRange', () => {
  it('spans the earliest to the latest date, whatever the order', () => {
    expect(
      coveredRange([{ date: '2026-03-05' }, { date: '2026-03-01' }, { date: '2026-03-09' }]),
    ).toEqual({
      from: '2026-03-01',
      to: '2026-03-09',
    });
    expect(coveredRange([])).toBeUndefined();
  });
});
