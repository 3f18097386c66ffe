import { afterEach, describe, expect, it } from 'vitest';
import { startPriceSiteSandbox } from '../../src/sandbox/price-site.ts';
import {
  GAP_DAYS,
  JUMP_FACTOR,
  sandboxDefect,
  sandboxPriceProduct,
} from '../../src/sandbox/price-site-catalogue.ts';
import {
  PRICE_SITE_DEFECTS,
  type PriceSiteDefect,
  type PriceSiteOptions,
  type PriceSiteSandbox,
} from '../../src/sandbox/price-site-types.ts';

let site: PriceSiteSandbox | undefined;
const NOW = Date.UTC(2026, 2, 15, 9, 30);

afterEach(async () => {
  await site?.stop();
  site = undefined;
});

async function start(o: PriceSiteOptions = {}) {
  site = await startPriceSiteSandbox({ now: () => NOW, seed: 'test', ...o });
  return site;
}

async function get(path: string) {
  const res = await fetch(`${site!.url}${path}`);
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const hrefs = (html: string, pattern: RegExp) =>
  [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!).filter((h) => pattern.test(h));

function csvRows(text: string) {
  return text
    .trim()
    .split(/\r?\n/)
    .slice(1)
    .map((line) => {
      const comma = line.indexOf(',');
      return { date: line.slice(0, comma), price: line.slice(comma + 1) };
    });
}

const DAY = 86_400_000;

describe('price-site sandbox', () => {
  it('lists a finite catalogue page by page', async () => {
    await start();
    const first = await get('/takealot/products?page=1');
    expect(first.status).toBe(200);
    const links = hrefs(first.text, /\/takealot\/product\//);
    expect(links).toHaveLength(50);
    expect(links[0]).toBe(`/takealot/product/${site!.productIds('takealot')[0]}`);
    expect(first.text).toContain('rel="next" href="/takealot/products?page=2"');

    const last = await get('/takealot/products?page=20');
    expect(hrefs(last.text, /\/takealot\/product\//)).toHaveLength(50);
    expect(last.text).not.toContain('rel="next"');
    const past = await get('/takealot/products?page=21');
    expect(past.status).toBe(200);
    expect(hrefs(past.text, /\/product\//)).toHaveLength(0);
    expect(past.text).toContain('No more products');

    const makro = await get('/makro/products?page=10');
    expect(hrefs(makro.text, /\/makro\/product\/MK/)).toHaveLength(50);
    expect(makro.text).not.toContain('rel="next"');
    expect(site!.productIds('takealot')).toHaveLength(1000);
    expect(site!.productIds('makro')).toHaveLength(500);
    expect(new Set(site!.productIds('takealot')).size).toBe(1000);

    expect((await get('/takealot/products?page=0')).status).toBe(400);
    expect((await get('/amazon/products?page=1')).status).toBe(404);
  });

  it('serves product pages with title, identifiers and a CSV link that resolves', async () => {
    await start({ defectRate: 0 });
    const styles = new Set<string>();
    for (const id of site!.productIds('takealot').slice(0, 12)) {
      const pageUrl = `${site!.url}/takealot/product/${id}`;
      const r = await get(`/takealot/product/${id}`);
      expect(r.status).toBe(200);
      const product = site!.product('takealot', id)!;
      expect(r.text).toContain(
        `<h1 class="product-title">${product.title.replace(/"/g, '&quot;')}</h1>`,
      );
      expect(r.text).toContain(`data-identifier="plid">${id}<`);
      expect(product.identifiers.barcode).toMatch(/^600\d{10}$/);
      expect(r.text).toContain(`data-identifier="barcode">${product.identifiers.barcode}<`);
      const [href] = hrefs(r.text, /\.csv$/);
      expect(href).toBeDefined();
      styles.add(
        href!.startsWith('http') ? 'absolute' : href!.startsWith('/') ? 'root' : 'relative',
      );
      const csvUrl = new URL(href!, pageUrl);
      expect(csvUrl.pathname).toBe(`/takealot/product/${id}/price-history.csv`);
      const csv = await fetch(csvUrl);
      expect(csv.status).toBe(200);
      expect(csv.headers.get('content-type')).toContain('text/csv');
    }
    // All three ways of writing the link occur.
    expect(styles).toEqual(new Set(['absolute', 'root', 'relative']));
    const makroId = site!.productIds('makro')[3]!;
    const makro = await get(`/makro/product/${makroId}`);
    expect(makro.text).toContain(`data-identifier="sku">${makroId}<`);
    expect((await get('/takealot/product/PLID1')).status).toBe(404);
    expect((await get('/takealot/product/PLID1/price-history.csv')).status).toBe(404);
  });

  it('writes daily, realistic, deterministic histories ending today', async () => {
    await start({ defectRate: 0, historyDays: 90 });
    const id = site!.productIds('takealot')[7]!;
    const a = await get(`/takealot/product/${id}/price-history.csv`);
    expect(a.text.startsWith('date,price\n')).toBe(true);
    const rows = csvRows(a.text);
    expect(rows).toHaveLength(90);
    expect(rows[89]!.date).toBe('2026-03-15');
    expect(rows[0]!.date).toBe('2025-12-16');
    for (let i = 1; i < rows.length; i++) {
      expect(Date.parse(rows[i]!.date) - Date.parse(rows[i - 1]!.date)).toBe(DAY);
    }
    const prices = rows.map((r) => Number(r.price));
    for (const r of rows) expect(r.price).toMatch(/^\d+\.00$/);
    expect(Math.min(...prices)).toBeGreaterThan(0);
    expect(Math.max(...prices) / Math.min(...prices)).toBeLessThan(1.5);
    expect(await get(`/takealot/product/${id}/price-history.csv`)).toMatchObject({ text: a.text });

    // Same seed, same data from another server; another seed, other prices.
    const same = sandboxPriceProduct('takealot', id, NOW, { seed: 'test', defectRate: 0 });
    expect(same.points.map((p) => p.price)).toEqual(prices);
    const other = sandboxPriceProduct('takealot', id, NOW, { seed: 'other', defectRate: 0 });
    expect(other.points.map((p) => p.price)).not.toEqual(prices);

    const makroId = site!.productIds('makro')[0]!;
    const makro = await get(`/makro/product/${makroId}/price-history.csv`);
    expect(makro.text.startsWith('Date,Price (ZAR)\r\n')).toBe(true);
    expect(makro.text.split('\r\n')[1]).toMatch(/^\d{4}-\d{2}-\d{2},"R\d{1,3}(,\d{3})*\.00"$/);
  });

  it('puts each defect in a known small fraction of products, where sandboxDefect says', async () => {
    await start();
    const found = new Map<PriceSiteDefect, string[]>();
    let defective = 0;
    const ids = site!.productIds('takealot');
    for (const id of ids) {
      const defect = sandboxDefect('test', 'takealot', id);
      expect(site!.product('takealot', id)!.defect).toBe(defect);
      if (!defect) continue;
      defective++;
      found.set(defect, [...(found.get(defect) ?? []), id]);
    }
    expect(defective / ids.length).toBeGreaterThan(0.02);
    expect(defective / ids.length).toBeLessThan(0.08);
    expect([...found.keys()].sort()).toEqual([...PRICE_SITE_DEFECTS].sort());

    const first = (d: PriceSiteDefect) => found.get(d)![0]!;
    const page = (id: string) => get(`/takealot/product/${id}`);
    const rowsOf = async (id: string) =>
      csvRows((await get(`/takealot/product/${id}/price-history.csv`)).text);

    const noLink = await page(first('missing-link'));
    expect(hrefs(noLink.text, /\.csv$/)).toHaveLength(0);
    expect(await rowsOf(first('missing-link'))).toHaveLength(90);

    const gapRows = await rowsOf(first('date-gap'));
    expect(gapRows).toHaveLength(90 - GAP_DAYS);
    const steps = gapRows
      .slice(1)
      .map((r, i) => (Date.parse(r.date) - Date.parse(gapRows[i]!.date)) / DAY);
    expect(steps.filter((s) => s !== 1)).toEqual([GAP_DAYS + 1]);

    const zero = await rowsOf(first('non-positive-price'));
    expect(zero.filter((r) => Number(r.price) <= 0)).toHaveLength(1);

    const jump = (await rowsOf(first('price-jump'))).map((r) => Number(r.price));
    const ratios = jump.slice(1).map((p, i) => Math.max(p / jump[i]!, jump[i]! / p));
    expect(ratios.filter((r) => r > 5)).toHaveLength(2);
    expect(Math.max(...jump)).toBeGreaterThanOrEqual(JUMP_FACTOR * Math.min(...jump) * 0.5);

    const noBarcode = await page(first('missing-barcode'));
    expect(noBarcode.text).not.toContain('data-identifier="barcode"');
    expect(noBarcode.text).toContain('data-identifier="plid"');

    // A healthy product has none of these.
    const healthy = ids.find((id) => sandboxDefect('test', 'takealot', id) === null)!;
    expect(hrefs((await page(healthy)).text, /\.csv$/)).toHaveLength(1);
  });

  it('misbehaves on demand and counts requests', async () => {
    const slept: number[] = [];
    await start({
      defectRate: 0,
      retryAfterSeconds: 90,
      slowMs: 1_500,
      sleep: async (ms) => {
        slept.push(ms);
      },
    });
    const id = site!.productIds('takealot')[0]!;
    site!.misbehave('429');
    const r429 = await get(`/takealot/product/${id}`);
    expect(r429.status).toBe(429);
    expect(r429.headers.get('retry-after')).toBe('90');

    site!.misbehave('5xx');
    expect((await get('/takealot/products?page=1')).status).toBe(503);

    site!.misbehave('block');
    const blocked = await get(`/takealot/product/${id}/price-history.csv`);
    expect(blocked.status).toBe(403);
    expect(blocked.text).toContain('verify you are a human');

    site!.misbehave('malformed');
    const page = await get(`/takealot/product/${id}`);
    expect(page.status).toBe(200);
    expect(hrefs(page.text, /\.csv$/)).toHaveLength(0);
    const csv = await get(`/takealot/product/${id}/price-history.csv`);
    expect(csv.status).toBe(200);
    expect(csv.text).not.toMatch(/\d{4}-\d{2}-\d{2}/);
    const listing = await get('/takealot/products?page=1');
    expect(hrefs(listing.text, /\/product\//)).toHaveLength(0);
    expect(listing.text).not.toContain('No more products');

    site!.misbehave('slow');
    expect((await get(`/takealot/product/${id}`)).status).toBe(200);
    expect(slept).toEqual([1_500]);

    site!.misbehave('none');
    expect((await get(`/takealot/product/${id}`)).status).toBe(200);
    expect(site!.state()).toEqual({
      mode: 'none',
      requests: 8,
      byKind: { listing: 2, product: 4, csv: 2, other: 0 },
      byStatus: { 200: 5, 403: 1, 429: 1, 503: 1 },
    });
  });

  it('answers hostile on demand: huge pages, gzip bombs, hostile markup, a far Retry-After', async () => {
    const MIB = 1024 * 1024;
    await start({
      defectRate: 0,
      hugeBytes: 3 * MIB,
      hostileHtmlBytes: 64 * 1024,
      foreignOrigin: 'http://127.0.0.1:1',
    });
    const id = site!.productIds('takealot')[0]!;
    site!.misbehave('far-retry-after');
    const far = await get(`/takealot/product/${id}`);
    expect(far.status).toBe(429);
    expect(far.headers.get('retry-after')).toBe('9999999999');

    site!.misbehave('huge');
    const huge = await get(`/takealot/product/${id}/price-history.csv`);
    expect(huge.headers.get('content-length')).toBeNull();
    expect(huge.text.length).toBe(3 * MIB);

    site!.misbehave('bomb');
    const bomb = await get('/takealot/products?page=1');
    expect(Number(bomb.headers.get('content-length'))).toBeLessThan(10 * 1024);
    expect(bomb.text.length).toBe(3 * MIB);

    site!.misbehave('hostile-html');
    const page = await get(`/takealot/product/${id}`);
    // A CSV link on another host first, then the site's own; then unclosed anchors to the end.
    expect(hrefs(page.text, /\.csv$/)).toEqual([
      `http://127.0.0.1:1/takealot/product/${id}/price-history.csv`,
      expect.stringMatching(/price-history\.csv$/),
    ]);
    expect(page.text.length).toBeGreaterThan(64 * 1024);
    expect(page.text.slice(page.text.lastIndexOf('</a>'))).toContain(
      '<a href="/promo">'.repeat(10),
    );
    const listing = await get('/takealot/products?page=1');
    expect(hrefs(listing.text, /\/product\//)).toContain('/takealot/product/%E0%A4%A');
    expect(hrefs(listing.text, /\/product\/PLID/)).toHaveLength(50);
    // Asked for the malformed path itself, the site answers 400 rather than failing.
    expect((await get('/takealot/product/%E0%A4%A')).status).toBe(400);
  });
});
