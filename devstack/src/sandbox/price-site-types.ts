/**
 * The price site sandbox's marketplaces, misbehaviours, defects, options, state and handle, and
 * a product as it serves it.
 */

export const PRICE_SITE_MARKETPLACES = ['takealot', 'makro'] as const;
export type PriceSiteMarketplace = (typeof PRICE_SITE_MARKETPLACES)[number];

export type PriceSiteMisbehaviour =
  | 'none'
  | '5xx'
  | 'slow'
  | 'malformed'
  | 'block'
  | '429'
  | 'far-retry-after'
  | 'huge'
  | 'bomb'
  | 'hostile-html';

export const PRICE_SITE_DEFECTS = [
  'missing-link',
  'date-gap',
  'non-positive-price',
  'price-jump',
  'missing-barcode',
] as const;
export type PriceSiteDefect = (typeof PRICE_SITE_DEFECTS)[number];

export interface PriceSiteOptions {
  port?: number;
  /** Varies prices, titles and which products are defective. */
  seed?: string | number;
  /** Injected clock (ms): the CSV ends at its UTC date. */
  now?: () => number;
  /** Products per marketplace; 1000 takealot and 500 makro by default. */
  catalogue?: Partial<Record<PriceSiteMarketplace, number>>;
  /** Products per listing page (50 by default). */
  pageSize?: number;
  /** Daily points per CSV (90 by default). */
  historyDays?: number;
  /** Share of products with a defect (0.05 by default). */
  defectRate?: number;
  /** Retry-After of the '429' misbehaviour (60 s by default). */
  retryAfterSeconds?: number;
  /** Delay used by the 'slow' mode (3000 ms by default). */
  slowMs?: number;
  /** Injected sleep for the 'slow' mode (a real timer by default). */
  sleep?: (ms: number) => Promise<void>;
  /** The Retry-After of 'far-retry-after', as sent ('9999999999' by default). */
  farRetryAfter?: string;
  /** What the 'huge' and 'bomb' answers amount to (256 MiB by default). */
  hugeBytes?: number;
  /** The unclosed anchors a 'hostile-html' page starts with (1 MiB by default). */
  hostileHtmlBytes?: number;
  /** The other host a 'hostile-html' product page links its CSV on (`http://127.0.0.1:9`). */
  foreignOrigin?: string;
}

export interface PriceSiteState {
  mode: PriceSiteMisbehaviour;
  requests: number;
  byKind: { listing: number; product: number; csv: number; other: number };
  byStatus: Record<string, number>;
}

export interface PriceSiteSandbox {
  url: string;
  port: number;
  stop(): Promise<void>;
  state(): PriceSiteState;
  misbehave(mode: PriceSiteMisbehaviour): void;
  /** The catalogue's product ids of a marketplace, in listing order. */
  productIds(marketplace: PriceSiteMarketplace): string[];
  /** The product as the site serves it now (title, identifiers, defect, points). */
  product(marketplace: PriceSiteMarketplace, id: string): SandboxPriceProduct | undefined;
}

export interface SandboxPricePoint {
  date: string;
  price: number;
}

export interface SandboxPriceProduct {
  marketplace: PriceSiteMarketplace;
  id: string;
  title: string;
  identifiers: Record<string, string>;
  defect: PriceSiteDefect | null;
  /** What the CSV holds, oldest first (defects included). */
  points: SandboxPricePoint[];
}
