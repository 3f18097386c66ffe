import type { Firestore } from 'firebase-admin/firestore';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ZodError } from 'zod';
import { manualValidationRunId } from '../../src/adapters/operations/runs';
import type { PriceHistoryUpsert } from '../../src/adapters/pipeline/price-history-upsert';
import { ProductsRepository } from '../../src/adapters/pipeline/products-repository';
import type { EnqueueOptions, EnqueueResult } from '../../src/adapters/queues/task-queue';
import { latestValidation } from '../../src/adapters/validation/latest-validation';
import {
  runValidation,
  type ValidationRunSummary,
} from '../../src/adapters/validation/validation-runner';
import { fixSlot } from '../../src/adapters/validation/validation-schedule';
import type { WorkItem } from '../../src/core/pipeline/work-items';
import { FirestoreLimitError } from '../../src/core/storage/firestore-limits';
import { testFirestore } from '../support/firestore';

const SLOT = Date.UTC(2026, 0, 10, 6, 0, 12);
const NEXT_SLOT = Date.UTC(2026, 0, 10, 18, 0, 3);

let db: Firestore;
let close: () => Promise<void>;
let repo: ProductsRepository;

beforeEach(async () => {
  ({ db, close } = testFirestore());
  repo = new ProductsRepository(db, { now: () => SLOT });
  // The runner needs only the provider and category of a collection.
  await db.doc('collections/buckcheap-historical').set({
    id: 'buckcheap-historical',
    provider: 'smartproxy',
    category: 'buckcheap-historical',
    marketplaces: { takealot: { target: 800, collected: 0 } },
  });
  await db.doc('collections/keepa-deals').set({
    id: 'keepa-deals',
    provider: 'keepa',
    category: 'deals',
    marketplaces: { makro: { target: 400, collected: 0 } },
  });
});
afterEach(() => close());

/** Ten daily points around 100, confident, identified: passes every rule by default. */
function clean(marketplace: string, key: string, collection: string): PriceHistoryUpsert {
  return {
    marketplace,
    key,
    collection,
    identifiers: { plid: `PLID-${key}` },
    prices: Array.from({ length: 10 }, (_, i) => ({
      date: `2026-01-${String(i + 1).padStart(2, '0')}`,
      price: 100 + i,
      confidence: 0.95,
    })),
    confidence: 0.9,
    expectedRange: { from: '2026-01-01', to: '2026-01-10' },
  };
}

function withPrice(product: PriceHistoryUpsert, day: number, price: number): PriceHistoryUpsert {
  const prices = product.prices.map((p, i) => (i === day ? { ...p, price } : p));
  return { ...product, prices };
}

const T = 'buckcheap-historical';
const M = 'keepa-deals';

/** Each defect in its own product, with the rule that must report it. */
const defective: Array<{ product: PriceHistoryUpsert; rule: string }> = [
  { product: { ...clean('takealot', 'no-ids', T), identifiers: {} }, rule: 'missing-identifiers' },
  {
    product: {
      ...clean('takealot', 'few', T),
      prices: clean('x', 'x', T).prices.slice(0, 3),
      expectedRange: { from: '2026-01-01', to: '2026-01-03' },
    },
    rule: 'too-few-prices',
  },
  { product: withPrice(clean('takealot', 'zero', T), 4, 0), rule: 'inconsistent-prices' },
  { product: withPrice(clean('takealot', 'jump', T), 5, 900), rule: 'inconsistent-prices' },
  { product: { ...clean('takealot', 'unsure', T), confidence: 0.5 }, rule: 'low-confidence' },
  {
    product: {
      ...clean('makro', 'gap', M),
      // 2026-01-01..05, then 2026-01-20..24: a 15-day hole.
      prices: [1, 2, 3, 4, 5, 20, 21, 22, 23, 24].map((d) => ({
        date: `2026-01-${String(d).padStart(2, '0')}`,
        price: 50,
      })),
      expectedRange: { from: '2026-01-01', to: '2026-01-24' },
    },
    rule: 'incomplete-dates',
  },
];
const cleanProducts = [
  ...['a', 'b', 'c', 'd', 'e'].map((k) => clean('takealot', k, T)),
  ...['f', 'g', 'h'].map((k) => clean('makro', k, M)),
];

async function seed(products: PriceHistoryUpsert[]) {
  for (const product of products) await repo.upsertPriceHistory(product);
}

/** Captures enqueues and drops a repeated task id, as Cloud Tasks does. */
function fakeQueue() {
  const calls: Array<{ queue: string; item: WorkItem; options: EnqueueOptions }> = [];
  const taken = new Set<string>();
  const enqueue = async (
    queue: string,
    item: WorkItem,
    options: EnqueueOptions,
  ): Promise<EnqueueResult> => {
    calls.push({ queue, item, options });
    const id = `${queue}/${options.id}`;
    if (taken.has(id)) return 'duplicate';
    taken.add(id);
    return 'enqueued';
  };
  return { calls, enqueue };
}

const run = (at: number, enqueue: ReturnType<typeof fakeQueue>['enqueue'], pageSize = 3) =>
  runValidation({ db, now: () => at, enqueue, pageSize });

async function findings(runId: string) {
  const snapshot = await db.collection(`validationRuns/${runId}/findings`).get();
  return new Map(snapshot.docs.map((d) => [d.id, d.data()]));
}

describe('validation run on a seeded data set', () => {
  it('finds each kind of defect, stores pass rates and findings, and enqueues one fix each', async () => {
    await seed([...cleanProducts, ...defective.map((d) => d.product)]);
    const queue = fakeQueue();
    const summary = await run(SLOT, queue.enqueue);

    expect(summary).toMatchObject({
      runId: '2026-01-10T06',
      status: 'completed',
      attempts: 1,
      products: 14,
      passed: 8,
      failed: 6,
      fixes: { enqueued: 6, duplicate: 0, unschedulable: 0, failed: 0 },
    });
    expect(summary.marketplaces.takealot).toMatchObject({
      products: 10,
      passed: 5,
      failed: 5,
      passRate: 0.5,
      failedByRule: {
        'missing-identifiers': 1,
        'too-few-prices': 1,
        'inconsistent-prices': 2,
        'incomplete-dates': 0,
        'low-confidence': 1,
      },
    });
    expect(summary.marketplaces.makro).toMatchObject({
      products: 4,
      passed: 3,
      passRate: 0.75,
      failedByRule: { 'incomplete-dates': 1 },
    });

    // The stored run is the summary.
    const stored = await db.doc('validationRuns/2026-01-10T06').get();
    expect(stored.data()).toEqual(summary);

    // One finding document per failing product, naming exactly its defect.
    const found = await findings('2026-01-10T06');
    expect(found.size).toBe(defective.length);
    for (const { product, rule } of defective) {
      const doc = found.get(`${product.marketplace}~${product.key}`);
      expect(doc, product.key).toMatchObject({
        marketplace: product.marketplace,
        productKey: product.key,
        collection: product.collection,
        rules: [rule],
        fix: { result: 'enqueued' },
      });
    }
    const kinds = (key: string) =>
      (found.get(key)!.findings as Array<{ examples: Array<{ kind: string }> }>).flatMap((f) =>
        f.examples.map((e) => e.kind),
      );
    expect(kinds('takealot~zero')).toEqual(['non-positive-price']);
    expect(kinds('takealot~jump')).toEqual(['price-jump', 'price-jump']); // up and back down
    expect(kinds('makro~gap')).toEqual(['date-gap']);

    // One fix per failing product, on its provider's queue, with its collection's category.
    expect(queue.calls).toHaveLength(defective.length);
    const ids = queue.calls.map((c) => c.options.id);
    expect(new Set(ids).size).toBe(defective.length);
    const gap = queue.calls.find(
      (c) => c.item.payload && (c.item.payload as { productKey: string }).productKey === 'gap',
    );
    expect(gap).toMatchObject({
      queue: 'keepaWork',
      item: {
        collection: 'keepa-deals',
        kind: 'recollect',
        provider: 'keepa',
        category: 'deals',
        payload: { marketplace: 'makro', productKey: 'gap', rules: ['incomplete-dates'] },
      },
    });
    for (const call of queue.calls.filter((c) => c !== gap)) {
      expect(call).toMatchObject({
        queue: 'smartproxyWork',
        item: { collection: T, provider: 'smartproxy', category: 'buckcheap-historical' },
      });
    }
    for (const call of queue.calls) {
      expect(call.item.key).toMatch(/^fix-/);
      expect(call.options.id).toBe(`${call.item.collection}-recollect-${call.item.key}`);
    }
  });

  it('reruns a slot under the same ids without duplicating the run; a new slot has new ids', async () => {
    await seed([...cleanProducts, ...defective.map((d) => d.product)]);
    const queue = fakeQueue();
    const first = await run(SLOT, queue.enqueue);
    const firstIds = queue.calls.map((c) => c.options.id).sort();

    const again = await run(SLOT + 40 * 60_000, queue.enqueue, 4);
    const againIds = queue.calls
      .slice(firstIds.length)
      .map((c) => c.options.id)
      .sort();
    expect(againIds).toEqual(firstIds);
    expect(again).toMatchObject({
      runId: first.runId,
      attempts: 2,
      passed: first.passed,
      fixes: { enqueued: 0, duplicate: 6 },
    });
    expect((await db.collection('validationRuns').get()).size).toBe(1);
    expect((await findings(first.runId)).size).toBe(6);

    const next = await run(NEXT_SLOT, queue.enqueue);
    expect(next).toMatchObject({ runId: '2026-01-10T18', fixes: { enqueued: 6 } });
    const nextIds = queue.calls.slice(12).map((c) => c.options.id);
    expect(nextIds.filter((id) => firstIds.includes(id))).toEqual([]);
    expect((await db.collection('validationRuns').get()).size).toBe(2);
  });

  it('enqueues one fix per failing product per slot, however many manual runs find it', async () => {
    await seed([...cleanProducts, ...defective.map((d) => d.product)]);
    const queue = fakeQueue();
    const scheduled = await run(SLOT, queue.enqueue);
    expect(scheduled.fixes).toMatchObject({ enqueued: 6, duplicate: 0 });
    // Operators press validateData twice later in the same slot: each is a run of its own...
    for (const minutes of [90, 95]) {
      const at = SLOT + minutes * 60_000;
      const manual = await runValidation({
        db,
        now: () => at,
        enqueue: queue.enqueue,
        runId: manualValidationRunId(at),
      });
      expect(manual.runId).not.toBe(scheduled.runId);
      // ...but no product is re-collected twice in one slot.
      expect(manual.fixes).toMatchObject({ enqueued: 0, duplicate: 6 });
    }
    // The next slot (18:00 to 05:59), at 03:00 the day after, fixes them again, once.
    const night = await run(NEXT_SLOT + 9 * 3_600_000, queue.enqueue);
    expect(night.fixes).toMatchObject({ enqueued: 6 });
    expect(fixSlot(NEXT_SLOT + 9 * 3_600_000)).toBe('2026-01-10T18');
    expect(fixSlot(Date.UTC(2026, 0, 10, 5, 59))).toBe('2026-01-09T18');
  });

  it('a rerun after a fix drops the fixed product from the findings', async () => {
    await seed([...cleanProducts, ...defective.map((d) => d.product)]);
    const queue = fakeQueue();
    await run(SLOT, queue.enqueue);
    // The re-collection stored a positive price for the bad day.
    await repo.upsertPriceHistory({
      ...clean('takealot', 'zero', T),
      prices: [{ date: '2026-01-05', price: 104, confidence: 0.95 }],
    });
    const again = await run(SLOT, queue.enqueue);
    expect(again.marketplaces.takealot).toMatchObject({ passed: 6, failed: 4, passRate: 0.6 });
    const found = await findings(again.runId);
    expect(found.size).toBe(5);
    expect(found.has('takealot~zero')).toBe(false);
  });

  it('passes a clean data set 100% with no findings and no fixes', async () => {
    await seed(cleanProducts);
    const queue = fakeQueue();
    const summary = await run(SLOT, queue.enqueue);
    expect(summary).toMatchObject({ products: 8, passed: 8, failed: 0, passRate: 1 });
    expect(summary.marketplaces.takealot?.passRate).toBe(1);
    expect(summary.marketplaces.makro?.passRate).toBe(1);
    expect(summary.fixes).toEqual({ enqueued: 0, duplicate: 0, unschedulable: 0, failed: 0 });
    expect(queue.calls).toEqual([]);
    expect((await findings(summary.runId)).size).toBe(0);
  });

  it('uses the configured thresholds', async () => {
    await seed([...cleanProducts, ...defective.map((d) => d.product)]);
    await db.doc('config/pipeline').set({
      validation: {
        disabledRules: ['low-confidence'],
        marketplaces: { makro: { maxGapDays: 20 } },
      },
    });
    const summary = await run(SLOT, fakeQueue().enqueue);
    expect(summary.marketplaces.takealot?.failed).toBe(4);
    expect(summary.marketplaces.makro?.passRate).toBe(1);
  });

  it('stores a failing product without a collection and counts its fix as unschedulable', async () => {
    await seed([{ ...clean('takealot', 'orphan', 'gone'), identifiers: {} }]);
    const queue = fakeQueue();
    const summary = await run(SLOT, queue.enqueue);
    expect(summary.fixes).toMatchObject({ enqueued: 0, unschedulable: 1 });
    expect(queue.calls).toEqual([]);
    expect((await findings(summary.runId)).get('takealot~orphan')).toMatchObject({
      rules: ['missing-identifiers'],
      fix: { result: 'unschedulable', queue: null, taskId: null },
    });
  });

  it('counts a fix whose enqueue fails and still schedules the others', async () => {
    await seed(defective.map((d) => d.product));
    const queue = fakeQueue();
    const summary = await runValidation({
      db,
      now: () => SLOT,
      enqueue: (name, item, options) =>
        name === 'keepaWork'
          ? Promise.reject(new Error('queue unavailable'))
          : queue.enqueue(name, item, options),
    });
    expect(summary.fixes).toMatchObject({ enqueued: 5, failed: 1 });
    expect((await findings(summary.runId)).get('makro~gap')?.fix).toMatchObject({
      result: 'failed',
      queue: 'keepaWork',
    });
  });

  it('answers the latest run, overall and for a marketplace', async () => {
    expect(await latestValidation(db)).toBeUndefined();
    await seed(cleanProducts.filter((p) => p.marketplace === 'makro'));
    await run(SLOT, fakeQueue().enqueue);
    await seed(cleanProducts.filter((p) => p.marketplace === 'takealot'));
    // Every document holding makro's products (pages), gone.
    const makroPages = await db
      .collection('products')
      .where('keys', 'array-contains-any', ['makro~f', 'makro~g', 'makro~h'])
      .get();
    expect(makroPages.size).toBeGreaterThan(0);
    await Promise.all(makroPages.docs.map((doc) => doc.ref.delete()));
    await run(NEXT_SLOT, fakeQueue().enqueue);

    expect((await latestValidation(db))?.runId).toBe('2026-01-10T18');
    expect((await latestValidation(db, 'takealot'))?.runId).toBe('2026-01-10T18');
    const makro = (await latestValidation(db, 'makro')) as ValidationRunSummary;
    expect(makro.runId).toBe('2026-01-10T06');
    expect(makro.marketplaces.makro).toMatchObject({ products: 3, passRate: 1 });
    expect(await latestValidation(db, 'amazon')).toBeUndefined();
  });
});

describe('products repository', () => {
  const point = (day: number, price: number) => ({
    date: `2026-02-${String(day).padStart(2, '0')}`,
    price,
  });

  it('merges price points by date; a redelivery writes nothing', async () => {
    const upsert = {
      marketplace: 'takealot',
      key: 'PLID1',
      collection: T,
      identifiers: { plid: 'PLID1' },
      prices: [point(2, 10), point(1, 9)],
    };
    expect(await repo.upsertPriceHistory(upsert)).toMatchObject({
      id: 'takealot~PLID1',
      created: true,
      added: 2,
      points: 2,
      written: true,
    });
    const later = new ProductsRepository(db, { now: () => SLOT + 1000 });
    expect(await later.upsertPriceHistory(upsert)).toMatchObject({
      created: false,
      added: 0,
      replaced: 0,
      written: false,
    });
    const merged = await later.upsertPriceHistory({
      ...upsert,
      identifiers: { asin: 'B0001', plid: ' ' },
      prices: [point(2, 11), point(3, 12)],
    });
    expect(merged).toMatchObject({ added: 1, replaced: 1, points: 3, written: true });
    const stored = await repo.get('takealot', 'PLID1');
    expect(stored).toMatchObject({
      id: 'takealot~PLID1',
      collection: T,
      identifiers: { plid: 'PLID1', asin: 'B0001' }, // a blank never erases a known identifier
      prices: [point(1, 9), point(2, 11), point(3, 12)],
      updatedAt: SLOT + 1000,
    });
  });

  it('loses no points when upserts of one product run concurrently', async () => {
    const days = Array.from({ length: 20 }, (_, i) => i + 1);
    const outcomes = await Promise.all(
      [...days, ...days.slice(0, 5)].map((day) =>
        repo.upsertPriceHistory({
          marketplace: 'takealot',
          key: 'hot',
          collection: T,
          prices: [point(day, day)],
        }),
      ),
    );
    expect(outcomes.filter((o) => o.created)).toHaveLength(1);
    expect(outcomes.reduce((n, o) => n + o.added, 0)).toBe(20);
    const stored = await repo.get('takealot', 'hot');
    expect(stored?.prices).toEqual(days.map((day) => point(day, day)));
  });

  it('pages through a marketplace, lists a collection and the marketplaces', async () => {
    await seed([...cleanProducts, clean('takealot', 'a/b%c', M)]);
    const keys: string[] = [];
    let startAfter: string | null = null;
    let pages = 0;
    do {
      const page = await repo.listByMarketplace('takealot', { pageSize: 2, startAfter });
      keys.push(...page.products.map((p) => p.key));
      startAfter = page.next;
      pages++;
    } while (startAfter);
    // Each product was stored alone, so on a page of its own; a read of 2 products takes one.
    expect(keys.sort()).toEqual(['a', 'a/b%c', 'b', 'c', 'd', 'e']);
    expect(pages).toBe(6 + 1); // one document a read at this page size; one more (empty) read
    expect((await repo.listByCollection(M)).map((p) => p.id)).toEqual([
      'makro~f',
      'makro~g',
      'makro~h',
      'takealot~a%2Fb%25c',
    ]);
    expect(await repo.marketplaces()).toEqual(['makro', 'takealot']);
  });
});

describe("products within Firestore's limits", () => {
  const issuesOf = async (upsert: PriceHistoryUpsert) => {
    const error = await repo.upsertPriceHistory(upsert).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ZodError);
    return (error as ZodError).issues.map((i) => [i.path.join('.'), i.message]);
  };

  it('refuses upstream names Firestore would refuse, naming the field, and writes nothing', async () => {
    expect(await issuesOf({ ...clean('__mp__', 'k', T) })).toEqual([
      ['marketplace', 'Firestore reserves names of the form __x__'],
    ]);
    expect(
      await issuesOf({ ...clean('takealot', 'k', T), identifiers: { __id__: 'x', '': 'y' } }),
    ).toEqual([
      ['identifiers.__id__', 'field name "__id__" is reserved (__...__)'],
      ['identifiers.', 'a field name cannot be empty'],
    ]);
    expect(await issuesOf(clean('takealot', 'k'.repeat(1500), T))).toEqual([
      [
        'key',
        expect.stringMatching(/^key: id "takealot~k+\.\.\." is 1509 bytes \(at most 1500\)$/),
      ],
    ]);
    expect(await repo.marketplaces()).toEqual([]);
  });

  it('escapes an id of the reserved form instead of refusing the product', async () => {
    const outcome = await repo.upsertPriceHistory(clean('__mp', 'key__', T));
    expect(outcome.id).toBe('__mp~key_%5F');
    expect(await repo.get('__mp', 'key__')).toMatchObject({ key: 'key__', marketplace: '__mp' });
    expect((await repo.listByMarketplace('__mp')).products.map((p) => p.key)).toEqual(['key__']);
  });

  it('refuses a history that outgrew 1 MiB before writing, naming the product', async () => {
    const day = (i: number) => new Date(Date.UTC(1990, 0, 1) + i * 86_400_000).toISOString();
    // About 63 bytes a point: 14,000 fit, 20,000 do not.
    const prices = Array.from({ length: 20_000 }, (_, i) => ({
      date: day(i),
      price: i % 7,
      confidence: 0.9,
    }));
    const product = { ...clean('takealot', 'long', T), prices: prices.slice(0, 14_000) };
    await repo.upsertPriceHistory(product);
    const error = await repo.upsertPriceHistory({ ...product, prices: prices.slice(14_000) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(FirestoreLimitError);
    expect((error as Error).message).toMatch(
      /^document "products\/takealot~long" cannot be written: document is 1,\d{3},\d{3} bytes \(Firestore takes at most 1,048,576\)$/,
    );
    expect((await repo.get('takealot', 'long'))?.prices).toHaveLength(14_000);
  });

  it('cuts finding examples so a finding document fits 1 MiB', async () => {
    await db.doc('config/pipeline').set({ validation: { maxExamples: 100_000 } });
    // 12,000 daily prices alternating 1 and 50: every step is a price jump, each an example of
    // about 96 bytes, 1.15 MB in all.
    const day = (i: number) => new Date(Date.UTC(1990, 0, 1) + i * 86_400_000).toISOString();
    const prices = Array.from({ length: 12_000 }, (_, i) => ({
      date: day(i).slice(0, 10),
      price: i % 2 ? 50 : 1,
    }));
    await repo.upsertPriceHistory({
      ...clean('takealot', 'jumpy', T),
      prices,
      expectedRange: { from: prices[0]!.date, to: prices.at(-1)!.date },
    });
    const { enqueue } = fakeQueue();
    const summary = await run(SLOT, enqueue);
    expect(summary.failed).toBe(1);
    const finding = (await findings(summary.runId)).get('takealot~jumpy')!;
    const jumps = (finding.findings as Array<{ rule: string; count: number; examples: unknown[] }>)
      .filter((f) => f.rule === 'inconsistent-prices')
      .at(0)!;
    expect(jumps.count).toBe(11_999);
    expect(jumps.examples.length).toBeLessThan(11_999);
    expect(jumps.examples.length).toBeGreaterThan(1000);
  });
});
