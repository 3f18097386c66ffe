import { randomUUID } from 'node:crypto';
import { getFunctions } from 'firebase-admin/functions';
import { describe, expect, it } from 'vitest';
import { CollectionsRepository } from '../../src/adapters/pipeline/collections-repository';
import { storedCount } from '../../src/adapters/pipeline/product-count';
import { ProductsRepository } from '../../src/adapters/pipeline/products-repository';
import { wrapTask } from '../../src/core/queues/task-envelope';
import { connectToStack, fireSchedule, stack } from './support';

/**
 * The collection pipeline end to end on the local stack: the scheduled functions, the task
 * queues and the gate in the Functions emulator, calling the sandbox upstreams through the
 * real clients.
 */

const { app, db } = connectToStack();

async function fire(name: string): Promise<void> {
  expect(await fireSchedule(name)).toBe(200);
}

async function misbehave(sandbox: string, mode: string, operation?: string) {
  const response = await fetch(`${stack.urls.control}/sandboxes/${sandbox}/misbehave`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ mode, operation }),
  });
  expect(response.status).toBe(200);
}

// biome-ignore lint/suspicious/noExplicitAny: sandbox state is checked field by field
async function sandboxes(): Promise<Record<string, any>> {
  return (await fetch(`${stack.urls.control}/sandboxes`)).json();
}

async function until<T>(
  what: string,
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 150_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function shares(provider: string): Promise<Record<string, number>> {
  const snapshot = await db.collection('categories').where('provider', '==', provider).get();
  return Object.fromEntries(snapshot.docs.map((d) => [d.id, d.get('sharePercent') as number]));
}

const sum = (values: Record<string, number>) => Object.values(values).reduce((a, b) => a + b, 0);

describe('a historical collection through the proxy, end to end', () => {
  const id = 'e2e-historical';

  it('runs through all four phases with the right allocation at each, and redelivery duplicates nothing', async () => {
    await db.doc(`categories/${id}`).set({ provider: 'smartproxy', sharePercent: 15, priority: 1 });
    // Progress is coalesced per instance (3 products or 60 s by default): report within 2 s.
    await db
      .doc('config/pipeline')
      .set({ collections: { progressFlushSeconds: 2 } }, { merge: true });
    // Only this collection runs, and fast: 4.2% of the seed's 25 requests/s would take minutes.
    await new CollectionsRepository(db).pause('buckcheap-historical');
    const provider = (await db.doc('providers/smartproxy').get()).data();
    await db.doc('providers/smartproxy').update({
      limits: [
        { kind: 'window', unit: 'second', limit: 80, measure: 'requests' },
        { kind: 'concurrency', max: 20 },
      ],
    });
    const before = await shares('smartproxy');
    await new CollectionsRepository(db).startCollection({
      id,
      provider: 'smartproxy',
      category: id,
      targets: { takealot: 14, makro: 6 },
    });
    await fire('collectionBatches');

    const done = await until(
      'the collection to complete',
      async () => (await db.doc(`collections/${id}`).get()).data(),
      (c) => c?.status === 'completed',
    );
    expect(done?.marketplaces).toEqual({
      takealot: { target: 14, collected: 14 },
      makro: { target: 6, collected: 6 },
    });
    // 15% -> 10% at 30%, -> 7% at 75%, -> 4.2% at 95%: each phase entered once, in order.
    expect(
      done?.phaseHistory.map((p: { phase: number; sharePercent: number }) => [
        p.phase,
        p.sharePercent,
      ]),
    ).toEqual([
      [1, 15],
      [2, 10],
      [3, 7],
      [4, 4.2],
    ]);
    const after = await shares('smartproxy');
    expect(after[id]).toBeCloseTo(4.2);
    // The freed share went to the provider's other categories: the total is unchanged.
    expect(sum(after)).toBeCloseTo(sum(before));
    // The allocation is published just after the phase change commits: wait for it.
    await until(
      'the 4.2% share to be published',
      async () => (await db.doc('quotaAllocations/smartproxy').get()).data(),
      (published) => Math.abs(published?.categories[id]?.epochs.at(-1)?.percent - 4.2) < 1e-9,
    );

    const repository = new ProductsRepository(db);
    const products = await repository.listByCollection(id);
    expect(products).toHaveLength(20);
    const stamps = new Map(products.map((p) => [p.id, p.updatedAt]));

    // A redelivered item (same work, another task id) re-fetches and writes nothing new.
    const first = products[0]!;
    const csvBefore = (await sandboxes()).site.byKind.csv;
    await getFunctions(app)
      .taskQueue(`locations/${stack.region}/functions/smartproxyWork`)
      .enqueue(
        wrapTask({
          collection: id,
          kind: 'price-history',
          key: `${first.marketplace}~${first.key}`,
          provider: 'smartproxy',
          category: id,
          operation: 'product',
          payload: { marketplace: first.marketplace, productId: first.key },
        }),
        { id: `redelivery-${randomUUID()}` },
      );
    await until('the redelivered item to run', sandboxes, (s) => s.site.byKind.csv > csvBefore);
    await new Promise((r) => setTimeout(r, 1_000));
    const again = await repository.listByCollection(id);
    expect(again).toHaveLength(20);
    expect(new Map(again.map((p) => [p.id, p.updatedAt]))).toEqual(stamps);
    expect((await db.doc(`collections/${id}`).get()).get('marketplaces')).toEqual(
      done?.marketplaces,
    );
    await db.doc('providers/smartproxy').set(provider ?? {});
    await new CollectionsRepository(db).resume('buckcheap-historical');
  });
});

describe('the SP-API real-time sales auto-sync, end to end', () => {
  it('a quota error mid-backfill leaves exactly the unfinished chunks unmarked; they complete after the cooldown', async () => {
    const state = db.doc('autosync/spapi-vendor-sales');
    await state.delete();
    await db
      .doc('config/pipeline')
      .set(
        { backfill: { minLookbackHours: 12, chunkHours: 3, safeLagMinutes: 0 } },
        { merge: true },
      );
    await db.doc('providers/spapi').update({ cooldownSeconds: 4, 'settings.reportPollMs': 300 });
    await db.doc('cooldowns/spapi').delete();

    // The first chunk's report is created; the next createReport answers 429.
    const created = (await sandboxes()).spapi.operations.createReport.served;
    const cycle = fire('realtimeSalesSync');
    await until(
      'the first report',
      sandboxes,
      (s) => s.spapi.operations.createReport.served > created,
      60_000,
    );
    await misbehave('spapi', '429', 'createReport');
    await cycle;

    const stopped = (await state.get()).data();
    const cooldown = (await db.doc('cooldowns/spapi').get()).data();
    expect(cooldown?.until.toMillis()).toBeGreaterThan(Date.now() - 10_000);
    // Exactly one chunk stored: the watermark moved over it and nothing after it is marked.
    expect(stopped?.watermarkMs).toBeTypeOf('number');
    expect(stopped?.completed ?? []).toEqual([]);
    const firstEnd = stopped?.watermarkMs as number;
    const salesAfterFirst = (await db.collection('sales').count().get()).data().count;

    await misbehave('spapi', 'none');
    await until(
      'the cooldown to end',
      async () => Date.now(),
      (now) => now > cooldown?.until.toMillis() + 100,
      30_000,
    );
    await fire('realtimeSalesSync');
    const resumed = (await state.get()).data();
    expect(resumed?.watermarkMs).toBeGreaterThan(firstEnd);
    expect(Date.now() - (resumed?.watermarkMs as number)).toBeLessThan(10 * 60_000);
    expect(resumed?.completed ?? []).toEqual([]);
    // The hours after the first chunk are stored now (counted by hour: earlier files may have
    // stored hours of the whole collection).
    const later = await db.collection('sales').where('hourStartMs', '>=', firstEnd).count().get();
    expect(later.data().count).toBeGreaterThan(0);
    expect(salesAfterFirst).toBeGreaterThan(0);
  });
});

describe('the Keepa deals ingestor, end to end', () => {
  it('discovers deals, peeks in batches of 50 and commits in batches of 5, within the bucket', async () => {
    const id = 'e2e-keepa';
    await new CollectionsRepository(db).pause('buckcheap-historical');
    await db.doc('providers/keepa').update({ 'settings.dealPages': 1 });
    await new CollectionsRepository(db).startCollection({
      id,
      provider: 'keepa',
      category: 'keepa-deals',
      targets: { 'amazon-de': 20 },
      phases: [{ fromPercent: 0, sharePercent: 70 }],
    });
    const before = (await sandboxes()).keepa;
    await fire('collectionBatches');

    const keepa = await until(
      'two peek batches and a commit batch',
      async () => (await sandboxes()).keepa,
      (k) => {
        const fresh = k.productRequests.slice(before.productRequests.length);
        return (
          fresh.filter((r: { offers: boolean }) => !r.offers).length >= 2 &&
          fresh.some((r: { offers: boolean }) => r.offers)
        );
      },
    );
    expect(keepa.dealsServed).toBe(before.dealsServed + 1);
    const fresh = keepa.productRequests.slice(before.productRequests.length) as Array<{
      asins: number;
      offers: boolean;
    }>;
    const peeks = fresh.filter((r) => !r.offers).map((r) => r.asins);
    const commits = fresh.filter((r) => r.offers).map((r) => r.asins);
    // Light requests of 50 discoveries each; full requests of at most 5 survivors.
    expect(peeks.slice(0, 2)).toEqual([50, 50]);
    for (const size of commits) expect(size).toBeGreaterThan(0);
    for (const size of commits) expect(size).toBeLessThanOrEqual(5);
    // Tollgate paced itself: Keepa never had to refuse a request.
    expect(keepa.rejected).toBe(before.rejected);
    const stored = await until(
      'committed products',
      async () => storedCount(db, id),
      (n) => n > 0,
    );
    expect(
      (await db.doc(`collections/${id}`).get()).get('marketplaces')['amazon-de'].collected,
    ).toBeGreaterThanOrEqual(Math.min(stored, 1));
    await new CollectionsRepository(db).pause(id);
    await new CollectionsRepository(db).resume('buckcheap-historical');
  });
});
