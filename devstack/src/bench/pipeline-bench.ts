import type { Firestore } from 'firebase-admin/firestore';
import { recordStoredCount } from '../../../functions/src/adapters/pipeline/collection-progress.ts';
import { CollectionsRepository } from '../../../functions/src/adapters/pipeline/collections-repository.ts';
import type { PriceHistoryUpsert } from '../../../functions/src/adapters/pipeline/price-history-upsert.ts';
import {
  ProductBuffer,
  reportCreated,
} from '../../../functions/src/adapters/pipeline/product-buffer.ts';
import { ProductsRepository } from '../../../functions/src/adapters/pipeline/products-repository.ts';
import { ProgressBuffer } from '../../../functions/src/adapters/pipeline/progress-buffer.ts';

export interface PipelineRun {
  items: number;
  documentWrites: number;
  writesPerItem: number;
  /** Items not stored, or stored but missing from the collection's count, at the end (must be 0). */
  lost: number;
}

export interface PipelineBenchResult {
  perResponse: PipelineRun;
  buffered: PipelineRun;
  /** buffered writes per item / per-response writes per item. */
  ratio: number;
}

/** Counts the documents every commit of this client writes (one unary method carries them). */
function countWrites(db: Firestore): { count: () => number; stop: () => void } {
  const client = db as unknown as {
    request: (method: string, request: unknown, ...rest: unknown[]) => Promise<unknown>;
  };
  const original = client.request;
  let writes = 0;
  client.request = function (this: unknown, method, req, ...rest) {
    if (method === 'commit' || method === 'batchWrite') {
      writes += ((req as { writes?: unknown[] }).writes ?? []).length;
    }
    return original.call(db, method, req, ...rest);
  };
  return { count: () => writes, stop: () => (client.request = original) };
}

/**
 * The price-history path as workers run it: each collected item stores its product and reports
 * progress, and the worker moves on only once its product is stored (a task is acknowledged
 * with its data durable). Per response (what the path did): every item stores its product in a
 * transaction of its own, then counts the collection's products and writes its document.
 * Buffered (what workers do now): products wait in the instance's response buffer
 * (`collections.resultsBatch` 3 / `resultsFlushSeconds` 60) and are stored together, a write
 * per page; each flush that created products reports progress once, coalesced in turn
 * (`progressBatch` 3 / `progressFlushSeconds` 60); both are flushed at the end. Same items, same
 * concurrency, same Firestore, in one run; then the counts are checked.
 */
export async function runPipelineBench(
  db: Firestore,
  options: { items: number; workers: number; prefix: string },
): Promise<PipelineBenchResult> {
  await db.doc('providers/bench-pipeline').set({
    limits: [{ kind: 'tokenBucket', capacity: 1000, refillPerSecond: 100 }],
  });
  await db.doc('categories/bench-pipeline').set({ provider: 'bench-pipeline', sharePercent: 15 });
  const repository = new ProductsRepository(db);
  const run = async (
    name: string,
    store: (product: PriceHistoryUpsert) => Promise<void>,
    drain: () => Promise<void>,
  ): Promise<PipelineRun> => {
    const collection = `${options.prefix}-${name}`;
    await new CollectionsRepository(db).startCollection({
      id: collection,
      provider: 'bench-pipeline',
      category: 'bench-pipeline',
      targets: { takealot: options.items },
    });
    const counter = countWrites(db);
    let next = 0;
    await Promise.all(
      Array.from({ length: options.workers }, async () => {
        while (next < options.items) {
          const i = next++;
          await store({
            marketplace: 'takealot',
            key: `${collection}-p${i}`,
            collection,
            prices: Array.from({ length: 10 }, (_, d) => ({
              date: `2026-11-${String(d + 1).padStart(2, '0')}`,
              price: 10 + d,
            })),
          });
        }
      }),
    );
    // What the buffers still hold at the end is written too, and counted.
    await drain();
    const documentWrites = counter.count();
    counter.stop();
    const stored = await new CollectionsRepository(db).get(collection);
    const products = await repository.listByCollection(collection);
    return {
      items: options.items,
      documentWrites,
      writesPerItem: documentWrites / options.items,
      lost:
        options.items - Math.min(products.length, stored?.marketplaces.takealot?.collected ?? 0),
    };
  };
  const perResponse = await run(
    'per-response',
    async (product) => {
      await repository.upsertPriceHistory(product);
      await recordStoredCount(db, product.collection, product.marketplace);
    },
    async () => undefined,
  );
  const progress = new ProgressBuffer((c, m) => recordStoredCount(db, c, m), {
    batch: () => 3,
    flushMs: () => 60_000,
  });
  const buffer = new ProductBuffer((updates) => repository.upsertMany(updates), {
    batch: () => 3,
    flushMs: () => 60_000,
    // As the instance does: a flush that created products reports progress once.
    onStored: reportCreated((c, m) => progress.report(c, m)),
  });
  const buffered = await run(
    'buffered',
    async (product) => {
      await buffer.upsert(product);
    },
    async () => {
      await buffer.flushAll();
      await progress.flushAll();
    },
  );
  return { perResponse, buffered, ratio: buffered.writesPerItem / perResponse.writesPerItem };
}
