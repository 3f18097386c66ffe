import {
  PRICE_SITE_DEFECTS,
  type PriceSiteDefect,
  type PriceSiteMarketplace,
  type SandboxPricePoint,
  type SandboxPriceProduct,
} from './price-site-types.ts';
import { seededRandom } from './shared.ts';

/**
 * The site's finite catalogue: product ids, which products carry a defect, and each product's
 * title, identifiers and daily prices, deterministic from (seed, marketplace, id).
 */

export const DEFAULT_CATALOGUE: Record<PriceSiteMarketplace, number> = {
  takealot: 1000,
  makro: 500,
};
const DAY_MS = 86_400_000;
/** The days a 'date-gap' product is missing, counted back from the end of its history. */
export const GAP_DAYS = 10;
export const JUMP_FACTOR = 10;

/** The product id at a catalogue position: PLIDs on takealot, SKUs on makro. */
export function sandboxProductId(marketplace: PriceSiteMarketplace, index: number): string {
  return marketplace === 'takealot'
    ? `PLID${71_000_000 + index * 131}`
    : `MK${String(400_000 + index * 17).padStart(9, '0')}`;
}

/** The defect a product carries, if any: deterministic from (seed, marketplace, id). */
export function sandboxDefect(
  seed: string | number | undefined,
  marketplace: string,
  id: string,
  defectRate = 0.05,
): PriceSiteDefect | null {
  const r = seededRandom(`defect:${seed ?? ''}:${marketplace}:${id}`);
  if (r() >= defectRate) return null;
  return PRICE_SITE_DEFECTS[Math.floor(r() * PRICE_SITE_DEFECTS.length)]!;
}

/** An EAN-13 with a valid check digit. */
function ean13(r: () => number): string {
  let digits = '600'; // South Africa's GS1 prefix
  while (digits.length < 12) digits += String(Math.floor(r() * 10));
  const sum = [...digits].reduce((s, d, i) => s + Number(d) * (i % 2 === 0 ? 1 : 3), 0);
  return digits + String((10 - (sum % 10)) % 10);
}

const BRANDS = ['Defy', 'Samsung', 'Russell Hobbs', 'Hisense', 'Kenwood', 'Philips', 'Bosch', 'LG'];
const THINGS = [
  ['Microwave 20L', 1_299],
  ['Kettle 1.7L', 399],
  ['Fridge 300L', 8_999],
  ['Blender 600W', 749],
  ['Air Fryer 4.2L', 1_499],
  ['Smart TV 55"', 9_999],
  ['Vacuum Cleaner', 2_199],
  ['Steam Iron', 449],
] as const;
const VARIANTS = ['Black', 'Silver', 'White', 'Stainless Steel', 'Pro', 'Compact'];

/** Today's date (UTC) of an instant, as YYYY-MM-DD. */
function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** A product of the catalogue as the site shows it on `nowMs`'s date. */
export function sandboxPriceProduct(
  marketplace: PriceSiteMarketplace,
  id: string,
  nowMs: number,
  opts: { seed?: string | number; historyDays?: number; defectRate?: number } = {},
): SandboxPriceProduct {
  const seed = opts.seed ?? '';
  const r = seededRandom(`product:${seed}:${marketplace}:${id}`);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)] as T;
  const [thing, typical] = pick(THINGS);
  const title = `${pick(BRANDS)} ${thing} ${pick(VARIANTS)}`;
  const base = Math.max(49, Math.round(typical * (0.7 + r() * 0.6)));
  const barcode = ean13(r);
  const defect = sandboxDefect(opts.seed, marketplace, id, opts.defectRate);
  const identifiers: Record<string, string> =
    marketplace === 'takealot' ? { plid: id, barcode } : { sku: id, barcode };
  if (defect === 'missing-barcode') delete identifiers.barcode;

  const days = Math.max(2, opts.historyDays ?? 90);
  const end = Date.parse(`${isoDate(nowMs)}T00:00:00Z`);
  const points: SandboxPricePoint[] = [];
  for (let d = days - 1; d >= 0; d--) {
    const at = end - d * DAY_MS;
    // Prices change weekly by up to 15% either way around the product's base price.
    const week = Math.floor(at / (7 * DAY_MS));
    const w = seededRandom(`price:${seed}:${marketplace}:${id}:${week}`)();
    points.push({ date: isoDate(at), price: Math.round(base * (0.85 + w * 0.3)) });
  }
  const middle = Math.floor(points.length / 2);
  if (defect === 'date-gap') {
    const gap = Math.min(GAP_DAYS, points.length - 2);
    points.splice(Math.max(1, middle - Math.floor(gap / 2)), gap);
  } else if (defect === 'non-positive-price') {
    points[middle] = { ...points[middle]!, price: 0 };
  } else if (defect === 'price-jump') {
    points[middle] = { ...points[middle]!, price: points[middle]!.price * JUMP_FACTOR };
  }
  return { marketplace, id, title, identifiers, defect, points };
}
