import type { Firestore } from 'firebase-admin/firestore';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type IngestFetchers, runIngestSlice } from '../../src/adapters/pipeline/ingest';
import { addIngestItems } from '../../src/adapters/pipeline/ingest-queue-writes';
import type { IngestItem } from '../../src/adapters/pipeline/ingest-queues';
import { QuotaEngine } from '../../src/adapters/quota/quota-engine';
import { WriteBuffer } from '../../src/adapters/storage/write-buffer';
import { categorySchema, providerSchema } from '../../src/core/config';
import { defaultBatchingConfig } from '../../src/core/pipeline/batching';
import { workProblems } from '../../src/core/pipeline/category-work';
import { DEFAULT_PHASES } from '../../src/core/pipeline/phases';
import type { MeterReading } from '../../src/core/quota/meters';
import { keepaIngestCostPerItem } from '../../src/core/upstreams/keepa-product-request';
import { recordedDemandTotals } from '../support/demand';
import { testFirestore } from '../support/firestore';
import { quietLogger } from '../support/quiet-logger';

/**
 * A share that passes the check (priced at Keepa's documented 12 tokens per committed ASIN) while
 * Keepa charges more (13: a later price, update=0, stock...). Items are peeked (1 token each), then
 * committed. The runner learns the higher cost
 * and its 5-ASIN batches then ask more than the share can ever grant one call: they must shrink
 * to fit, not wait for a larger share forever (found by a review: every slice stopped at the
 * gate and the observed cost, kept with the collection, never came down).
 */

quietLogger();

const BUCKET = {
  kind: 'tokenBucket',
  capacity: 300,
  refillPerSecond: 5,
  allowNegative: true,
} as const;
const KEEPA = providerSchema.parse({ id: 'keepa', limits: [BUCKET] });
/** The smallest share the check says carries a 5-ASIN commit (60 tokens). */
const SHARE = 20.67;

let db: Firestore;
let close: () => Promise<void>;
let t = Date.UTC(2026, 0, 10, 12);
const now = () => t;
beforeEach(() => ({ db, close } = testFirestore()));
afterEach(() => close());

function fetchersCharging(perItem: { commit: number; peek: number; light: number }) {
  let balance = 300;
  const charge = (items: IngestItem[], cost: number): MeterReading => {
    balance -= items.length * cost;
    return { balance, atMs: t, capacity: 300, ratePerSecond: 5, consumed: items.length * cost };
  };
  const batches: number[] = [];
  const stored = (items: IngestItem[]) =>
    items.map((i) => ({ key: i.key, outcome: 'stored' as const }));
  const fetchers: IngestFetchers = {
    peek: async (items) => ({
      results: items.map((i) => ({ key: i.key, outcome: 'survivor' as const })),
      meter: charge(items, perItem.peek),
    }),
    commit: async (items) => {
      batches.push(items.length);
      return { results: stored(items), meter: charge(items, perItem.commit) };
    },
    light: async (items) => ({ results: stored(items), meter: charge(items, perItem.light) }),
    costPerItem: keepaIngestCostPerItem(),
  };
  return { fetchers, batches };
}

/** The share, the provider's bucket, Keepa charging `commitCost` a committed item, and `items`. */
async function seeded(commitCost: number, items: number) {
  await db.doc('providers/keepa').set({ limits: [BUCKET], cooldownSeconds: 300 });
  await db.doc('categories/k').set({ provider: 'keepa', sharePercent: SHARE });
  const charging = fetchersCharging({ commit: commitCost, peek: 1, light: 1 });
  const keys = Array.from({ length: items }, (_, i) => ({ key: `A${i}` }));
  await addIngestItems(db, 'c', keys, { nowMs: t });
  return charging;
}

function slice(engine: QuotaEngine, fetchers: IngestFetchers) {
  return runIngestSlice({
    db,
    engine,
    collection: 'c',
    provider: 'keepa',
    category: 'k',
    fetchers,
    now,
  });
}

async function slices(fetchers: IngestFetchers, count: number) {
  const reports = [];
  for (let i = 0; i < count; i++) {
    reports.push(await slice(new QuotaEngine(db, { now }), fetchers));
    t += 3_600_000; // an hour later: the share's tokens are back
  }
  return reports;
}

describe('ingest batches larger than their share carries', () => {
  it('the share passes the check at the documented price', () => {
    const category = categorySchema.parse({ id: 'k', provider: 'keepa', sharePercent: SHARE });
    const problems = workProblems({
      providers: [KEEPA],
      categories: [category],
      batching: defaultBatchingConfig,
      collections: [
        {
          id: 'c',
          provider: 'keepa',
          category: 'k',
          status: 'running',
          phase: 0,
          phases: [{ fromPercent: 0, sharePercent: SHARE }],
        },
      ],
      defaultPhases: [...DEFAULT_PHASES],
    });
    expect(problems).toEqual([]);
  });

  it('shrink to fit once Keepa charges more per item than the share was checked for', async () => {
    const { fetchers, batches } = await seeded(13, 15);
    const reports = await slices(fetchers, 6);
    // The first batch of 5 taught 13 a item: 65 > the 60 the share carries, so 4 at a time.
    expect(batches[0]).toBe(5);
    expect(batches.slice(1).every((n) => n <= 4)).toBe(true);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(15);
    expect(reports.some((r) => 'stopped' in r && r.stopped.reason === 'refused')).toBe(false);
  });

  it('record a batch shrunk to fit after the gate deferred it as asked again, not as new demand', async () => {
    const { fetchers, batches } = await seeded(13, 15);
    const buffer = new WriteBuffer(db);
    const engine = new QuotaEngine(db, { now, buffer });
    const fromMs = t;
    // Slices at the times they ask for: each starts with a 5-ASIN batch (65 tokens) that the
    // share cannot carry, and shrinks it; the smaller batch is the same work asked again.
    for (let i = 0; i < 40; i++) {
      const r = await slice(engine, fetchers);
      if (r.skipped || r.reschedule === undefined) break;
      t = Math.max(r.reschedule, t + 1);
    }
    expect(batches.reduce((a, b) => a + b, 0)).toBe(15);
    await buffer.flush();
    const d = await recordedDemandTotals(db, 'keepa', fromMs - 60_000, t + 120_000);
    // Every batch granted was asked once as new demand (peeks and commits alike).
    expect(d.firstAsks).toBe(d.granted);
    expect(d.asked).toBe(d.granted + d.deferred);
  });

  it('stop as refused, naming the share, when not even one item fits', async () => {
    const { fetchers, batches } = await seeded(70, 7);
    const reports = await slices(fetchers, 3);
    // The first batch taught 70 a item, more than the 60 the share carries at all.
    expect(batches).toEqual([5]);
    const last = reports.at(-1)!;
    expect('stopped' in last && last.stopped).toMatchObject({
      reason: 'refused',
      batch: 'commit',
      message: "the category's share carries at most 60 a call; one commit item costs 70",
    });
  });
});
