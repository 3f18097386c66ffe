import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Category, categorySchema } from '../../../src/core/config';
import type { Collection } from '../../../src/core/pipeline/collection-schema';
import { statusReport } from '../../../src/core/pipeline/collection-status';
import { startCollection } from '../../../src/core/pipeline/collections';
import {
  type DeadlineStanding,
  deadlineShareChanges,
} from '../../../src/core/pipeline/deadline-shares';
import { applyShareChanges } from '../../../src/core/pipeline/share-transition';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 11, 6, 12);

const category = (id: string, sharePercent: number, extra: Partial<Category> = {}) =>
  categorySchema.parse({ id, provider: 'p', sharePercent, ...extra });

/** A collection of `target` that collected `collected` in the last 10 hours, due in `dueHours`. */
function collection(
  id: string,
  cat: string,
  target: number,
  collected: number,
  dueHours: number | null,
  raise: number | null = null,
): Collection {
  const { collection: c } = startCollection(
    undefined,
    { id, provider: 'p', category: cat, targets: { m: target } },
    T0 - 10 * HOUR,
  );
  return {
    ...c,
    marketplaces: { m: { target, collected } },
    samples: [{ at: T0 - 10 * HOUR, collected: { m: 0 } }],
    lastProgressAt: T0,
    deadline:
      dueHours === null
        ? null
        : {
            atMs: T0 + dueHours * HOUR,
            raiseShare: raise === null ? null : { maxSharePercent: raise },
          },
  };
}

const stand = (c: Collection): DeadlineStanding => ({ collection: c, report: statusReport(c, T0) });

describe('shares that follow deadlines', () => {
  it('raises a late collection toward its need, from free share, then from categories ahead', () => {
    // late: 100 done in 10 h (10/h), 900 left in 30 h: needs 30/h, three times its 20%.
    const late = collection('late', 'a', 1000, 100, 30, 50);
    // ahead: 50/h, needs 10/h: gives half its margin (0.8 x 40% / 2 = 16%).
    const ahead = collection('ahead', 'b', 1000, 500, 50);
    const noDeadline = collection('free', 'c', 1000, 100, null);
    const categories = [category('a', 20), category('b', 40), category('c', 30)];
    const changes = deadlineShareChanges(categories, [late, ahead, noDeadline].map(stand));
    // Wanted 60%, capped at 50: 10% free, 16% from b (capped by what is needed: 20%).
    expect(changes).toEqual([
      { category: 'a', fromPercent: 20, toPercent: 46 },
      { category: 'b', fromPercent: 40, toPercent: 24 },
    ]);
  });

  it('changes nothing without raiseShare, for a collection on track, or one not running', () => {
    const categories = [category('a', 20), category('b', 40)];
    const off = collection('late', 'a', 1000, 100, 30); // late, but raiseShare off
    const ok = collection('ok', 'a', 1000, 900, 30, 50);
    const paused = { ...collection('late2', 'a', 1000, 100, 30, 50), status: 'paused' as const };
    for (const c of [off, ok, paused]) {
      expect(deadlineShareChanges(categories, [stand(c)])).toEqual([]);
    }
  });

  it('keeps every provider within 100%, donors above their minimum and ahead, raises within max', () => {
    const arbitrary = fc.array(
      fc.record({
        share: fc.integer({ min: 0, max: 6000 }).map((h) => h / 100),
        min: fc.constantFrom(0, 1, 5),
        override: fc.option(fc.integer({ min: 1, max: 30 }), { nil: null }),
        paused: fc.boolean(),
        target: fc.integer({ min: 10, max: 5000 }),
        done: fc.double({ min: 0, max: 1, noNaN: true }),
        dueHours: fc.option(fc.integer({ min: -5, max: 200 }), { nil: null }),
        raise: fc.option(fc.integer({ min: 1, max: 100 }), { nil: null }),
      }),
      { minLength: 1, maxLength: 6 },
    );
    fc.assert(
      fc.property(arbitrary, (rows) => {
        let total = 0;
        const categories: Category[] = [];
        const standings: DeadlineStanding[] = [];
        rows.forEach((row, i) => {
          const share = Math.min(row.share, Math.max(0, 100 - total));
          total += Math.max(share, row.override ?? 0);
          if (total > 100) return;
          const cat = category(`c${i}`, share, {
            minSharePercent: row.min,
            overridePercent: row.override,
            paused: row.paused,
          });
          categories.push(cat);
          const collected = Math.floor(row.target * row.done);
          standings.push(
            stand(collection(`k${i}`, cat.id, row.target, collected, row.dueHours, row.raise)),
          );
        });
        const changes = deadlineShareChanges(categories, standings);
        const after = applyShareChanges(categories, changes);
        const counted = after.reduce(
          (sum, c) => sum + (c.paused ? 0 : Math.max(c.sharePercent, c.overridePercent ?? 0)),
          0,
        );
        expect(counted).toBeLessThanOrEqual(100 + 1e-9);
        for (const change of changes) {
          const before = categories.find((c) => c.id === change.category)!;
          const own = standings.find((s) => s.collection.category === before.id)!;
          if (change.toPercent > change.fromPercent) {
            // Only a late collection that asked for it, within its maximum.
            expect(own.report.deadline?.onTrack).toBe(false);
            expect(own.collection.deadline?.raiseShare).not.toBeNull();
            expect(change.toPercent).toBeLessThanOrEqual(
              Math.max(change.fromPercent, own.collection.deadline!.raiseShare!.maxSharePercent),
            );
          } else {
            // Only a donor ahead of its deadline, above its minimum.
            expect(own.report.deadline?.onTrack).toBe(true);
            expect(change.toPercent).toBeGreaterThan(before.minSharePercent);
          }
          expect(before.paused).toBe(false);
          expect(before.overridePercent).toBeNull();
        }
      }),
      { numRuns: 500, seed: 20261206 },
    );
  });
});
