import type { Firestore } from 'firebase-admin/firestore';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startKeepaSandbox } from '../../../devstack/src/sandbox/keepa.ts';
import { sandboxDealAsin } from '../../../devstack/src/sandbox/keepa-deals.ts';
import { sandboxProduct } from '../../../devstack/src/sandbox/keepa-products.ts';
import { KEEPA_SANDBOX_KEY } from '../../../devstack/src/sandbox/keepa-rules.ts';
import type { KeepaSandbox } from '../../../devstack/src/sandbox/keepa-types.ts';
import { upstreamErrors } from '../../src/adapters/observability/metrics';
import {
  type IngestFetchers,
  type IngestSliceSummary,
  runIngestSlice,
} from '../../src/adapters/pipeline/ingest';
import { addIngestItems } from '../../src/adapters/pipeline/ingest-queue-writes';
import { ingestCounts } from '../../src/adapters/pipeline/ingest-queues';
import { ProductsRepository } from '../../src/adapters/pipeline/products-repository';
import { QuotaEngine } from '../../src/adapters/quota/quota-engine';
import { type RawPayloads, rawPayloadId } from '../../src/adapters/storage/raw-payloads';
import { KeepaClient } from '../../src/adapters/upstreams/keepa';
import {
  createKeepaIngestFetchers,
  discoverDeals,
} from '../../src/adapters/upstreams/keepa-ingest';
import {
  KeepaCsvType,
  keepaPeekFilter,
  keepaPriceHistory,
} from '../../src/core/upstreams/keepa-csv';
import { testFirestore } from '../support/firestore';

const T0 = Date.UTC(2026, 0, 10, 12, 0, 0);
const DAY = 86_400_000;
const COLLECTION = 'keepa-deals-de';
const CATEGORY = 'keepa-ingest';
const DOMAIN = 3;
const CAPACITY = 3_000;
const REFILL_PER_MINUTE = 20;
const DEALS = 200;

let db: Firestore;
let close: () => Promise<void>;
let sandbox: KeepaSandbox;
let t: number;
const now = () => t;

beforeEach(async () => {
  ({ db, close } = testFirestore());
  t = T0;
  sandbox = await startKeepaSandbox({
    now,
    capacity: CAPACITY,
    refillPerMinute: REFILL_PER_MINUTE,
    deals: DEALS,
  });
  // The quota configuration matches the sandbox's bucket.
  await db.doc('providers/keepa').set({
    limits: [
      {
        kind: 'tokenBucket',
        capacity: CAPACITY,
        refillPerSecond: REFILL_PER_MINUTE / 60,
        allowNegative: true,
      },
    ],
    cooldownSeconds: 300,
  });
  await db.doc(`categories/${CATEGORY}`).set({ provider: 'keepa', sharePercent: 100 });
});

afterEach(async () => {
  await sandbox.stop();
  await close();
});

function parts(raw?: RawPayloads) {
  const client = new KeepaClient({
    baseUrl: sandbox.url,
    apiKey: KEEPA_SANDBOX_KEY,
    domainId: DOMAIN,
    capacity: CAPACITY,
    now,
    sleep: async () => {},
  });
  const products = new ProductsRepository(db, { now });
  const fetchers = createKeepaIngestFetchers({
    client,
    products,
    collection: COLLECTION,
    now,
    ...(raw ? { raw } : {}),
  });
  return { client, products, fetchers };
}

function slice(engine: QuotaEngine, fetchers: IngestFetchers) {
  return runIngestSlice({
    db,
    engine,
    collection: COLLECTION,
    provider: 'keepa',
    category: CATEGORY,
    fetchers,
    now,
  });
}

function ran(summary: IngestSliceSummary) {
  if (summary.skipped) throw new Error('slice skipped');
  return summary;
}

/** What Keepa charges for a product with offers=20: 6 tokens per page of 10 offers found. */
function offerTokens(asin: string): number {
  const found = (sandboxProduct(asin, DOMAIN, T0, { offers: 20 }).offers as unknown[]).length;
  return Math.ceil(found / 10) * 6;
}

/** The deal ASINs the peek filter keeps, worked out from the sandbox's own products. */
function expectedSurvivors(): string[] {
  const filter = keepaPeekFilter();
  return Array.from({ length: DEALS }, (_, i) => sandboxDealAsin(i, DOMAIN)).filter((asin) =>
    filter(sandboxProduct(asin, DOMAIN, T0, { stats: true }) as never),
  );
}

/**
 * Commits run as soon as a peek batch has survivors (commits come first), so each peek batch
 * of 50 (queued in key order) leaves its survivors in batches of 5, the last one short.
 */
function commitBatches(survivors: string[]): number {
  const all = Array.from({ length: DEALS }, (_, i) => sandboxDealAsin(i, DOMAIN)).sort();
  let batches = 0;
  for (let i = 0; i < all.length; i += 50) {
    const kept = all.slice(i, i + 50).filter((asin) => survivors.includes(asin)).length;
    batches += Math.ceil(kept / 5);
  }
  return batches;
}

describe('Keepa ingest against the sandbox', () => {
  it('discovers deals, peeks, commits survivors, refreshes them, and settles what Keepa charged', async () => {
    const { client, products, fetchers } = parts();
    const survivors = expectedSurvivors();
    // The filter must have something to do on this data, both ways.
    expect(survivors.length).toBeGreaterThan(20);
    expect(survivors.length).toBeLessThan(DEALS - 20);

    const found = await discoverDeals({ client, db, collection: COLLECTION, pages: 5, now });
    // 150 + 50 deals: the short second page is the last one read.
    expect(found).toMatchObject({ pages: 2, asins: DEALS, added: DEALS, unchanged: 0 });
    expect(found.meter).toMatchObject({ consumed: 10, balance: CAPACITY - 10 });
    // Discovering again queues nothing new.
    const again = await discoverDeals({ client, db, collection: COLLECTION, pages: 2, now });
    expect(again).toMatchObject({ pages: 2, added: 0, unchanged: DEALS });
    expect(await ingestCounts(db, COLLECTION)).toMatchObject({ peek: DEALS });
    const discoveryTokens = 20;

    const engine = new QuotaEngine(db, { now });
    const first = ran(await slice(engine, fetchers));
    expect(first).toMatchObject({
      meter: 'status',
      batches: { peek: DEALS / 50, commit: commitBatches(survivors), light: 0 },
      moved: {
        commit: survivors.length,
        light: survivors.length,
        done: DEALS - survivors.length,
        failed: 0,
        retried: 0,
      },
      stopped: { reason: 'idle' },
      reschedule: T0 + DAY,
    });
    // The real cost settled: 1 token per peeked ASIN, 6 per page of up to 10 offers found per
    // committed one (offers=20: 6 or 12), never more than the estimate of 12.
    const commitTokens = survivors.reduce((sum, asin) => sum + offerTokens(asin), 0);
    expect(commitTokens).toBeLessThan(12 * survivors.length);
    expect(commitTokens).toBeGreaterThan(6 * survivors.length);
    expect(first.tokensSpent).toBe(DEALS + commitTokens);
    expect(sandbox.state().rejected).toBe(0);
    expect(fetchers.costPerItem).toEqual({ peek: 1, commit: 12, light: 1 });
    expect(sandbox.state().tokensConsumed).toBe(discoveryTokens + first.tokensSpent);
    expect(engine.meters.snapshot('keepa')?.balance).toBe(sandbox.state().tokensLeft);

    // Each survivor stored once, with its NEW price history (today's point from `current`).
    const stored = await products.listByCollection(COLLECTION);
    expect(stored.map((p) => p.key).sort()).toEqual([...survivors].sort());
    const asin = survivors[0]!;
    const product = await products.get('amazon-de', asin);
    const source = sandboxProduct(asin, DOMAIN, T0, { stats: true }) as {
      csv: number[][];
      stats: { current: number[] };
    };
    const history = keepaPriceHistory(source.csv[KeepaCsvType.NEW]);
    expect(history).toHaveLength(7);
    expect(product).toMatchObject({
      marketplace: 'amazon-de',
      key: asin,
      collection: COLLECTION,
      identifiers: { asin },
      prices: history,
    });
    expect(product?.prices.at(-1)).toEqual({
      date: '2026-01-10',
      price: source.stats.current[KeepaCsvType.NEW]! / 100,
    });

    // A day later the stored products are due for light updates (stats only: 1 token each).
    t = T0 + DAY;
    const consumedBefore = sandbox.state().tokensConsumed;
    const light = ran(await slice(engine, fetchers));
    expect(light).toMatchObject({
      batches: { peek: 0, commit: 0, light: Math.ceil(survivors.length / 50) },
      moved: { light: survivors.length, done: 0 },
      tokensSpent: survivors.length,
      stopped: { reason: 'idle' },
      reschedule: T0 + 2 * DAY,
    });
    expect(sandbox.state().tokensConsumed - consumedBefore).toBe(light.tokensSpent);
    expect(engine.meters.snapshot('keepa')?.balance).toBe(sandbox.state().tokensLeft);
    const refreshed = await products.get('amazon-de', asin);
    expect(refreshed?.prices).toEqual([
      ...history,
      { date: '2026-01-11', price: source.stats.current[KeepaCsvType.NEW]! / 100 },
    ]);
    expect(refreshed?.updatedAt).toBe(T0 + DAY);
    expect(await ingestCounts(db, COLLECTION)).toEqual({
      peek: 0,
      commit: 0,
      light: survivors.length,
      done: DEALS - survivors.length,
      failed: 0,
    });
  });

  it('stores each product once when a commit batch is run again', async () => {
    const { client, products, fetchers } = parts();
    const survivors = expectedSurvivors().slice(0, 8);
    await addIngestItems(
      db,
      COLLECTION,
      survivors.map((key) => ({ key })),
      { nowMs: t },
    );
    // The first commit stores its products, then the instance dies before the move is recorded.
    const commit = fetchers.commit;
    let crash = true;
    const crashing: IngestFetchers = {
      ...fetchers,
      commit: async (items) => {
        const result = await commit(items);
        if (crash) {
          crash = false;
          throw new Error('instance lost');
        }
        return result;
      },
    };
    await expect(slice(new QuotaEngine(db, { now }), crashing)).rejects.toThrow('instance lost');
    const firstBatch = await products.listByCollection(COLLECTION);
    expect(firstBatch).toHaveLength(5);
    expect(await ingestCounts(db, COLLECTION)).toMatchObject({ commit: 8, light: 0 });

    // The retried task, a few seconds later, runs the same batch again against Keepa.
    t += 5_000;
    const retried = ran(await slice(new QuotaEngine(db, { now }), crashing));
    expect(retried).toMatchObject({ batches: { commit: 2 }, moved: { light: 8 } });
    expect(sandbox.state().served).toBe(1 + 1 + 2); // peek, crashed commit, two commits

    const all = await products.listByCollection(COLLECTION);
    expect(all.map((p) => p.key).sort()).toEqual([...survivors].sort());
    // The products of the batch stored twice were not written the second time.
    const byKey = new Map(all.map((p) => [p.key, p]));
    for (const p of firstBatch) {
      expect(byKey.get(p.key)?.updatedAt).toBe(T0);
      expect(byKey.get(p.key)?.prices).toEqual(p.prices);
    }
    expect(all.filter((p) => p.updatedAt === T0 + 5_000)).toHaveLength(3);
    expect((await client.tokenStatus()).meter.balance).toBe(sandbox.state().tokensLeft);
  });

  it('ends the slice with reason quota on a 429 and resumes after the cooldown', async () => {
    const { client, fetchers } = parts();
    const engine = new QuotaEngine(db, { now });
    const found = await discoverDeals({ client, db, collection: COLLECTION, pages: 1, now });
    expect(found.asins).toBe(150);
    // The discovery's reading is this instance's meter: no status call needed.
    engine.observe('keepa', found.meter!);

    sandbox.misbehave('429');
    const refused = ran(await slice(engine, fetchers));
    // In '429' mode the sandbox asks for the next refill, a minute away; the provider's
    // cooldown (300 s) is what the runner waits for, if it is longer.
    const cooldown = (await db.doc('cooldowns/keepa').get()).get('until').toMillis();
    expect(cooldown).toBeGreaterThanOrEqual(T0 + 60_000);
    expect(refused).toMatchObject({
      meter: 'observed',
      batches: { peek: 0, commit: 0, light: 0 },
      tokensSpent: 0,
      stopped: { reason: 'quota', atMs: cooldown },
      reschedule: cooldown,
    });
    expect(sandbox.state().rejected).toBe(1);
    expect(await ingestCounts(db, COLLECTION)).toMatchObject({ peek: 150, commit: 0 });

    // During the cooldown the upstream is not called at all.
    t = cooldown - 1_000;
    expect(ran(await slice(engine, fetchers)).stopped).toEqual({
      reason: 'cooldown',
      atMs: cooldown,
    });
    expect(sandbox.state().rejected).toBe(1);

    sandbox.misbehave('none');
    t = cooldown;
    const resumed = ran(await slice(engine, fetchers));
    expect(resumed).toMatchObject({ batches: { peek: 3 }, stopped: { reason: 'idle' } });
    expect(await ingestCounts(db, COLLECTION)).toMatchObject({ peek: 0, commit: 0 });
  });

  it('an answer too large to read fails its batch, and the slice goes on with the next', async () => {
    const { client: discovery } = parts();
    const found = await discoverDeals({
      client: discovery,
      db,
      collection: COLLECTION,
      pages: 1,
      now,
    });
    expect(found.asins).toBe(150);
    // The first product request meets a hostile answer (a gzip bomb), the others do not.
    let productRequests = 0;
    const client = new KeepaClient({
      baseUrl: sandbox.url,
      apiKey: KEEPA_SANDBOX_KEY,
      domainId: DOMAIN,
      capacity: CAPACITY,
      now,
      sleep: async () => {},
      fetch: async (input, init) => {
        const first = String(input).includes('/product') && productRequests++ === 0;
        if (first) sandbox.misbehave('gzip-bomb');
        try {
          return await fetch(input, init);
        } finally {
          if (first) sandbox.misbehave('none');
        }
      },
    });
    const products = new ProductsRepository(db, { now });
    const fetchers = createKeepaIngestFetchers({ client, products, collection: COLLECTION, now });
    const engine = new QuotaEngine(db, { now });
    engine.observe('keepa', found.meter!);
    const oversized = async () =>
      (await upstreamErrors.get()).values.find(
        (v) => v.labels.provider === 'keepa' && v.labels.kind === 'oversized',
      )?.value ?? 0;
    const before = await oversized();
    const summary = ran(await slice(engine, fetchers));
    // Refused as too large (not read whole, 256 MiB of it), once.
    expect(await oversized()).toBe(before + 1);
    // The bombed peek batch of 50 went to the back of the queue; every other batch ran.
    expect(summary.moved.retried).toBe(50);
    expect(summary.batches.peek).toBeGreaterThan(3);
    expect(summary.stopped).toMatchObject({ reason: 'idle' });
    expect(await ingestCounts(db, COLLECTION)).toMatchObject({ peek: 0, commit: 0 });
  });
});

describe('raw Keepa answers', () => {
  it("keeps each commit batch's answer once, before the products that reference it", async () => {
    const kept: Array<{ kind: string; id: string; stored: number }> = [];
    let products!: ProductsRepository;
    const raw: RawPayloads = {
      async keep(kind, source, body) {
        const id = rawPayloadId(kind, source, body);
        const answer = JSON.parse(String(body)) as Array<{ asin: string }>;
        expect(answer.length).toBeGreaterThan(0);
        kept.push({ kind, id, stored: (await products.listByCollection(COLLECTION)).length });
        return id;
      },
    };
    const built = parts(raw);
    products = built.products;
    const survivors = expectedSurvivors().slice(0, 4);
    const result = await built.fetchers.commit(survivors.map((key) => ({ key }) as never));
    expect(result.results.filter((r) => r.outcome === 'stored')).toHaveLength(4);
    expect(kept).toEqual([{ kind: 'keepa-products', id: expect.any(String), stored: 0 }]);
    for (const product of await products.listByCollection(COLLECTION)) {
      expect(product.rawPayload).toBe(kept[0]!.id);
    }
  });
});
