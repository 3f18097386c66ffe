import type { Firestore } from 'firebase-admin/firestore';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { recountRunningCollections } from '../../src/adapters/pipeline/collection-progress';
import {
  COLLECTION_WARNING_RETENTION_MS,
  COLLECTION_WARNINGS,
  CollectionsRepository,
} from '../../src/adapters/pipeline/collections-repository';
import { followDeadlines } from '../../src/adapters/pipeline/deadline-allocation';
import type { Collection } from '../../src/core/pipeline/collection-schema';
import { startCollection } from '../../src/core/pipeline/collections';
import { testFirestore } from '../support/firestore';
import { quietLogger } from '../support/quiet-logger';
import { recordReads } from '../support/reads';

/**
 * Deadlines on Firestore, as the heartbeat follows them: a collection whose ETA passes its
 * deadline is marked late and warned about once; where its deadline asks for it, its
 * category's share is raised (audited, as Tollgate), taken from a category ahead of its own
 * deadline; a raised collection settles for a rate window before it is raised again.
 */

quietLogger();

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 11, 6, 12);
let db: Firestore;
let close: () => Promise<void>;

beforeEach(async () => {
  ({ db, close } = testFirestore());
  await db.doc('providers/p').set({
    limits: [{ kind: 'tokenBucket', capacity: 100, refillPerSecond: 10 }],
  });
  await db.doc('categories/a').set({ provider: 'p', sharePercent: 20 });
  await db.doc('categories/b').set({ provider: 'p', sharePercent: 40 });
  await db.doc('categories/c').set({ provider: 'p', sharePercent: 30 });
});
afterEach(() => close());

async function put(
  id: string,
  category: string,
  collected: number,
  dueHours: number,
  raise: number | null,
): Promise<void> {
  const { collection } = startCollection(
    undefined,
    { id, provider: 'p', category, targets: { m: 1000 } },
    T0 - 10 * HOUR,
  );
  const c: Collection = {
    ...collection,
    marketplaces: { m: { target: 1000, collected } },
    samples: [{ at: T0 - 10 * HOUR, collected: { m: 0 } }],
    lastProgressAt: T0,
    deadline: {
      atMs: T0 + dueHours * HOUR,
      raiseShare: raise === null ? null : { maxSharePercent: raise },
    },
  };
  await db.doc(`collections/${id}`).set(c);
}

const share = async (id: string) => (await db.doc(`categories/${id}`).get()).get('sharePercent');

describe('following collection deadlines', () => {
  it('warns once, raises the late share from the one ahead, audits it, and lets it settle', async () => {
    await put('late', 'a', 100, 30, 50); // 10/h, needs 30/h
    await put('ahead', 'b', 500, 50, null); // 50/h, needs 10/h
    const first = await followDeadlines(db, T0);
    expect(first.late).toEqual(['late']);
    expect(first.raised).toEqual([
      {
        provider: 'p',
        changes: [
          { category: 'a', fromPercent: 20, toPercent: 46 },
          { category: 'b', fromPercent: 40, toPercent: 24 },
        ],
        auditId: expect.any(String),
      },
    ]);
    expect([await share('a'), await share('b'), await share('c')]).toEqual([46, 24, 30]);
    const warnings = await db.collection(COLLECTION_WARNINGS).get();
    expect(warnings.docs.map((d) => d.data())).toEqual([
      expect.objectContaining({ collection: 'late', kind: 'deadline', at: T0 }),
    ]);
    // Warnings expire through the TTL policy on `expiresAt` (firestore.indexes.json).
    expect(warnings.docs[0]!.get('expiresAt').toMillis()).toBe(
      T0 + COLLECTION_WARNING_RETENTION_MS,
    );
    const audit = await db.doc(`auditLog/${first.raised[0]!.auditId}`).get();
    expect(audit.data()).toMatchObject({
      who: { uid: 'tollgate' },
      what: 'followDeadlines',
      target: 'categories/a',
      related: [{ path: 'categories/b' }],
    });
    expect((await db.doc('quotaAllocations/p').get()).exists).toBe(true);
    const stored = await new CollectionsRepository(db).get('late');
    expect(stored).toMatchObject({ lateSince: T0, deadlineRaisedAt: T0 });

    // Five minutes later: still late, no second warning, no second raise (it settles).
    const again = await followDeadlines(db, T0 + 5 * 60_000);
    expect(again).toEqual({ late: [], onTrack: [], raised: [] });
    expect((await db.collection(COLLECTION_WARNINGS).get()).size).toBe(1);
    expect(await share('a')).toBe(46);

    // Caught up: on track again, unmarked.
    await db.doc('collections/late').update({ 'marketplaces.m.collected': 990 });
    const caught = await followDeadlines(db, T0 + 10 * 60_000);
    expect(caught.onTrack).toEqual(['late']);
    expect(await new CollectionsRepository(db).get('late')).toMatchObject({ lateSince: null });
  });

  it('never takes from a category that also runs a collection without a deadline', async () => {
    await put('late', 'a', 100, 30, 50);
    await put('ahead', 'b', 500, 50, null);
    // Category b also runs work with no deadline to meet: it is not a donor.
    const { collection } = startCollection(
      undefined,
      { id: 'open-ended', provider: 'p', category: 'b', targets: { m: 100 } },
      T0 - HOUR,
    );
    await db.doc('collections/open-ended').set(collection);
    const result = await followDeadlines(db, T0);
    // Only the 10% no category held.
    expect(result.raised[0]?.changes).toEqual([{ category: 'a', fromPercent: 20, toPercent: 30 }]);
    expect(await share('b')).toBe(40);
  });

  it('warns but moves nothing when the deadline does not ask for it', async () => {
    await put('late', 'a', 100, 30, null);
    await put('ahead', 'b', 500, 50, null);
    const result = await followDeadlines(db, T0);
    expect(result).toMatchObject({ late: ['late'], raised: [] });
    expect([await share('a'), await share('b')]).toEqual([20, 40]);
  });
});

describe("the heartbeat's reads", () => {
  it('reads the running collections, never the finished ones piling up', async () => {
    await put('late', 'a', 100, 30, 50);
    const done = db.batch();
    for (let i = 0; i < 40; i++) {
      const { collection } = startCollection(
        undefined,
        { id: `old-${i}`, provider: 'p', category: 'c', targets: { m: 10 } },
        T0 - 100 * HOUR,
      );
      done.set(db.doc(`collections/old-${i}`), { ...collection, status: 'completed' });
    }
    await done.commit();
    const reads = recordReads();
    try {
      await recountRunningCollections(db);
      await followDeadlines(db, T0);
      const collectionQueries = reads.queries.filter((q) => q.collection === 'collections');
      expect(collectionQueries.length).toBeGreaterThan(0);
      for (const query of collectionQueries) expect(query.documents).toBeLessThanOrEqual(1);
    } finally {
      reads.restore();
    }
  });
});
