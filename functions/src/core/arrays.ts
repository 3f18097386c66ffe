/**
 * Generic array helpers: findLast (a polyfill), a count that stops at a cap, an order that
 * spreads over the items evenly (the claimer's candidate lists use them), and fixed-size chunks.
 */

/** Array.prototype.findLast (ES2023; the project compiles to ES2022). */
export function findLast<T>(items: readonly T[], test: (item: T) => boolean): T | undefined {
  for (let i = items.length - 1; i >= 0; i--) if (test(items[i]!)) return items[i];
  return undefined;
}

/** How many items pass, counting no further than `cap`. */
export function countUpTo<T>(items: readonly T[], cap: number, test: (item: T) => boolean): number {
  let n = 0;
  for (let i = 0; i < items.length && n < cap; i++) if (test(items[i]!)) n++;
  return n;
}

/**
 * The items in an order that covers them evenly early on (van der Corput: 0, 1/2, 1/4, 3/4...
 * of the way through, turned by `offset` in [0, 1) so instances do not all start in one place):
 * any stretch of k in n items is reached within about 2n/k of them.
 */
export function spread<T>(items: readonly T[], offset: number): T[] {
  const n = items.length;
  const seen = new Uint8Array(n);
  const order: T[] = [];
  for (let k = 0; order.length < n && k < 4 * n; k++) {
    let x = 0;
    let f = 0.5;
    for (let b = k; b > 0; b >>= 1, f /= 2) if (b & 1) x += f;
    const i = Math.floor(((x + offset) % 1) * n);
    if (!seen[i]) {
      seen[i] = 1;
      order.push(items[i]!);
    }
  }
  for (let i = 0; i < n; i++) if (!seen[i]) order.push(items[i]!);
  return order;
}

/** The items in consecutive chunks of at most `size`, in order. */
export function chunked<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
