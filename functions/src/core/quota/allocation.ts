import type { Category } from '../config';
import { apportion } from './apportion';

export interface EffectiveShare {
  category: string;
  /** Percent of the provider's capacity this category may use now. */
  percent: number;
  paused: boolean;
  pinned: boolean;
}

/** Configured share, or the manual override that pins it. */
export function configuredPercent(category: Category): number {
  return category.overridePercent ?? category.sharePercent;
}

export function isPaused(category: Category): boolean {
  return category.paused || configuredPercent(category) <= category.minSharePercent;
}

/**
 * Effective shares of one provider's categories. Paused categories (flag, or share at or below
 * their minimum) free their share, which goes to the other unpinned categories in proportion
 * to their shares; pinned (overridden) categories keep exactly their override. Rounding is to
 * 0.01%, and what rounding leaves goes to the highest priority first. The total never exceeds
 * 100%.
 */
export function effectiveShares(categories: Category[]): EffectiveShare[] {
  const active = categories.filter((c) => !isPaused(c));
  const pinned = active.filter((c) => c.overridePercent !== null);
  const floating = active.filter((c) => c.overridePercent === null);
  // Freed: the shares of paused categories, and what an override pins below the share.
  const freed =
    categories.filter(isPaused).reduce((sum, c) => sum + c.sharePercent, 0) +
    pinned.reduce((sum, c) => sum + Math.max(0, c.sharePercent - configuredPercent(c)), 0);
  const pinnedTotal = pinned.reduce((sum, c) => sum + configuredPercent(c), 0);
  // Configuration validation keeps pins within 100%; scale down defensively if not.
  const pinScale = pinnedTotal > 100 ? 100 / pinnedTotal : 1;
  const floatingBase = floating.reduce((sum, c) => sum + c.sharePercent, 0);
  const budget = Math.max(0, Math.min(100 - pinnedTotal * pinScale, floatingBase + freed));

  const hundredths = new Map<string, number>();
  for (const c of pinned)
    hundredths.set(c.id, Math.floor(configuredPercent(c) * pinScale * 100 + 1e-6));
  if (floatingBase > 0) {
    const split = apportion(
      Math.floor(budget * 100 + 1e-6),
      floating.map((c) => ({ id: c.id, weight: c.sharePercent, priority: c.priority })),
    );
    for (const [id, units] of split) hundredths.set(id, units);
  }
  return categories.map((c) => ({
    category: c.id,
    percent: (hundredths.get(c.id) ?? 0) / 100,
    paused: isPaused(c),
    pinned: !isPaused(c) && c.overridePercent !== null,
  }));
}
