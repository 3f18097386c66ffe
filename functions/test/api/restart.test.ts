import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BATCHES_COLLECTION,
  discoveryStarter,
} from '../../src/adapters/pipeline/collection-batches';
import { ProductsRepository } from '../../src/adapters/pipeline/products-repository';
import type { RestartCollectionResult, StartCollectionResult } from '../../src/core/operations';
import type { Collection } from '../../src/core/pipeline/collection-schema';
import { startCollection } from '../../src/core/pipeline/collections';
import { quietLogger } from '../support/quiet-logger';
import { type ApiFixture, apiFixture, as, auditEntries, call, SEED_COLLECTION } from './support';

/**
 * A stalled collection restarts, by restartCollection or by starting it again with the same
 * target (the runbook's way): counts, phase and history kept, the restart audited, and its
 * lost work re-issued: listing pages from where the collected count stands, under task ids
 * of the restart's own, so tasks Cloud Tasks lost (or still remembers) do not block them.
 */

quietLogger();

const ID = 'history-2026';
let f: ApiFixture;

beforeEach(async () => {
  f = await apiFixture();
  f.deps.startBatch = discoveryStarter({
    db: f.db,
    enqueue: f.deps.enqueue,
    queueFor: (provider) => `${provider}Work`,
    config: async () => ({ productsPerRun: 100, listingPageSize: 50 }),
  });
});
afterEach(() => f.close());

/** A price-history collection that collected 60 of 300, handed out pages 1-4, then stalled. */
async function stalledHistory(): Promise<Collection> {
  const { collection } = startCollection(
    undefined,
    { id: ID, provider: 'smartproxy', category: 'historical', targets: { takealot: 300 } },
    f.clock.now - 6 * 3_600_000,
  );
  const stalled: Collection = {
    ...collection,
    marketplaces: { takealot: { target: 300, collected: 60 } },
    status: 'stalled',
    stalledAt: f.clock.now - 3_600_000,
  };
  await f.db.doc(`collections/${ID}`).set(stalled);
  await f.db.doc(`${BATCHES_COLLECTION}/${ID}`).set({
    marketplaces: { takealot: { nextPage: 5, exhausted: false } },
  });
  return stalled;
}

async function restart(id = ID) {
  return (await f.callables.restartCollection.run(
    as('operator', { id }, 'op-1'),
  )) as RestartCollectionResult;
}

describe('restarting a stalled collection', () => {
  it('runs it again with its counts, audits it, and re-issues the lost pages', async () => {
    const before = await stalledHistory();
    const result = await restart();
    expect(result.collection).toMatchObject({
      status: 'running',
      stalledAt: null,
      restarts: 1,
      phase: before.phase,
      marketplaces: { takealot: { target: 300, collected: 60 } },
    });
    expect(result.collection.phaseHistory).toEqual(before.phaseHistory);
    // 60 collected of 50 a page: page 2 holds the first missing product; up to 160 handed out.
    expect(result.reissued).toEqual({ pages: 3, enqueued: 3 });
    const keys = f.enqueued.map((e) => e.item.key);
    expect(keys).toEqual(['takealot~2~r1', 'takealot~3~r1', 'takealot~4~r1']);
    expect(f.enqueued.every((e) => e.options.id?.includes('r1'))).toBe(true);
    expect(f.enqueued[0]!.item.payload).toMatchObject({ page: 2, generation: 1 });
    const audit = (await auditEntries(f.db)).find((a) => a.what === 'restartCollection');
    expect(audit).toMatchObject({ target: `collections/${ID}`, who: { uid: 'op-1' } });
    expect(audit?.before).toMatchObject({ status: 'stalled', restarts: 0 });
    expect(audit?.after).toMatchObject({ status: 'running', restarts: 1 });

    // A second restart while running is a generation of its own: ids never collide.
    f.enqueued.length = 0;
    const again = await restart();
    expect(again.collection.restarts).toBe(2);
    expect(f.enqueued.map((e) => e.item.key)).toEqual([
      'takealot~2~r2',
      'takealot~3~r2',
      'takealot~4~r2',
    ]);
  });

  it('restarts when started again with the same target, as the runbook says', async () => {
    await stalledHistory();
    await f.db.doc('providers/smartproxy').set({
      limits: [{ kind: 'window', unit: 'minute', limit: 600, measure: 'requests' }],
    });
    await f.db.doc('categories/historical').set({ provider: 'smartproxy', sharePercent: 30 });
    const started = await call(f, 'startCollection', {
      id: ID,
      provider: 'smartproxy',
      category: 'historical',
      targets: { takealot: 300 },
    });
    expect(started.ok, JSON.stringify(started)).toBe(true);
    const result = (started as { result: StartCollectionResult }).result;
    expect(result).toMatchObject({ restarted: true, changed: true });
    expect(result.collection).toMatchObject({ status: 'running', restarts: 1 });
    expect(result.collection.marketplaces.takealot).toEqual({ target: 300, collected: 60 });
    expect(f.enqueued.map((e) => e.item.key)).toEqual([
      'takealot~2~r1',
      'takealot~3~r1',
      'takealot~4~r1',
    ]);
  });

  it('refuses a paused or completed collection and an unknown one, writing nothing', async () => {
    const stalled = await stalledHistory();
    await f.db.doc(`collections/${ID}`).set({ ...stalled, status: 'paused', stalledAt: null });
    const paused = await call(f, 'restartCollection', { id: ID }, 'operator');
    expect(paused.ok ? null : paused.error.code).toBe('failed-precondition');
    const unknown = await call(f, 'restartCollection', { id: 'nope' }, 'operator');
    expect(unknown.ok ? null : unknown.error.code).toBe('not-found');
    expect(f.enqueued).toEqual([]);
    expect((await auditEntries(f.db)).filter((a) => a.what === 'restartCollection')).toEqual([]);
  });

  it('leaves a collection without discovery state to its batch starter', async () => {
    await f.db.doc(`collections/${SEED_COLLECTION}`).update({ status: 'stalled' });
    let started: Collection | undefined;
    f.deps.startBatch = async (collection) => {
      started = collection;
      return { dealScan: 'enqueued' };
    };
    const result = await restart(SEED_COLLECTION);
    expect(result.reissued).toEqual({ dealScan: 'enqueued' });
    expect(started).toMatchObject({ id: SEED_COLLECTION, status: 'running', restarts: 1 });
  });
});

describe('products a re-discovered page finds', () => {
  it('are skipped when this collection stored them, not when another did', async () => {
    const products = new ProductsRepository(f.db, { now: () => f.clock.now });
    const point = { date: '2026-11-01', price: 10 };
    await products.upsertPriceHistory({
      marketplace: 'takealot',
      key: 'p1',
      collection: ID,
      prices: [point],
    });
    await products.upsertPriceHistory({
      marketplace: 'takealot',
      key: 'p2',
      collection: 'other',
      prices: [point],
    });
    const stored = await products.storedBy(ID, 'takealot', ['p1', 'p2', 'p3', 'a/b']);
    expect([...stored]).toEqual(['p1']);
  });
});
