import type { SandboxPriceProduct } from './price-site-types.ts';

/** How the site writes: HTML pages and escaping, rand prices, the price-history CSVs, its bot wall. */

export const escapeHtml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** `1 299` as South African shops print rands. */
export function rands(price: number): string {
  return `R ${Math.round(price)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ' ')}`;
}

/** `1,299.00`. */
function grouped(price: number): string {
  const [whole, cents] = price.toFixed(2).split('.');
  return `${whole!.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${cents}`;
}

export function priceHistoryCsv(product: SandboxPriceProduct): string {
  if (product.marketplace === 'makro') {
    const rows = product.points.map((p) => `${p.date},"R${grouped(p.price)}"`);
    return `Date,Price (ZAR)\r\n${rows.join('\r\n')}\r\n`;
  }
  const rows = product.points.map((p) => `${p.date},${p.price.toFixed(2)}`);
  return `date,price\n${rows.join('\n')}\n`;
}

export const page = (title: string, body: string) =>
  `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>\n<body>\n${body}\n</body></html>\n`;

export const BOT_WALL = page(
  'Just a moment...',
  '<h1>Checking your browser</h1><p>Access denied. Please verify you are a human.</p>',
);
