import { describe, expect, it } from 'vitest';
import { htmlTags } from '../../src/core/upstreams/html-scan';
import { listingLinks } from '../../src/core/upstreams/listing-page';
import { findPriceHistoryLink } from '../../src/core/upstreams/product-page';

/**
 * Pages come from the site through a proxy: whatever they hold, scanning them takes time
 * linear in their length. The regular expressions this replaced (`<a\b([^>]*)>([\s\S]*?)<\/a\s*>`
 * and friends) read every unclosed anchor to the end of the page: 1 MiB of them blocked the
 * event loop for 9.9 s, and 300 KiB of `<a ` without a `>` for 95 s.
 *
 * No wall-clock threshold: the time for 1 MiB is compared with the time for 100 KiB. Linear
 * work takes about 10 times as long; quadratic work about 100 times.
 */

const PAGE = 'https://buck.example/takealot/product/PLID123';
const KIB = 1024;
/** Generous: linear scans measure about 10; the quadratic ones measured about 100. */
const MAX_RATIO = 40;

/** `unit` repeated to about `bytes`. */
const fill = (unit: string, bytes: number) => unit.repeat(Math.ceil(bytes / unit.length));

const ADVERSARIAL: Array<[string, (bytes: number) => string]> = [
  // The page: anchors that are never closed, after the page's last `</a>`.
  [
    'unclosed anchors after the last </a>',
    (n) => `<a href="/">Home</a>${fill('<a href="/promo.csv">', n)}`,
  ],
  ['`<a ` without any `>`', (n) => fill('<a ', n)],
  ['unclosed <h1>', (n) => fill('<h1>', n)],
  ['`<meta ` without any `>`', (n) => fill('<meta ', n)],
  ['unclosed data-identifier elements', (n) => fill('<dd data-identifier="plid">', n)],
  ['itemprops that never close', (n) => fill('<span itemprop="sku">', n)],
  ['only `<`', (n) => '<'.repeat(n)],
  ['one tag of unclosed quotes', (n) => `<a ${fill('x ="', n)}>`],
  ['`&` without entities', (n) => '&'.repeat(n)],
];

/**
 * The process's CPU time, not the wall clock: on a loaded machine another process's turn on the
 * core makes a wall-clock run look slow, which CPU time does not count.
 */
const nowMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/** The smallest time of `runs` runs of `fn`, each repeated `reps` times, per call. */
function best(fn: () => void, runs: number, reps: number, stopAboveMs = Infinity): number {
  let min = Infinity;
  for (let r = 0; r < runs; r++) {
    const start = nowMs();
    for (let i = 0; i < reps; i++) fn();
    min = Math.min(min, (nowMs() - start) / reps);
    if (min > stopAboveMs) break; // already far past linear: no need to wait for more
  }
  return min;
}

/** Time of scanning 1 MiB over time of scanning 100 KiB. */
function scaling(make: (bytes: number) => string): number {
  const small = make(100 * KIB);
  const large = make(1024 * KIB);
  const scan = (html: string) => () => {
    findPriceHistoryLink(html, PAGE);
    listingLinks(html, PAGE, 'takealot');
  };
  scan(small)(); // warm up
  const smallMs = Math.max(best(scan(small), 5, 5), 0.05);
  // Best of 5 (a shared machine preempts single runs); stop early only far past quadratic.
  const largeMs = best(scan(large), 5, 1, smallMs * MAX_RATIO * 10);
  return largeMs / smallMs;
}

describe('scanning hostile pages', () => {
  it.each(ADVERSARIAL)('takes linear time: %s', (_, make) => {
    // The process's CPU time also counts its GC and helper threads, which a loaded machine slows: a busy moment
    // can inflate one measurement, never deflate a quadratic one. The best of three attempts.
    let ratio = scaling(make);
    for (let attempt = 1; attempt < 3 && ratio >= MAX_RATIO; attempt++) {
      ratio = Math.min(ratio, scaling(make));
    }
    expect(ratio).toBeLessThan(MAX_RATIO);
  });

  it('still reads a real page behind 1 MiB of unclosed anchors', () => {
    const page = `<h1>Kettle</h1><dd data-identifier="plid">PLID123</dd>
      <a class="download" href="/takealot/product/PLID123/price-history.csv" download>CSV</a>
      ${fill('<a href="/promo">', 1024 * KIB)}`;
    expect(findPriceHistoryLink(page, PAGE)).toMatchObject({
      csvUrl: 'https://buck.example/takealot/product/PLID123/price-history.csv',
      title: 'Kettle',
      identifiers: { plid: 'PLID123' },
    });
  });

  it('reads tags as the regular expressions did', () => {
    const tags = [...htmlTags('<a href="x">t</A ><br/><p <b>x</p><abbr>< a><1>')].map(
      (t) => `${t.closing ? '/' : ''}${t.name}${t.attrs}`,
    );
    expect(tags).toEqual(['a href="x"', '/a ', 'br/', 'p <b', '/p', 'abbr']);
    // No `>` after a `<`: nothing after it can be a tag.
    expect([...htmlTags('<p>x<a href="y" <b')].map((t) => t.name)).toEqual(['p']);
  });
});

describe('listing links', () => {
  it('skips and counts links whose percent-encoding is malformed, never throwing', () => {
    const html = `<ul class="products">
      <li><a href="/takealot/product/PLID1">One</a></li>
      <li><a href="/takealot/product/%E0%A4%A">Broken</a></li>
      <li><a href="/takealot/product/%">Broken too</a></li>
      <li><a href="/%ZZ/product/PLID2">Broken marketplace</a></li>
      <li><a href="/takealot/product/PLID%20two">Two</a></li>
      <li><a href="/makro/product/MK1">Elsewhere</a></li>
      <li><a href="/takealot/product/PLID1/">One again</a></li>
    </ul><a rel="next" href="?page=2">Next</a>`;
    expect(listingLinks(html, 'https://buck.example/takealot/products?page=1', 'takealot')).toEqual(
      {
        productIds: ['PLID1', 'PLID two'],
        hasNext: true,
        hasProductList: true,
        malformedLinks: 3,
      },
    );
  });

  it('tells an empty product list from a page without one', () => {
    const base = 'https://buck.example/takealot/products?page=9';
    expect(listingLinks('<ul class="products"></ul>', base, 'takealot')).toMatchObject({
      productIds: [],
      hasProductList: true,
    });
    expect(listingLinks('<h1>Oops</h1><div class="produ', base, 'takealot')).toMatchObject({
      productIds: [],
      hasProductList: false,
    });
  });
});
