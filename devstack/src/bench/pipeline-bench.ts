import type { Firestore } from 'firebase-admin/firestore';
import { recordStoredCount } from '../../../functions/src/adapters/pipeline/collection-progress.ts';
import { CollectionsRepository } from '../../../functions/src/adapters/pipeline/collections-repository.ts';
import { ProductsRepository } from '../../../functions/src/adapters/pipeline/products-repository.ts';
import { ProgressBuffer } from '../../../functions/src/adapters/pipeline/progress-buffer.ts';

export interface PipelineRun {
  items: number;
  documentWrites: number;
  writesPerItem: number;
  /** Products stored but missing from the collection's count at the end (must be 0). */
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
 * The price-history path as workers run it: each collected item stores its product (one
 * transaction) and reports progress. Per response: every item counts the collection's products
 * and writes its document (what the path did). Buffered: reports coalesce in the instance
 * (`collections.progressBatch`, 3 by default) and the buffer is flushed at the end. Same
 * items, same concurrency, same Firestore, in one run; then the counts are checked.
 */
export async function runPipelineBench(
  db: Firestore,
  options: { items: number; workers: number; prefix: string },
): Promise<PipelineBenchResult> {
  await db.doc('providers/bench-pipeline').set({
    limits: [{ kind: 'tokenBucket', capacity: 1000, refillPerSecond: 100 }],
  });
  await db.doc('categories/bench-pipeline').set({ provider: 'bench-pipeline', sharePercent: 15 });
  const run = async (name: string, report: (collection: string) => Promise<void>) => {
    const collection = `${options.prefix}-${name}`;
    await new CollectionsRepository(db).startCollection({
      id: collection,
      provider: 'bench-pipeline',
      category: 'bench-pipeline',
      targets: { takealot: options.items },
    });
    const products = new ProductsRepository(db);
    const counter = countWrites(db);
    let next = 0;
    await Promise.all(
      Array.from({ length: options.workers }, async () => {
        while (next < options.items) {
          const i = next++;
          await products.upsertPriceHistory({
            marketplace: 'takealot',
            key: `${collection}-p${i}`,
            collection,
            prices: Array.from({ length: 10 }, (_, d) => ({
              date: `2026-11-${String(d + 1).padStart(2, '0')}`,
              price: 10 + d,
            })),
          });
          await report(collection);
        }
      }),
    );
    const documentWrites = counter.count();
    counter.stop();
    const stored = await new CollectionsRepository(db).get(collection);
    return {
      items: options.items,
      documentWrites,
      writesPerItem: documentWrites / options.items,
      lost: options.items - (stored?.marketplaces.takealot?.collected ?? 0),
    };
  };
  const perResponse = await run('per-response', async (collection) => {
    await recordStoredCount(db, collection, 'takealot');
  });
  const buffer = new ProgressBuffer((c, m) => recordStoredCount(db, c, m), {
    batch: () => 3,
    flushMs: () => 60_000,
  });
  // As the handler does: the report that completes a batch waits for its count.
  const buffered = await run('buffered', (collection) => buffer.report(collection, 'takealot'));
  // Runs' writes were counted before this flush of what the buffer still held; count it too.
  const counter = countWrites(db);
  await buffer.flushAll();
  buffered.documentWrites += counter.count();
  counter.stop();
  buffered.writesPerItem = buffered.documentWrites / buffered.items;
  const final = await new CollectionsRepository(db).get(`${options.prefix}-buffered`);
  buffered.lost = buffered.items - (final?.marketplaces.takealot?.collected ?? 0);
  return { perResponse, buffered, ratio: buffered.writesPerItem / perResponse.writesPerItem };
}
