import type { Category } from '../config';
import { isPaused } from '../quota/allocation';
import { apportion } from '../quota/apportion';

/**
 * Applies a phase transition's new share to a category and hands the freed share to the
 * provider's other categories, so capacity a collection no longer needs is not left idle.
 * Shares are counted as validateRuntimeConfig counts them (paused: 0; pinned: the larger of
 * share and override), so a valid configuration stays valid.
 */

export interface ShareChange {
  category: string;
  fromPercent: number;
  toPercent: number;
}

/**
 * New shares for the category and the provider's other categories. Freed share goes to the
 * active, unpinned other categories in proportion to their shares (in 0.01% steps; what
 * rounding leaves goes to the largest remainder, then the highest priority); with none it stays
 * unassigned. A raise only takes unassigned share and is capped by it: it never shrinks another
 * category. Only changed categories are returned.
 */
export function redistributeShare(
  categories: readonly Category[],
  categoryId: string,
  newPercent: number,
): ShareChange[] {
  const target = categories.find((c) => c.id === categoryId);
  if (!target) throw new RangeError(`unknown category ${categoryId}`);
  const siblings = categories.filter((c) => c.provider === target.provider && c.id !== target.id);
  const oldH = hundredths(target.sharePercent);
  const effective = (shareH: number) =>
    target.overridePercent === null ? shareH : Math.max(shareH, hundredths(target.overridePercent));

  let newH = hundredths(newPercent);
  if (newH > oldH) {
    // The category counts even while paused: it must fit once it resumes.
    const used = siblings.reduce((sum, c) => sum + counted(c), effective(oldH));
    newH = Math.min(newH, effective(oldH) + Math.max(0, 10_000 - used));
  }
  const shares = new Map<string, number>([[target.id, newH]]);
  // A paused category's share already counts as free, so what is handed out is capped by the
  // room the provider has left: the active shares never pass 100%.
  const room =
    10_000 -
    siblings.reduce((sum, c) => sum + counted(c), 0) -
    (target.paused ? 0 : effective(newH));
  const freed = Math.min(effective(oldH) - effective(newH), Math.max(0, room));

  const recipients = siblings.filter((c) => !isPaused(c) && c.overridePercent === null);
  if (freed > 0 && recipients.length > 0) {
    const base = recipients.reduce((sum, c) => sum + hundredths(c.sharePercent), 0);
    const split = apportion(
      freed,
      recipients.map((c) => ({
        id: c.id,
        weight: base > 0 ? hundredths(c.sharePercent) : 1,
        priority: c.priority,
      })),
    );
    for (const c of recipients)
      shares.set(c.id, hundredths(c.sharePercent) + (split.get(c.id) ?? 0));
  }

  const changes: ShareChange[] = [];
  for (const c of [target, ...siblings]) {
    const toH = shares.get(c.id);
    if (toH !== undefined && toH !== hundredths(c.sharePercent)) {
      changes.push({ category: c.id, fromPercent: c.sharePercent, toPercent: toH / 100 });
    }
  }
  return changes;
}

function hundredths(percent: number): number {
  return Math.round(percent * 100);
}

function counted(c: Category): number {
  if (c.paused) return 0;
  return Math.max(hundredths(c.sharePercent), hundredths(c.overridePercent ?? 0));
}

/** The categories with `changes` applied to their shares. */
export function applyShareChanges(categories: Category[], changes: ShareChange[]): Category[] {
  return categories.map((c) => {
    const change = changes.find((x) => x.category === c.id);
    return change ? { ...c, sharePercent: change.toPercent } : c;
  });
}
