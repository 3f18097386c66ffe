import type { Firestore } from 'firebase-admin/firestore';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { storedCount } from '../../src/adapters/pipeline/product-count';
import { PAGE_MAX_BYTES } from '../../src/adapters/pipeline/product-pages';
import { ProductsRepository } from '../../src/adapters/pipeline/products-repository';
import { FirestoreLimitError } from '../../src/core/storage/firestore-limits';
import { testFirestore } from '../support/firestore';
import { A, B, productUpdate, storedDocuments } from './product-pages-support';

let db: Firestore;
let close: () => Promise<void>;
let repo: ProductsRepository;
beforeEach(() => {
  ({ db, close } = testFirestore());
  repo = new ProductsRepository(db, { now: () => 1_000 });
});
afterEach(() => close());

const product = (key: string, collection = A, days = [1, 2], price = 10) =>
  productUpdate(key, collection, days, price);

/** Every stored document, and the product ids each holds. */
const documents = () => storedDocuments(db);

/** Document writes of everything this Firestore commits while `run` runs. */
async function writesOf(run: () => Promise<unknown>): Promise<number> {
  const client = db as unknown as {
    request: (method: string, req: unknown, ...rest: unknown[]) => Promise<unknown>;
  };
  const original = client.request;
  let writes = 0;
  client.request = function (this: unknown, method, req, ...rest) {
    if (method === 'commit') writes += ((req as { writes?: unknown[] }).writes ?? []).length;
    return original.call(db, method, req, ...rest);
  };
  try {
    await run();
  } finally {
    client.request = original;
  }
  return writes;
}

describe('products stored several to a page', () => {
  it('stores a batch of new products as one page: one write, each product readable', async () => {
    const batch = ['p1', 'p2', 'p3', 'p4', 'p5'].map((key) => product(key));
    expect(await writesOf(() => repo.upsertMany(batch))).toBe(1);
    const docs = await documents();
    expect(docs).toHaveLength(1);
    expect(docs[0]!.keys.sort()).toEqual(batch.map((p) => `takealot~${p.key}`));
    expect(await repo.get('takealot', 'p3')).toMatchObject({
      id: 'takealot~p3',
      key: 'p3',
      collection: A,
      identifiers: { plid: 'p3' },
      prices: [
        { date: '2026-03-01', price: 10 },
        { date: '2026-03-02', price: 10 },
      ],
    });
    expect([...(await repo.storedBy(A, 'takealot', ['p1', 'p9', 'p5']))]).toEqual(['p1', 'p5']);
    expect(await repo.storedBy(B, 'takealot', ['p1'])).toEqual(new Set());
    expect((await repo.listByCollection(A)).map((p) => p.key)).toEqual([
      'p1',
      'p2',
      'p3',
      'p4',
      'p5',
    ]);
    expect(await storedCount(db, A, 'takealot')).toBe(5);
  });

  it('merges re-collected points into the page they are on; a redelivery writes nothing', async () => {
    await repo.upsertMany([product('p1'), product('p2')]);
    const outcomes = await repo.upsertMany([product('p1', A, [2, 3], 11), product('p2')]);
    expect(outcomes.map((o) => [o.created, o.added, o.replaced, o.written])).toEqual([
      [false, 1, 1, true],
      [false, 0, 0, false],
    ]);
    expect(await documents()).toHaveLength(1);
    expect((await repo.get('takealot', 'p1'))!.prices).toEqual([
      { date: '2026-03-01', price: 10 },
      { date: '2026-03-02', price: 11 },
      { date: '2026-03-03', price: 11 },
    ]);
    expect(
      await writesOf(() => repo.upsertMany([product('p1', A, [2, 3], 11), product('p2')])),
    ).toBe(0);
    expect(await storedCount(db, A, 'takealot')).toBe(2);
  });

  it('moves a product collected by another collection to that collection’s page, and counts it there', async () => {
    await repo.upsertMany([product('p1'), product('p2')]);
    await repo.upsertMany([product('p2', B, [3])]);
    expect(await storedCount(db, A, 'takealot')).toBe(1);
    expect(await storedCount(db, B, 'takealot')).toBe(1);
    expect((await repo.get('takealot', 'p2'))!.prices).toHaveLength(3);
    expect([...(await repo.storedBy(B, 'takealot', ['p1', 'p2']))]).toEqual(['p2']);
    const docs = await documents();
    expect(docs.flatMap((d) => d.keys).sort()).toEqual(['takealot~p1', 'takealot~p2']);
  });

  it('reads and updates a product document of its own (stored before pages) in place', async () => {
    await db.doc('products/takealot~old').set({ ...product('old'), updatedAt: 5 });
    await repo.upsertMany([product('old', A, [3]), product('new')]);
    expect((await repo.get('takealot', 'old'))!.prices).toHaveLength(3);
    expect(await storedCount(db, A, 'takealot')).toBe(2);
    expect((await documents()).map((d) => d.keys.length).sort()).toEqual([1, 1]);
    expect((await repo.listByMarketplace('takealot')).products.map((p) => p.key)).toEqual([
      'new',
      'old',
    ]);
  });

  it('folds a product found on two pages (two flushes that created it at once) into one', async () => {
    await repo.upsertMany([product('p1', A, [1])]);
    // A second page holding the same product, as a race between two instances could leave.
    const [first] = await documents();
    const data = (await db.doc(`products/${first!.id}`).get()).data()!;
    await db.doc('products/takealot~%page-twin').set({
      ...data,
      entries: [{ ...(data.entries as object[])[0], prices: [{ date: '2026-03-05', price: 9 }] }],
    });
    await repo.upsertMany([product('p1', A, [2])]);
    const docs = await documents();
    expect(docs.flatMap((d) => d.keys)).toEqual(['takealot~p1']);
    expect(
      (await repo.get('takealot', 'p1'))!.prices.map((p) => (p as { date: string }).date),
    ).toEqual(['2026-03-01', '2026-03-02', '2026-03-05']);
    expect(await storedCount(db, A, 'takealot')).toBe(1);
  });

  it('moves a product whose history outgrew its page to a new page, keeping the others', async () => {
    const long = (key: string, from: number, length: number) => ({
      ...product(key),
      prices: Array.from({ length }, (_, d) => ({
        date: `k${from + d}`.padEnd(60, '.'),
        price: d,
      })),
    });
    // Two histories of about 80 KiB share a page with a small product; each grows to 560 KiB.
    await repo.upsertMany([long('big1', 0, 1_000), long('big2', 0, 1_000), product('small')]);
    const [page] = await documents();
    expect(page!.keys).toHaveLength(3);
    await repo.upsertMany([long('big1', 1_000, 6_000), long('big2', 1_000, 6_000)]);
    const docs = await documents();
    expect(docs.flatMap((d) => d.keys).sort()).toEqual([
      'takealot~big1',
      'takealot~big2',
      'takealot~small',
    ]);
    // The small product stays where it was; the two that grew have pages of their own.
    expect(docs.find((d) => d.id === page!.id)?.keys).toEqual(['takealot~small']);
    expect(docs).toHaveLength(3);
    for (const doc of docs) {
      const data = (await db.doc(`products/${doc.id}`).get()).data()!;
      expect(JSON.stringify(data).length).toBeLessThan(PAGE_MAX_BYTES);
    }
    expect((await repo.get('takealot', 'big2'))!.prices).toHaveLength(7_000);
    expect(await storedCount(db, A, 'takealot')).toBe(3);
  });

  it('refuses a product too large for any page, naming it, and stores nothing of the batch', async () => {
    const huge = {
      ...product('huge'),
      prices: Array.from({ length: 16_000 }, (_, d) => ({
        date: `d${d}`.padEnd(60, '.'),
        price: d,
      })),
    };
    const error = await repo.upsertMany([product('small'), huge]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FirestoreLimitError);
    expect(String(error)).toContain('takealot~huge');
    expect(await documents()).toEqual([]);
  });

  it('loses nothing when instances flush the same products at once', async () => {
    const instances = Array.from({ length: 4 }, () => new ProductsRepository(db));
    await Promise.all(
      instances.map((r, i) =>
        r.upsertMany(['p1', 'p2', 'p3'].map((key) => product(key, A, [i + 1, 10 + i], 10))),
      ),
    );
    const docs = await documents();
    // Transactions serialize: no product on two pages, every instance's points kept.
    expect(docs.flatMap((d) => d.keys).sort()).toEqual([
      'takealot~p1',
      'takealot~p2',
      'takealot~p3',
    ]);
    for (const key of ['p1', 'p2', 'p3']) {
      expect((await repo.get('takealot', key))!.prices).toHaveLength(8);
    }
    expect(await storedCount(db, A, 'takealot')).toBe(3);
  });
});
