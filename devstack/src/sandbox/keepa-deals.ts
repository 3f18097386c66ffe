import { sandboxProduct } from './keepa-products.ts';
import { DEALS_PER_PAGE, KEEPA_EPOCH_MINUTES, MINUTE } from './keepa-rules.ts';
import { seededRandom } from './shared.ts';

/** Each domain's finite deal list: its ASINs, its pages of Deal objects, its root categories. */

/** The sandbox's root categories: ids 1000 to 1006. */
const ROOT_CATEGORIES = ['Electronics', 'Kitchen', 'Tools', 'Toys', 'Computers', 'Beauty', 'Home'];
const ROOT_CATEGORY_BASE = 1000;

/** The deal list's ASIN at `index` for a domain: unique per index, deterministic per seed. */
export function sandboxDealAsin(
  index: number,
  domainId: number,
  seed: string | number = '',
): string {
  const r = seededRandom(`${seed}:deal:${domainId}:${index}`);
  const tail = Math.floor(r() * 36 ** 4)
    .toString(36)
    .toUpperCase()
    .padStart(4, '0');
  return `B0${index.toString(36).toUpperCase().padStart(4, '0')}${tail}`;
}

/**
 * One page of a domain's deals, as Keepa's Deal objects (api_backend structs/Deal.java).
 * `current` is the product's current values (the same as /product's `stats.current`);
 * `deltaPercent`, `delta` and `avg` hold, per date range (day, week, month, 90 days) and price
 * type, how far the value fell (negative) against its average, and that average; `deltaLast`
 * the last change, `currentSince` since when the value holds (Keepa minutes).
 */
export function sandboxDeals(
  domainId: number,
  page: number,
  nowMs: number,
  opts: { seed?: string | number; total?: number } = {},
): Record<string, unknown>[] {
  const total = opts.total ?? 400;
  const from = page * DEALS_PER_PAGE;
  const to = Math.min(total, from + DEALS_PER_PAGE);
  const keepaNow = Math.floor(nowMs / MINUTE) - KEEPA_EPOCH_MINUTES;
  const deals: Record<string, unknown>[] = [];
  for (let i = from; i < to; i++) {
    const asin = sandboxDealAsin(i, domainId, opts.seed);
    const product = sandboxProduct(asin, domainId, nowMs, { seed: opts.seed, stats: true });
    const current = (product.stats as { current: number[] }).current;
    const r = seededRandom(`${opts.seed ?? ''}:dealDelta:${asin}`);
    const ranges = [0, 1, 2, 3].map(() =>
      current.map((value, type) => (value > 0 && type !== 3 ? -(5 + Math.floor(r() * 45)) : -1)),
    );
    const rootCat = ROOT_CATEGORY_BASE + (i % ROOT_CATEGORIES.length);
    deals.push({
      asin,
      title: product.title,
      rootCat,
      categories: [rootCat],
      image: Array.from(`${asin}.jpg`, (c) => c.charCodeAt(0)),
      creationDate: keepaNow - 60 - (i % 600),
      lastUpdate: keepaNow - (i % 60),
      lightningEnd: 0,
      current,
      currentSince: current.map((value) => (value > 0 ? keepaNow - 60 - (i % 600) : -1)),
      deltaPercent: ranges,
      delta: ranges.map((range) =>
        range.map((pct, type) =>
          pct === -1 ? -1 : Math.round(((current[type] as number) * pct) / (100 + pct)),
        ),
      ),
      deltaLast: (ranges[0] as number[]).map((pct, type) =>
        pct === -1 ? -1 : Math.round(((current[type] as number) * pct) / (100 + pct)),
      ),
      avg: ranges.map((range) =>
        range.map((pct, type) =>
          pct === -1 ? -1 : Math.round(((current[type] as number) * 100) / (100 + pct)),
        ),
      ),
    });
  }
  return deals;
}

/**
 * The root categories of all of a domain's deals (not only one page's), as DealResponse has
 * them: three arrays that belong together by index.
 */
export function sandboxDealCategories(total: number): {
  categoryIds: number[];
  categoryNames: string[];
  categoryCount: number[];
} {
  const counts = ROOT_CATEGORIES.map(
    (_, c) =>
      Math.floor(total / ROOT_CATEGORIES.length) + (c < total % ROOT_CATEGORIES.length ? 1 : 0),
  );
  const present = ROOT_CATEGORIES.map((name, c) => ({ c, name })).filter(({ c }) => counts[c]! > 0);
  return {
    categoryIds: present.map(({ c }) => ROOT_CATEGORY_BASE + c),
    categoryNames: present.map(({ name }) => name),
    categoryCount: present.map(({ c }) => counts[c] as number),
  };
}
