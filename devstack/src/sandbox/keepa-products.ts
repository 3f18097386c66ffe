import {
  KEEPA_EPOCH_MINUTES,
  MAX_SANDBOX_OFFERS,
  MINUTE,
  OFFERS_PER_PAGE,
  TOKENS_PER_OFFER_PAGE,
} from './keepa-rules.ts';
import { seededRandom } from './shared.ts';

/** The sandbox's products, deterministic per ASIN and seed, and what a /product request costs. */

const BRANDS = ['Anker', 'Philips', 'Bosch', 'LEGO', 'Logitech', 'Braun', 'Tefal', 'Sony'];
const THINGS = [
  'Power Bank',
  'Kettle',
  'Drill Set',
  'Building Kit',
  'Mouse',
  'Shaver',
  'Pan',
  'Headphones',
];
const VARIANTS = ['Black', 'Silver', '2-Pack', 'Pro', 'Compact', 'XL', 'Wireless', 'Classic'];

/**
 * A deterministic, plausible Keepa product for an ASIN. With `offers` it has up to that many of
 * its 1 to 30 marketplace offers (the count is the ASIN's, whatever is asked for).
 */
export function sandboxProduct(
  asin: string,
  domainId: number,
  nowMs: number,
  opts: { seed?: string | number; stats?: boolean; offers?: number } = {},
): Record<string, unknown> {
  const r = seededRandom(`${opts.seed ?? ''}:${asin}`);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)] as T;
  const title = `${pick(BRANDS)} ${pick(THINGS)} ${pick(VARIANTS)}`;
  const base = 999 + Math.floor(r() * 20_000); // cents
  const keepaNow = Math.floor(nowMs / MINUTE) - KEEPA_EPOCH_MINUTES;
  // csv[0] Amazon, csv[1] new: [keepaMinute, price, ...], oldest first, a point a day.
  const history = (spread: number) => {
    const out: number[] = [];
    for (let d = 6; d >= 0; d--) {
      out.push(keepaNow - d * 1440, Math.round(base * (1 + (r() - 0.5) * spread)));
    }
    return out;
  };
  const amazon = history(0.2);
  const fresh = history(0.3);
  const product: Record<string, unknown> = {
    asin,
    domainId,
    productType: 0,
    title,
    brand: title.split(' ')[0],
    lastUpdate: keepaNow,
    lastPriceChange: keepaNow - 1440,
    salesRankReference: -1,
    csv: [amazon, fresh],
  };
  if (opts.stats) {
    const current = new Array<number>(18).fill(-1);
    current[0] = amazon[amazon.length - 1] as number;
    current[1] = fresh[fresh.length - 1] as number;
    current[3] = 1_000 + Math.floor(r() * 200_000); // sales rank
    product.stats = { current };
  }
  if (opts.offers !== undefined) {
    // Its own random sequence: the offers are the ASIN's, with or without stats.
    const o = seededRandom(`${opts.seed ?? ''}:offers:${asin}`);
    const n = Math.min(opts.offers, 1 + Math.floor(o() * MAX_SANDBOX_OFFERS));
    product.offers = Array.from({ length: n }, (_, i) => ({
      offerId: i,
      sellerId: `A${Math.floor(o() * 1e12)
        .toString(36)
        .toUpperCase()}`,
      isFBA: o() < 0.5,
      condition: 1,
      offerCSV: [keepaNow, Math.round(base * (1 + o() * 0.1)), 0],
    }));
  }
  return product;
}

/** Tokens a /product request for these products costs, by Keepa's documented price list. */
export function sandboxProductTokens(
  products: ReadonlyArray<Record<string, unknown>>,
  params: { offers?: number; update?: number },
): number {
  let tokens = 0;
  for (const product of products) {
    if (params.offers === undefined) tokens += 1;
    else {
      const found = Array.isArray(product.offers) ? product.offers.length : 0;
      // No offer found: Keepa charges the request as if retrieving offers failed, 1 token.
      tokens += found > 0 ? Math.ceil(found / OFFERS_PER_PAGE) * TOKENS_PER_OFFER_PAGE : 1;
    }
    if (params.update === 0) tokens += 1;
  }
  return tokens;
}
