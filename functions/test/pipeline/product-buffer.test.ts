import type { Firestore } from 'firebase-admin/firestore';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ZodError } from 'zod';
import type { PriceHistoryUpsert } from '../../src/adapters/pipeline/price-history-upsert';
import { ProductBuffer, reportCreated } from '../../src/adapters/pipeline/product-buffer';
import { storedCount } from '../../src/adapters/pipeline/product-count';
import { ProductsRepository } from '../../src/adapters/pipeline/products-repository';
import { testFirestore } from '../support/firestore';
import { quietLogger } from '../support/quiet-logger';

quietLogger();

let db: Firestore;
let close: () => Promise<void>;
let repo: ProductsRepository;
beforeEach(() => {
  ({ db, close } = testFirestore());
  repo = new ProductsRepository(db);
});
afterEach(() => close());

const product = (key: string, day = 1): PriceHistoryUpsert => ({
  marketplace: 'takealot',
  key,
  collection: 'c',
  prices: [{ date: `2026-03-0${day}`, price: 10 + day }],
});

function buffer(options: { batch?: number; flushMs?: number } = {}) {
  const flushes: string[][] = [];
  const reports: string[] = [];
  const buf = new ProductBuffer(
    (updates) => {
      flushes.push(updates.map((u) => u.key));
      return repo.upsertMany(updates);
    },
    {
      batch: () => options.batch ?? 3,
      flushMs: () => options.flushMs ?? 60_000,
      onStored: reportCreated(async (c, m) => {
        reports.push(`${c}/${m}`);
      }),
    },
  );
  return { buf, flushes, reports };
}

describe('the response buffer for collected products', () => {
  it('stores a batch together, and answers each product only once it is committed', async () => {
    const { buf, flushes, reports } = buffer();
    const answers = await Promise.all(
      ['a', 'b', 'c'].map(async (key) => {
        const outcome = await buf.upsert(product(key));
        // Durable when answered: readable at once.
        return { outcome, stored: (await repo.get('takealot', key))?.key };
      }),
    );
    expect(answers.map((a) => [a.outcome.created, a.stored])).toEqual([
      [true, 'a'],
      [true, 'b'],
      [true, 'c'],
    ]);
    expect(flushes).toEqual([['a', 'b', 'c']]);
    expect(reports).toEqual(['c/takealot']);
    expect((await db.collection('products').get()).size).toBe(1);
  });

  it('stores fewer than a batch once the oldest has waited flushMs', async () => {
    const { buf, flushes } = buffer({ flushMs: 30 });
    const outcome = await buf.upsert(product('alone'));
    expect(outcome.created).toBe(true);
    expect(flushes).toEqual([['alone']]);
  });

  it('stores at once when every task running in the instance waits on it', async () => {
    const buf = new ProductBuffer((updates) => repo.upsertMany(updates), {
      batch: () => 3,
      flushMs: () => 60_000,
      running: () => 1,
    });
    expect((await buf.upsert(product('only'))).created).toBe(true);
  });

  it('puts what arrives during a flush into the next one, whole', async () => {
    const { buf, flushes } = buffer({ batch: 2 });
    const keys = Array.from({ length: 9 }, (_, i) => `k${i}`);
    await Promise.all(keys.map((key) => buf.upsert(product(key))));
    expect(flushes.flat().sort()).toEqual(keys);
    // The first flush took two; the seven that came while it ran went together.
    expect(flushes.map((f) => f.length)).toEqual([2, 7]);
    expect(await storedCount(db, 'c', 'takealot')).toBe(9);
  });

  it('refuses an invalid product alone, with the field, before it joins a flush', async () => {
    const { buf, flushes } = buffer({ batch: 2 });
    const bad = buf.upsert({ ...product('bad'), marketplace: 'a~b' }).catch((e: unknown) => e);
    expect(await bad).toBeInstanceOf(ZodError);
    expect(((await bad) as ZodError).issues[0]?.path).toEqual(['marketplace']);
    await Promise.all([buf.upsert(product('x')), buf.upsert(product('y'))]);
    expect(flushes).toEqual([['x', 'y']]);
  });

  it('fails only the product that cannot be stored when a flush fails', async () => {
    const { buf } = buffer();
    const huge = {
      ...product('huge'),
      prices: Array.from({ length: 16_000 }, (_, d) => ({
        date: `d${d}`.padEnd(60, '.'),
        price: d,
      })),
    };
    const results = await Promise.allSettled([
      buf.upsert(product('ok1')),
      buf.upsert(huge),
      buf.upsert(product('ok2')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await storedCount(db, 'c', 'takealot')).toBe(2);
  });

  it('merges every point of one product collected by many tasks at once', async () => {
    const { buf } = buffer({ batch: 4 });
    await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map((day) => buf.upsert(product('same', day))));
    expect((await repo.get('takealot', 'same'))!.prices).toHaveLength(8);
    expect(await storedCount(db, 'c', 'takealot')).toBe(1);
  });

  it('stores what is waiting on flushAll (an instance about to go)', async () => {
    const { buf } = buffer({ batch: 10 });
    const pending = [buf.upsert(product('a')), buf.upsert(product('b'))];
    await buf.flushAll();
    expect((await Promise.all(pending)).map((o) => o.created)).toEqual([true, true]);
  });
});
