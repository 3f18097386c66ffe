// The response buffer's 'every running task waits' trigger (product-buffer.ts, running-work.ts).
import { describe, expect, it } from 'vitest';
import type {
  PriceHistoryUpsert,
  UpsertOutcome,
} from '../../src/adapters/pipeline/price-history-upsert';
import { ProductBuffer } from '../../src/adapters/pipeline/product-buffer';
import { asRunningWork, onWorkEnded, runningWork } from '../../src/adapters/pipeline/running-work';

const product = (key: string) => ({
  marketplace: 'takealot',
  key,
  collection: 'c',
  prices: [{ date: '2026-03-01', price: 10 }],
});

/** A buffer on a fake store (a few ms a flush), flushing by 3 or after 60 s, as deployed. */
function buffer() {
  const flushes: string[][] = [];
  const buf = new ProductBuffer(
    async (updates: PriceHistoryUpsert[]): Promise<UpsertOutcome[]> => {
      flushes.push(updates.map((u) => u.key));
      await new Promise((r) => setTimeout(r, 5));
      return updates.map((u) => ({
        id: u.key,
        created: true,
        added: 1,
        replaced: 0,
        points: 1,
        written: true,
      }));
    },
    { batch: () => 3, flushMs: () => 60_000, running: runningWork },
  );
  // As instance-products.ts wires it: a task ending may leave every other one waiting here.
  onWorkEnded(() => buf.recheck());
  return { buf, flushes };
}

/** Resolves to 'stored' if `p` settles within `ms`, else 'still waiting'. */
const within = (p: Promise<unknown>, ms: number) =>
  Promise.race([
    p.then(() => 'stored'),
    new Promise((r) => setTimeout(() => r('still waiting'), ms).unref()),
  ]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the "every running task waits" trigger', () => {
  it('stores a product once the only other running task ends without storing one', async () => {
    const { buf } = buffer();
    let endOther!: () => void;
    // A listing-page (discovery) task or a Keepa task: it runs in the instance, stores no product.
    const other = asRunningWork(() => new Promise<void>((r) => (endOther = r)));
    const task = asRunningWork(() => buf.upsert(product('a')));
    await sleep(20);
    endOther();
    await other;
    // Now every running task waits on the buffer, yet the flush waits for its 60 s timer.
    const waited = await within(task, 1_000);
    await buf.flushAll();
    await task;
    expect(waited).toBe('stored');
  });
});
