import { logger } from '../../log';

/**
 * Coalesces a collection's progress reports in an instance. Every stored product used to write
 * the collection's document (a count query and a transaction): one hot document written once
 * per product by every worker. Here reports for a (collection, marketplace) add up and one
 * count is recorded once `batch` of them are pending or `flushMs` after the first, one at a
 * time per key (a report arriving meanwhile runs one more afterwards). Progress is the number
 * of stored products, counted afresh each time, so nothing a lost or late flush held is lost:
 * the next flush, or the heartbeat's recount, records the true count.
 */
export class ProgressBuffer {
  private readonly pending = new Map<string, { count: number; timer?: NodeJS.Timeout }>();
  private readonly running = new Map<string, Promise<void>>();
  /** Counts recorded (flushes that ran), for tests and the bench. */
  flushes = 0;

  constructor(
    private readonly record: (collection: string, marketplace: string) => Promise<unknown>,
    private readonly options: { batch: () => number; flushMs: () => number },
  ) {}

  /**
   * One product stored. Resolves at once, or, for the report that completes a batch, once the
   * batch's count is recorded: a handler that awaits it records progress inside its request
   * (Cloud Functions throttles an instance's CPU between requests, so a timer alone could wait
   * for the next one). Never rejects.
   */
  report(collection: string, marketplace: string): Promise<void> {
    const key = JSON.stringify([collection, marketplace]);
    const entry = this.pending.get(key) ?? { count: 0 };
    entry.count++;
    this.pending.set(key, entry);
    if (entry.count >= this.options.batch()) return this.flush(key);
    if (!entry.timer) {
      entry.timer = setTimeout(() => void this.flush(key), this.options.flushMs());
      entry.timer.unref();
    }
    return Promise.resolve();
  }

  /** Records every pending count now (an instance about to go). */
  async flushAll(): Promise<void> {
    await Promise.all([...this.pending.keys()].map((key) => this.flush(key)));
    await Promise.all(this.running.values());
  }

  private async flush(key: string): Promise<void> {
    const entry = this.pending.get(key);
    if (!entry) return;
    const busy = this.running.get(key);
    if (busy) {
      // One at a time per key: what arrives meanwhile is recorded by one more run after it.
      await busy;
      return this.flush(key);
    }
    clearTimeout(entry.timer);
    this.pending.delete(key);
    const [collection, marketplace] = JSON.parse(key) as [string, string];
    const run = this.record(collection, marketplace)
      .then(() => {
        this.flushes++;
      })
      .catch((error: unknown) =>
        logger.warn({ err: error, collection, marketplace }, 'collection progress not recorded'),
      )
      .finally(() => this.running.delete(key));
    this.running.set(key, run);
    await run;
  }
}
