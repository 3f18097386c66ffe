import type { Firestore } from 'firebase-admin/firestore';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  discoveryStarter,
  markMarketplaceExhausted,
  runCollectionBatches,
} from '../../src/adapters/pipeline/collection-batches';
import { CollectionsRepository } from '../../src/adapters/pipeline/collections-repository';
import type { Enqueue } from '../../src/adapters/queues/task-queue';
import type { WorkItem } from '../../src/core/pipeline/work-items';
import { testFirestore } from '../support/firestore';

let db: Firestore;
let close: () => Promise<void>;
let enqueued: Map<string, WorkItem>;
const enqueue: Enqueue = async (_queue, item, options) => {
  if (enqueued.has(options.id as string)) return 'duplicate';
  enqueued.set(options.id as string, item);
  return 'enqueued';
};

beforeEach(async () => {
  ({ db, close } = testFirestore());
  enqueued = new Map();
  await db.doc('providers/smartproxy').set({
    limits: [{ kind: 'window', unit: 'second', limit: 10, measure: 'requests' }],
  });
  await db.doc('categories/buckcheap-historical').set({ provider: 'smartproxy', sharePercent: 15 });
  await db.doc('config/pipeline').set({ historical: { productsPerRun: 100, listingPageSize: 50 } });
  await new CollectionsRepository(db).startCollection({
    id: 'buckcheap-historical',
    provider: 'smartproxy',
    category: 'buckcheap-historical',
    targets: { takealot: 800, makro: 60 },
  });
});
afterEach(() => close());

const starter = () => discoveryStarter({ db, enqueue, queueFor: (p) => `${p}Work` });

describe('collection batches', () => {
  it('enqueues one discover item per planned page and advances the cursor', async () => {
    const [summary] = await runCollectionBatches(db, Date.now(), () => starter());
    expect(summary).toMatchObject({ outcome: 'started', detail: { pages: 4, enqueued: 4 } });
    expect([...enqueued.values()].map((i) => i.key).sort()).toEqual([
      'makro~1',
      'makro~2',
      'takealot~1',
      'takealot~2',
    ]);
    const item = [...enqueued.values()][0] as WorkItem;
    expect(item).toMatchObject({
      kind: 'discover',
      provider: 'smartproxy',
      category: 'buckcheap-historical',
    });
    // Nothing collected yet: a second run hands out nothing new.
    const [again] = await runCollectionBatches(db, Date.now(), () => starter());
    expect(again).toMatchObject({ detail: { pages: 0, enqueued: 0 } });
  });

  it('one unreadable collection document does not stop the others', async () => {
    // Written by hand or by another version: no phase, no times, no history.
    await db.doc('collections/a-broken-one').set({ provider: 'smartproxy', status: 'running' });
    const summaries = await runCollectionBatches(db, Date.now(), () => starter());
    expect(summaries).toEqual([
      expect.objectContaining({ collection: 'buckcheap-historical', outcome: 'started' }),
    ]);
    expect(enqueued.size).toBe(4);
  });

  it('a run repeated from the same state enqueues nothing twice (deterministic ids)', async () => {
    const run = starter();
    const collection = await new CollectionsRepository(db).get('buckcheap-historical');
    const [a, b] = await Promise.all([run(collection!, 0), run(collection!, 0)]);
    expect(enqueued.size).toBe(4);
    expect([a, b]).toContainEqual({ pages: 4, enqueued: expect.any(Number) });
  });

  it('skips collections that are not running or whose provider has no starter', async () => {
    await new CollectionsRepository(db).pause('buckcheap-historical');
    const [summary] = await runCollectionBatches(db, Date.now(), () => starter());
    expect(summary).toMatchObject({ outcome: 'skipped', detail: 'paused' });
    const [none] = await runCollectionBatches(db, Date.now(), () => undefined);
    expect(none).toMatchObject({ outcome: 'skipped' });
  });

  it('an exhausted marketplace gets no more pages', async () => {
    await markMarketplaceExhausted(db, 'buckcheap-historical', 'takealot');
    await runCollectionBatches(db, Date.now(), () => starter());
    expect([...enqueued.values()].map((i) => i.key).sort()).toEqual(['makro~1', 'makro~2']);
  });

  it('one failing starter does not stop the others', async () => {
    const [summary] = await runCollectionBatches(db, Date.now(), () => async () => {
      throw new Error('boom');
    });
    expect(summary).toMatchObject({ outcome: 'failed' });
  });
});
