import { logger } from '../../log';
import {
  type PriceHistoryUpdate,
  type PriceHistoryUpsert,
  priceHistoryUpsertSchema,
  type UpsertOutcome,
} from './price-history-upsert';

/** Products one flush stores: one transaction, its lookups 30 keys a query. */
const MAX_FLUSH = 30;

interface Waiting {
  update: PriceHistoryUpdate;
  /** When it arrived: it is flushed by `flushMs` after that at the latest. */
  atMs: number;
  resolve: (outcome: UpsertOutcome) => void;
  reject: (error: unknown) => void;
}

export interface StoredBatch {
  update: PriceHistoryUpdate;
  outcome: UpsertOutcome;
}

/**
 * The response buffer for collected products, one per instance: products the instance's tasks
 * collected wait here and are stored together, once `batch` are waiting or `flushMs` after the
 * first, or once every task running in the instance waits here, one flush at a time (what
 * arrives meanwhile goes with the next). A flush is one
 * transaction whose new products share pages: a write per page instead of one per product.
 * Each `upsert` resolves only once its product is committed, so a task is acknowledged only
 * with its data durable; a flush that fails is stored again product by product, so one bad
 * product fails its own task alone. `onStored` hears of every flush (progress), before the
 * flush's products are answered.
 */
export class ProductBuffer {
  private waiting: Waiting[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  /** Flushes that ran, for tests and the bench. */
  flushes = 0;

  constructor(
    private readonly store: (updates: PriceHistoryUpsert[]) => Promise<UpsertOutcome[]>,
    private readonly options: {
      batch: () => number;
      flushMs: () => number;
      onStored?: (stored: StoredBatch[]) => Promise<void>;
      now?: () => number;
      /**
       * Tasks running in the instance (those waiting here included): once all of them wait,
       * the flush runs without waiting for a full batch. Unset: only the batch and time count.
       */
      running?: () => number;
    },
  ) {}

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  /** Stores the product with the next flush: resolves once it is committed. */
  upsert(input: PriceHistoryUpsert): Promise<UpsertOutcome> {
    // Checked here, so an invalid product is refused alone and never joins a flush.
    const checked = priceHistoryUpsertSchema.safeParse(input);
    if (!checked.success) return Promise.reject(checked.error);
    const update = checked.data;
    return new Promise((resolve, reject) => {
      this.waiting.push({ update, atMs: this.now(), resolve, reject });
      this.schedule();
    });
  }

  /** Looks again whether a flush is due (a task that may have stored here ended). */
  recheck(): void {
    this.schedule();
  }

  /** A flush now when a batch is waiting or the oldest product's time has come, else a timer. */
  private schedule(): void {
    const first = this.waiting[0];
    if (!first) return;
    const dueMs = first.atMs + this.options.flushMs() - this.now();
    const everyone = this.options.running && this.waiting.length >= this.options.running();
    if (this.waiting.length >= this.options.batch() || dueMs <= 0 || everyone) {
      void this.flush();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, dueMs);
  }

  /** Stores everything waiting now (an instance about to go). */
  async flushAll(): Promise<void> {
    while (this.waiting.length > 0 || this.flushing) await this.flush();
  }

  /** Runs a flush, or waits for the running one and then runs what is still due. */
  private async flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.waiting.length === 0) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    const taken = this.waiting.splice(0, MAX_FLUSH);
    this.flushing = this.run(taken).finally(() => {
      this.flushing = undefined;
      // What arrived meanwhile: at once when a batch or its time is due, else when it comes.
      this.schedule();
    });
    return this.flushing;
  }

  private async run(taken: Waiting[]): Promise<void> {
    const results = await storeTogetherOrEach(
      this.store,
      taken.map((w) => w.update),
    );
    this.flushes++;
    const stored = taken.flatMap((w, i) => {
      const outcome = results[i]?.outcome;
      return outcome ? [{ update: w.update, outcome }] : [];
    });
    if (stored.length > 0 && this.options.onStored) {
      await this.options
        .onStored(stored)
        .catch((error: unknown) => logger.warn({ err: error }, 'stored products not reported'));
    }
    taken.forEach((w, i) => {
      const { outcome, error } = results[i] ?? {};
      if (outcome) w.resolve(outcome);
      else w.reject(error);
    });
  }
}

/**
 * What a flush tells progress: once per collection and marketplace it created products for
 * (progress is a count of stored products, so one report per flush is enough).
 */
export function reportCreated(report: (collection: string, marketplace: string) => Promise<void>) {
  return async (stored: StoredBatch[]): Promise<void> => {
    const created = new Set(
      stored
        .filter((s) => s.outcome.created)
        .map((s) => JSON.stringify([s.update.collection, s.update.marketplace])),
    );
    for (const key of created) {
      const [collection, marketplace] = JSON.parse(key) as [string, string];
      await report(collection, marketplace);
    }
  };
}

export interface StoreResult {
  outcome?: UpsertOutcome;
  error?: unknown;
}

/**
 * Stores products in one batch; if the batch fails, each alone, so that one product that cannot
 * be stored (too large, invalid for Firestore) fails alone. A result per product, in order.
 */
export async function storeTogetherOrEach(
  store: (updates: PriceHistoryUpsert[]) => Promise<UpsertOutcome[]>,
  updates: PriceHistoryUpsert[],
): Promise<StoreResult[]> {
  try {
    return (await store(updates)).map((outcome) => ({ outcome }));
  } catch (error) {
    if (updates.length === 1) return [{ error }];
    logger.warn(
      { err: error, products: updates.length },
      'product batch failed: storing one by one',
    );
    const results: StoreResult[] = [];
    for (const update of updates) {
      try {
        const [outcome] = await store([update]);
        results.push({ outcome: outcome! });
      } catch (alone) {
        results.push({ error: alone });
      }
    }
    return results;
  }
}
