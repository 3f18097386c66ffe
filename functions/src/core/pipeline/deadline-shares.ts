import type { Category } from '../config';
import { isPaused } from '../quota/allocation';
import type { Collection } from './collection-schema';
import type { CollectionStatusReport } from './collection-status';
import type { ShareChange } from './share-transition';

/**
 * Allocation that follows deadlines, not only phases (per collection, off unless its deadline
 * says `raiseShare`): a running collection whose ETA is past its deadline gets its category's
 * share raised toward what its measured rate says it needs, up to its `maxSharePercent`. The
 * share comes first from what no category holds, then from categories of the same provider
 * whose own running collections all have deadlines and are ahead of them, each giving at most
 * half of the margin its rate has over its need (so a donor stays ahead), and never going
 * below its minimum. Nothing else gives: a category without deadlines is never taken from.
 * Shares are counted in hundredths of a percent, as everywhere else.
 */

export interface DeadlineStanding {
  collection: Collection;
  report: CollectionStatusReport;
  /** Raised lately, its rate does not show the raise yet: it neither asks nor gives. */
  settling?: boolean;
}

/** A donor keeps this much of its margin: it stays ahead of its deadline after giving. */
const DONOR_MARGIN_KEPT = 0.5;

export function deadlineShareChanges(
  categories: readonly Category[],
  standings: readonly DeadlineStanding[],
): ShareChange[] {
  const shares = new Map(categories.map((c) => [c.id, hundredths(c.sharePercent)]));
  const behind = standings
    .filter(({ collection, report, settling }) => {
      const category = categories.find((c) => c.id === collection.category);
      return (
        !settling &&
        collection.status === 'running' &&
        collection.deadline?.raiseShare &&
        report.deadline?.onTrack === false &&
        category !== undefined &&
        !isPaused(category) &&
        category.overridePercent === null
      );
    })
    // The most behind first.
    .sort((a, b) => (a.report.deadline?.slackMs ?? 0) - (b.report.deadline?.slackMs ?? 0));
  const raised = new Set<string>();

  for (const { collection, report } of behind) {
    const category = categories.find((c) => c.id === collection.category)!;
    if (raised.has(category.id)) continue;
    const provider = categories.filter((c) => c.provider === category.provider);
    const current = shares.get(category.id)!;
    const max = hundredths(collection.deadline!.raiseShare!.maxSharePercent);
    const rate = report.overall.ratePerHour;
    const required = report.deadline!.requiredRatePerHour;
    // What the measured rate says the share must be; without a rate, the most it may have.
    const wanted = rate > 0 && required !== null ? Math.ceil((current * required) / rate) : max;
    let extra = Math.min(wanted, max) - current;
    if (extra <= 0) continue;

    const room = 10_000 - provider.reduce((sum, c) => sum + counted(c, shares), 0);
    const fromRoom = Math.min(extra, Math.max(0, room));
    extra -= fromRoom;
    let gained = fromRoom;

    const donors = provider
      .filter((c) => c.id !== category.id && !raised.has(c.id))
      .map((c) => ({ category: c, spare: spareOf(c, shares, standings) }))
      .filter((d) => d.spare > 0);
    const spare = donors.reduce((sum, d) => sum + d.spare, 0);
    if (extra > 0 && spare > 0) {
      const taking = Math.min(extra, spare);
      let left = taking;
      donors.forEach((donor, i) => {
        const give =
          i === donors.length - 1
            ? left
            : Math.min(left, Math.floor((taking * donor.spare) / spare));
        shares.set(donor.category.id, shares.get(donor.category.id)! - give);
        left -= give;
      });
      gained += taking - left;
    }
    if (gained > 0) {
      shares.set(category.id, current + gained);
      raised.add(category.id);
    }
  }

  const changes: ShareChange[] = [];
  for (const c of categories) {
    const toH = shares.get(c.id)!;
    if (toH !== hundredths(c.sharePercent)) {
      changes.push({ category: c.id, fromPercent: c.sharePercent, toPercent: toH / 100 });
    }
  }
  return changes;
}

/**
 * What a category can give: only one whose running collections all have deadlines and are
 * ahead of them (measured); half its margin (rate over need), above its minimum.
 */
function spareOf(
  category: Category,
  shares: ReadonlyMap<string, number>,
  standings: readonly DeadlineStanding[],
): number {
  if (isPaused(category) || category.overridePercent !== null) return 0;
  const own = standings.filter(
    (s) => s.collection.category === category.id && s.collection.status === 'running',
  );
  if (own.length === 0) return 0;
  let fraction = 1;
  for (const { collection, report, settling } of own) {
    const deadline = report.deadline;
    if (settling || !collection.deadline || !deadline?.onTrack || (deadline.slackMs ?? 0) <= 0) {
      return 0;
    }
    const rate = report.overall.ratePerHour;
    const required = deadline.requiredRatePerHour ?? rate;
    if (rate <= 0) return 0;
    fraction = Math.min(fraction, Math.max(0, 1 - required / rate));
  }
  const share = shares.get(category.id)!;
  const floor = hundredths(category.minSharePercent) + 1; // at the minimum it would pause
  return Math.max(0, Math.min(Math.floor(share * fraction * DONOR_MARGIN_KEPT), share - floor));
}

function hundredths(percent: number): number {
  return Math.round(percent * 100);
}

function counted(c: Category, shares: ReadonlyMap<string, number>): number {
  if (c.paused) return 0;
  return Math.max(shares.get(c.id)!, hundredths(c.overridePercent ?? 0));
}
