/**
 * Splits `total` whole units (hundredths of a percent) among items in proportion to their
 * weights by largest remainder: floors first, then one unit each to the largest remainders,
 * higher priority first on a tie, then by id, so every instance computes the same split.
 */
export function apportion(
  total: number,
  items: ReadonlyArray<{ id: string; weight: number; priority: number }>,
): Map<string, number> {
  const shares = new Map<string, number>();
  const weights = items.reduce((sum, item) => sum + item.weight, 0);
  if (items.length === 0 || weights <= 0) return shares;
  let left = total;
  const raw = items.map((item) => ({ item, exact: (total * item.weight) / weights }));
  for (const { item, exact } of raw) {
    const floor = Math.floor(exact + 1e-6);
    shares.set(item.id, floor);
    left -= floor;
  }
  const byRemainder = [...raw].sort(
    (a, b) =>
      b.exact - Math.floor(b.exact + 1e-6) - (a.exact - Math.floor(a.exact + 1e-6)) ||
      b.item.priority - a.item.priority ||
      a.item.id.localeCompare(b.item.id),
  );
  for (let i = 0; left > 0; i++, left--) {
    const { item } = byRemainder[i % byRemainder.length]!;
    shares.set(item.id, shares.get(item.id)! + 1);
  }
  return shares;
}
