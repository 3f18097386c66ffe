// The split of writes into batches bounded by a count and a total weight (bytes), as Firestore's
// commits and transactions are.

/**
 * Splits `items` into consecutive batches of at most `maxCount` items whose weights add up to
 * at most `maxWeight` (an item heavier than that alone gets a batch of its own).
 */
export function planBatches<T>(
  items: readonly T[],
  maxCount: number,
  maxWeight: number,
  weight: (item: T) => number,
): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let total = 0;
  for (const item of items) {
    const w = weight(item);
    if (current.length > 0 && (current.length >= maxCount || total + w > maxWeight)) {
      batches.push(current);
      current = [];
      total = 0;
    }
    current.push(item);
    total += w;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
