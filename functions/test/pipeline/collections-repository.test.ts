import type { Firestore } from 'firebase-admin/firestore';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CollectionNotFoundError,
  CollectionsRepository,
} from '../../src/adapters/pipeline/collections-repository';
import { readAllocation } from '../../src/adapters/quota/allocations';
import { ConfigError } from '../../src/core/config';
import type { StartCollectionRequest } from '../../src/core/pipeline/collection-schema';
import { testFirestore } from '../support/firestore';

const T0 = Date.UTC(2026, 0, 1);
const MINUTE = 60_000;

let db: Firestore;
let close: () => Promise<void>;
let clock: number;
let repo: CollectionsRepository;

beforeEach(async () => {
  ({ db, close } = testFirestore());
  clock = T0;
  repo = new CollectionsRepository(db, { now: () => clock });
  await db.doc('providers/smartproxy').set({
    limits: [{ kind: 'window', unit: 'second', limit: 10, measure: 'requests' }],
  });
  await db.doc('categories/buckcheap-historical').set({
    provider: 'smartproxy',
    sharePercent: 15,
    priority: 1,
  });
  await db.doc('categories/proxy-live-prices').set({
    provider: 'smartproxy',
    sharePercent: 60,
    priority: 2,
  });
});
afterEach(() => close());

const HISTORICAL: StartCollectionRequest = {
  id: 'buckcheap-historical',
  provider: 'smartproxy',
  category: 'buckcheap-historical',
  targets: { takealot: 800, makro: 400 },
};

async function shares(): Promise<Record<string, number>> {
  const snapshot = await db.collection('categories').get();
  return Object.fromEntries(snapshot.docs.map((d) => [d.id, d.get('sharePercent') as number]));
}

async function published(): Promise<Record<string, number>> {
  const doc = await readAllocation(db, 'smartproxy');
  return Object.fromEntries(
    Object.entries(doc?.categories ?? {}).map(([id, c]) => [id, c.at(-1)!.percent]),
  );
}

describe('collections repository: phases', () => {
  it('runs a collection through all four phases with the right shares at each', async () => {
    const started = await repo.startCollection(HISTORICAL);
    expect(started).toMatchObject({ created: true, written: true, shareChanges: [] });
    expect(started.collection).toMatchObject({ phase: 1, status: 'running' });

    const steps = [
      // 360 of 1200 is 30%; 900 is 75%; 1140 is 95%.
      { progress: { marketplace: 'takealot', collected: 360 }, phase: 2, hist: 10, live: 65 },
      { progress: { marketplace: 'takealot', collected: 800 }, phase: 2, hist: 10, live: 65 },
      { progress: { marketplace: 'makro', added: 100 }, phase: 3, hist: 7, live: 68 },
      { progress: { marketplace: 'makro', added: 240 }, phase: 4, hist: 4.2, live: 70.8 },
    ];
    for (const step of steps) {
      clock += 60 * MINUTE;
      const outcome = await repo.recordProgress('buckcheap-historical', step.progress);
      expect(outcome.collection.phase).toBe(step.phase);
      expect(await shares()).toEqual({
        'buckcheap-historical': step.hist,
        'proxy-live-prices': step.live,
      });
      if (outcome.transition) expect(outcome.allocationPublished).toBe(true);
      expect(await published()).toEqual({
        'buckcheap-historical': step.hist,
        'proxy-live-prices': step.live,
      });
    }

    const done = await repo.recordProgress('buckcheap-historical', {
      marketplace: 'makro',
      collected: 400,
    });
    expect(done).toMatchObject({ completedNow: true, transition: null, shareChanges: [] });
    const stored = await repo.get('buckcheap-historical');
    expect(stored?.status).toBe('completed');
    expect(stored?.phaseHistory).toEqual([
      { phase: 1, sharePercent: 15, at: T0 },
      { phase: 2, sharePercent: 10, at: T0 + 60 * MINUTE },
      { phase: 3, sharePercent: 7, at: T0 + 180 * MINUTE },
      { phase: 4, sharePercent: 4.2, at: T0 + 240 * MINUTE },
    ]);
    // The category document keeps its other fields.
    expect((await db.doc('categories/proxy-live-prices').get()).get('priority')).toBe(2);
    const report = await repo.status('buckcheap-historical');
    expect(report).toMatchObject({ phase: 4, phaseSharePercent: 4.2, effectiveSharePercent: 4.2 });
    expect(report.overall).toMatchObject({ collected: 1200, target: 1200, percent: 100 });
  });

  it('enters every phase passed by one jump, so the share follows the schedule', async () => {
    await repo.startCollection(HISTORICAL);
    const outcome = await repo.recordProgress('buckcheap-historical', {
      marketplace: 'takealot',
      collected: 800, // 67%: past 30%, short of 75%
    });
    expect(outcome.transition).toMatchObject({ from: 1, to: 2, sharePercent: 10 });
    expect(await shares()).toEqual({ 'buckcheap-historical': 10, 'proxy-live-prices': 65 });
  });

  it('rejects a collection whose category is not configured for its provider', async () => {
    const error = await repo
      .startCollection({ ...HISTORICAL, id: 'other', category: 'nope' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain('categories/nope');
    expect(await repo.get('other')).toBeUndefined();
  });
});

describe('collections repository: starting and progress', () => {
  it('starting twice neither duplicates nor restarts; a new target only updates the target', async () => {
    await repo.startCollection(HISTORICAL);
    clock += 10 * MINUTE;
    await repo.recordProgress('buckcheap-historical', { marketplace: 'takealot', collected: 100 });
    const before = await repo.get('buckcheap-historical');

    clock += 10 * MINUTE;
    const again = await repo.startCollection(HISTORICAL);
    expect(again).toMatchObject({ created: false, changed: false, written: false });
    expect(await repo.get('buckcheap-historical')).toEqual(before);

    const raised = await repo.startCollection({
      ...HISTORICAL,
      targets: { takealot: 1000 },
    });
    expect(raised).toMatchObject({ created: false, changed: true, written: true });
    expect(raised.collection).toMatchObject({
      startedAt: T0,
      phase: 1,
      restarts: 0,
      marketplaces: { takealot: { target: 1000, collected: 100 }, makro: { target: 400 } },
    });
    expect((await db.collection('collections').get()).size).toBe(1);
    expect(await shares()).toEqual({ 'buckcheap-historical': 15, 'proxy-live-prices': 60 });
  });

  it('loses nothing when 20 progress reports arrive at once, across a transition', async () => {
    await repo.startCollection({ ...HISTORICAL, targets: { takealot: 40 } });
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, () =>
        repo.recordProgress('buckcheap-historical', { marketplace: 'takealot', added: 1 }),
      ),
    );
    const stored = await repo.get('buckcheap-historical');
    expect(stored?.marketplaces.takealot?.collected).toBe(20);
    expect(stored?.phase).toBe(2);
    // Exactly one report crossed 30% (12 of 40) and moved the share, once.
    expect(outcomes.filter((o) => o.transition)).toHaveLength(1);
    expect(await shares()).toEqual({ 'buckcheap-historical': 10, 'proxy-live-prices': 65 });
  });

  it('reports a missing collection', async () => {
    await expect(
      repo.recordProgress('missing', { marketplace: 'takealot', added: 1 }),
    ).rejects.toBeInstanceOf(CollectionNotFoundError);
    await expect(repo.status('missing')).rejects.toBeInstanceOf(CollectionNotFoundError);
  });
});

describe('collections repository: stalls, pause and resume', () => {
  it('marks a collection without progress stalled and restarts it keeping its counts', async () => {
    await db.doc('config/pipeline').set({ collections: { stalledAfterMinutes: 60 } });
    await repo.startCollection(HISTORICAL);
    clock += 10 * MINUTE;
    await repo.recordProgress('buckcheap-historical', { marketplace: 'makro', collected: 100 });

    clock += 59 * MINUTE;
    expect(await repo.markStalled()).toEqual([]);
    clock += 1 * MINUTE;
    expect(await repo.markStalled()).toEqual(['buckcheap-historical']);
    expect(await repo.markStalled()).toEqual([]); // already stalled
    const stalled = await repo.get('buckcheap-historical');
    expect(stalled).toMatchObject({ status: 'stalled', stalledAt: clock });
    expect(stalled?.marketplaces.makro?.collected).toBe(100);

    clock += 5 * MINUTE;
    const restarted = await repo.restartStalled('buckcheap-historical');
    expect(restarted).toMatchObject({ restarted: true, written: true });
    expect(restarted.collection).toMatchObject({
      status: 'running',
      stalledAt: null,
      restarts: 1,
      lastProgressAt: clock,
      marketplaces: { makro: { target: 400, collected: 100 }, takealot: { collected: 0 } },
    });
    expect(await repo.restartStalled('buckcheap-historical')).toMatchObject({
      restarted: false,
      written: false,
    });
    const report = await repo.status('buckcheap-historical');
    expect(report).toMatchObject({ status: 'running', phase: 1, effectiveSharePercent: 15 });
    expect(report.overall.collected).toBe(100);
  });

  it('never marks a paused collection stalled; resuming starts the clock over', async () => {
    await db.doc('config/pipeline').set({ collections: { stalledAfterMinutes: 60 } });
    await repo.startCollection(HISTORICAL);
    expect((await repo.pause('buckcheap-historical')).collection.status).toBe('paused');
    expect((await repo.pause('buckcheap-historical')).written).toBe(false);
    clock += 120 * MINUTE;
    expect(await repo.markStalled()).toEqual([]);
    const resumed = await repo.resume('buckcheap-historical');
    expect(resumed.collection).toMatchObject({ status: 'running', lastProgressAt: clock });
    clock += 30 * MINUTE;
    expect(await repo.markStalled()).toEqual([]);
    expect((await repo.list()).map((c) => [c.id, c.status])).toEqual([
      ['buckcheap-historical', 'running'],
    ]);
  });
});
