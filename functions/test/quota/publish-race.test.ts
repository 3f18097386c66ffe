import type { Firestore } from 'firebase-admin/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAllocation } from '../../src/adapters/quota/allocations';
import { republishAllocations } from '../../src/adapters/quota/republish';
import { categorySchema } from '../../src/core/config';
import { effectiveShares } from '../../src/core/quota/allocation';
import { testFirestore } from '../support/firestore';

/**
 * Two share changes of one provider publishing at once (two operators, or an operator and a
 * collection's phase change): each writes its category, then republishes, as
 * publishAfterChange does. Whatever the interleaving, the allocation ends with the shares the
 * configuration ends with. When the categories were read before the publishing transaction,
 * the loser of the transaction's conflict retried with its old read and published a share
 * that no longer existed (issue 13, item 11).
 */

let db: Firestore;
let close: () => Promise<void>;
beforeAll(async () => {
  ({ db, close } = testFirestore());
  await db.doc('providers/keepa').set({
    limits: [{ kind: 'tokenBucket', capacity: 300, refillPerSecond: 5 }],
  });
  await db.doc('categories/a').set({ provider: 'keepa', sharePercent: 40 });
  await db.doc('categories/b').set({ provider: 'keepa', sharePercent: 30 });
});
afterAll(() => close());

async function change(
  via: Firestore,
  category: string,
  sharePercent: number,
  nowMs: number,
): Promise<void> {
  await via.doc(`categories/${category}`).update({ sharePercent });
  await republishAllocations(via, nowMs, ['keepa']);
}

/** The same Firestore, whose transactions start only once `gate` opens. */
function gated(gate: Promise<void>): Firestore {
  return new Proxy(db, {
    get(target, property) {
      if (property === 'runTransaction') {
        return async (...args: Parameters<Firestore['runTransaction']>) => {
          await gate;
          return target.runTransaction(...args);
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('concurrent share changes', () => {
  it('publish what the configuration ends with, whatever the interleaving', async () => {
    let nowMs = Date.UTC(2026, 11, 6);
    for (let round = 0; round < 25; round++) {
      nowMs += 60_000; // past the lead: each round's changes are the newest epochs
      const a = 10 + ((round * 7) % 40);
      const b = 5 + ((round * 11) % 45);
      // The worst interleaving: the first change has read what it reads before it publishes,
      // then the second change is written and published whole, then the first publishes.
      let open!: () => void;
      const gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      const first = change(gated(gate), 'a', a, nowMs);
      await new Promise((r) => setTimeout(r, 20));
      await change(db, 'b', b, nowMs);
      open();
      await first;
      const allocation = (await readAllocation(db, 'keepa'))!;
      const configured = (await db.collection('categories').get()).docs.map((d) =>
        categorySchema.parse({ id: d.id, ...d.data() }),
      );
      for (const share of effectiveShares(configured)) {
        const latest = allocation.categories[share.category]!.at(-1)!;
        expect({ round, category: share.category, percent: latest.percent }).toEqual({
          round,
          category: share.category,
          percent: share.percent,
        });
      }
    }
  });
});
