// Hostile review of product pages (product-store.ts, products-repository.ts, product-count.ts).
import type { Firestore } from 'firebase-admin/firestore';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { importBackup } from '../../src/adapters/backup/backup-import';
import { fromFirestoreMap } from '../../src/adapters/backup/backup-values';
import { storeTogetherOrEach } from '../../src/adapters/pipeline/product-buffer';
import { storedCount } from '../../src/adapters/pipeline/product-count';
import { pageData } from '../../src/adapters/pipeline/product-pages';
import { ProductsRepository } from '../../src/adapters/pipeline/products-repository';
import { createBackup } from '../../src/core/backup/backup-create';
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

const product = (key: string, collection = A, days = [1], price = 10) =>
  productUpdate(key, collection, days, price);

const dates = async (key: string) =>
  ((await repo.get('takealot', key))?.prices ?? []).map((p) => (p as { date: string }).date);

/** The documents holding product `id`. */
const holders = async (id: string) =>
  (await storedDocuments(db)).filter((d) => d.keys.includes(id)).map((d) => d.id);

describe('a product on two documents', () => {
  it('folding two page copies keeps every point even when the update itself changes nothing', async () => {
    await repo.upsertMany([product('p1', A, [1])]);
    const [first] = (await db.collection('products').get()).docs;
    const data = first!.data();
    // The twin page sorts after the first (`%page-z...` > `%page-<uuid hex>`), so it is the copy.
    await db.doc('products/takealot~%page-zz-twin').set({
      ...data,
      entries: [{ ...(data.entries as object[])[0], prices: [{ date: '2026-03-05', price: 9 }] }],
    });
    // A redelivery of the first copy's own point: nothing new for the merged product.
    await repo.upsertMany([product('p1', A, [1])]);
    expect(await holders('takealot~p1')).toHaveLength(1);
    // 2026-03-05 lived only on the twin, which the fold removed without writing it anywhere.
    expect(await dates('p1')).toEqual(['2026-03-01', '2026-03-05']);
  });

  it('a legacy document and a page holding the same product are folded and counted once', async () => {
    // A page written by this revision; a one-product document for the same product written by
    // an instance still on the previous revision (rolling deploy: its storedBy does not see
    // pages, so it collects the product again and creates products/{id}).
    await repo.upsertMany([product('p1', A, [1])]);
    await db.doc('products/takealot~p1').set({ ...product('p1', A, [2]), updatedAt: 5 });
    await repo.upsertMany([product('p1', A, [3])]);
    expect(await holders('takealot~p1')).toHaveLength(1);
    expect(await storedCount(db, A, 'takealot')).toBe(1);
    expect((await repo.listByCollection(A)).map((p) => p.id)).toEqual(['takealot~p1']);
  });

  it('restoring a backup of pages after a product moved keeps it on one page, counted once', async () => {
    await repo.upsertMany([product('p1', A, [1]), product('p2', A, [1])]);
    // What a scheduled backup of `products` holds: every document as it is now.
    const { docs } = await db.collection('products').get();
    const backup = createBackup({
      createdAt: 1,
      projectId: 'demo-backup',
      documents: Object.fromEntries(
        docs.map((d) => [d.ref.path, fromFirestoreMap(d.data(), d.ref.path)]),
      ),
    });
    // p2 is collected by another collection: it moves to a new page of B.
    await repo.upsertMany([product('p2', B, [2])]);
    await importBackup(db, backup, { collectedData: true });
    expect(await holders('takealot~p2')).toHaveLength(1);
    expect((await storedCount(db, A, 'takealot')) + (await storedCount(db, B, 'takealot'))).toBe(2);
  });
});

describe('one flush request stays within Firestore limits', () => {
  it('a flush of products that live on different grown pages commits under the 10 MiB request limit', async () => {
    // Pages grow to PAGE_MAX_BYTES (960 KiB) before anything moves. Twelve such pages,
    // one product of each re-collected in one flush (the buffer flushes up to 30).
    const big = 'x'.repeat(90 * 1024);
    for (let p = 0; p < 12; p++) {
      const entries = new Map<string, Record<string, unknown>>();
      for (let i = 0; i < 10; i++) {
        const key = `g${p}-${i}`;
        entries.set(`takealot~${key}`, {
          ...product(key),
          identifiers: { plid: key, blob: big },
          updatedAt: 1,
        });
      }
      await db.doc(`products/takealot~%page-grown-${p}`).set(pageData('takealot', A, entries));
    }
    // The commit request is measured, not sent: the embedded emulator refuses a message over
    // 4 MiB with RESOURCE_EXHAUSTED, which the SDK retries for 60 s, ten attempts over.
    const client = db as unknown as {
      request: (method: string, req: unknown, ...rest: unknown[]) => Promise<unknown>;
    };
    const original = client.request;
    const commits: number[] = [];
    client.request = function (this: unknown, method, req, ...rest) {
      if (method !== 'commit') return original.call(db, method, req, ...rest);
      const bytes = Buffer.byteLength(JSON.stringify((req as { writes?: unknown[] }).writes ?? []));
      commits.push(bytes);
      return Promise.reject(new Error(`commit of ${bytes} bytes not sent`));
    };
    try {
      // The batch is refused before it is sent; stored one by one, each commit is small.
      const results = await storeTogetherOrEach(
        (updates) => repo.upsertMany(updates),
        Array.from({ length: 12 }, (_, p) => product(`g${p}-0`, A, [2])),
      );
      expect(results).toHaveLength(12);
    } finally {
      client.request = original;
    }
    expect(commits.length).toBeGreaterThanOrEqual(12);
    // Production refuses a request over 10 MiB, the emulator here over 4 MiB.
    expect(Math.max(...commits)).toBeLessThan(4 * 1024 * 1024);
  }, 60_000);
});

describe('the validation runner reads a bounded page', () => {
  it('a listing page of 200 (the runner default) holds a bounded number of products', async () => {
    // Pages of 100 products with 40-point histories: 185 KB each, under PAGE_TARGET_BYTES.
    const prices = Array.from({ length: 40 }, (_, d) => ({
      date: `2025-01-${String(d).padStart(2, '0')}T00:00:00Z`,
      price: 10 + d,
    }));
    for (let pg = 0; pg < 200; pg++) {
      const entries = new Map<string, Record<string, unknown>>();
      for (let i = 0; i < 100; i++) {
        const key = `k${pg}-${i}`;
        entries.set(`takealot~${key}`, {
          marketplace: 'takealot',
          key,
          collection: A,
          identifiers: { plid: key },
          prices,
          updatedAt: 1,
        });
      }
      const id = `products/takealot~%page-${String(pg).padStart(4, '0')}`;
      await db.doc(id).set(pageData('takealot', A, entries));
    }
    const before = process.memoryUsage().heapUsed;
    const page = await repo.listByMarketplace('takealot', { pageSize: 200 });
    const heapMiB = Math.round((process.memoryUsage().heapUsed - before) / 2 ** 20);
    // Measured here: 20,000 products and about 300 MiB of heap for one read; the scheduled
    // dataValidation function runs with the default 256 MiB.
    expect(page.products.length, `${heapMiB} MiB of heap`).toBeLessThanOrEqual(2_000);
  }, 180_000);
});
