/**
 * The share rule validateRuntimeConfig (core/config.ts) enforces, as a pure function the
 * dashboard uses too: over one provider's categories whose `paused` flag is off, the sum of
 * max(sharePercent, overridePercent ?? 0) may not exceed 100 (+1e-9).
 */
export interface ShareCapCategory {
  id: string;
  provider: string;
  /** The stored `paused` flag (not "paused by share at or below the minimum"). */
  paused: boolean;
  sharePercent: number;
  overridePercent: number | null;
}

/** What a category counts towards its provider's 100%: 0 when its flag is set. */
export function shareWeight(category: Omit<ShareCapCategory, 'id' | 'provider'>): number {
  return category.paused ? 0 : Math.max(category.sharePercent, category.overridePercent ?? 0);
}

/** Tolerance of the 100% rule. */
export const SHARE_SUM_TOLERANCE = 1e-9;

/**
 * The highest share `categoryId` may be set to without its provider's shares summing past
 * 100%: 100 minus the other unpaused categories' weights (and never so high that the category's
 * own override would push it over), rounded down to 0.01. 0 for an unknown category.
 */
export function maxSharePercent(
  categories: ReadonlyArray<ShareCapCategory>,
  categoryId: string,
): number {
  const self = categories.find((c) => c.id === categoryId);
  if (!self) return 0;
  const others = categories
    .filter((c) => c.provider === self.provider && c.id !== categoryId)
    .reduce((sum, c) => sum + shareWeight(c), 0);
  const room = 100 - others;
  // The 1e-9 tolerance absorbs float noise (100 - 33.33 - 33.33 ...) before rounding down.
  const cap = Math.floor((room + SHARE_SUM_TOLERANCE) * 100) / 100;
  return Math.max(0, Math.min(100, cap));
}
