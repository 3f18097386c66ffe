import type { Firestore } from 'firebase-admin/firestore';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type IngestBatchResult,
  type IngestFetchers,
  runIngestSlice,
} from '../../src/adapters/pipeline/ingest';
import {
  ingestFetchers,
  registerIngestFetchers,
} from '../../src/adapters/pipeline/ingest-fetchers';
import {
  addIngestItems,
  applyIngestResults,
  type IngestItemResult,
} from '../../src/adapters/pipeline/ingest-queue-writes';
import {
  type IngestItem,
  ingestCounts,
  itemDocId,
} from '../../src/adapters/pipeline/ingest-queues';
import { QuotaEngine } from '../../src/adapters/quota/quota-engine';
import { WriteBuffer } from '../../src/adapters/storage/write-buffer';
import {
  type BatchKind,
  batchingConfigSchema,
  planNextBatch,
} from '../../src/core/pipeline/batching';
import { QuotaExceededError } from '../../src/core/quota/errors';
import type { MeterReading } from '../../src/core/quota/meters';
import { FirestoreLimitError } from '../../src/core/storage/firestore-limits';
import { recordedDemandTotals } from '../support/demand';
import { testFirestore } from '../support/firestore';

const T0 = Date.UTC(2026, 0, 10, 12, 0, 0);
const DAY = 86_400_000;
const COLLECTION = 'keepa-deals-2026';
const CATEGORY = 'keepa-ingest';

let db: Firestore;
let close: () => Promise<void>;
let t: number;
const now = () => t;

beforeEach(() => {
  ({ db, close } = testFirestore());
  t = T0;
});
afterEach(() => close());

async function seed(bucket: { capacity: number; refillPerSecond: number }, batching?: object) {
  await db.doc('providers/keepa').set({
    limits: [{ kind: 'tokenBucket', ...bucket, allowNegative: true }],
    cooldownSeconds: 300,
  });
  await db.doc(`categories/${CATEGORY}`).set({ provider: 'keepa', sharePercent: 100 });
  if (batching) await db.doc('config/pipeline').set({ batching });
}

/**
 * Keepa as its clients see it: a token bucket that runs a request while the balance is
 * positive, charges it in full (possibly below zero) and reports tokensLeft, the refill rate
 * and tokensConsumed with every answer. Answers "out of tokens" otherwise.
 */
class FakeKeepa {
  balance: number;
  atMs = t;
  lowest: number;
  readonly calls: Array<{ kind: BatchKind; keys: string[] }> = [];
  /** Thrown by the next call, instead of answering. */
  failNext: Error | undefined;

  constructor(
    readonly capacity: number,
    readonly ratePerSecond: number,
  ) {
    this.balance = capacity;
    this.lowest = capacity;
  }

  private refill() {
    this.balance = Math.min(
      this.capacity,
      this.balance + ((t - this.atMs) * this.ratePerSecond) / 1000,
    );
    this.atMs = t;
  }

  reading(consumed?: number): MeterReading {
    this.refill();
    return {
      balance: this.balance,
      atMs: this.atMs,
      capacity: this.capacity,
      ratePerSecond: this.ratePerSecond,
      ...(consumed === undefined ? {} : { consumed }),
    };
  }

  charge(kind: BatchKind, items: IngestItem[], perItem: number): MeterReading {
    this.refill();
    const error = this.failNext;
    this.failNext = undefined;
    if (error) throw error;
    if (this.balance < 1) throw new QuotaExceededError('keepa', kind, 60, 'keepa: out of tokens');
    const cost = items.length * perItem;
    this.balance -= cost;
    this.lowest = Math.min(this.lowest, this.balance);
    this.calls.push({ kind, keys: items.map((i) => i.key) });
    return this.reading(cost);
  }

  /** Another client of the same API key spends tokens the gate never saw. */
  drain(tokens: number) {
    this.refill();
    this.balance -= tokens;
  }

  sizes(kind: BatchKind) {
    return this.calls.filter((c) => c.kind === kind).map((c) => c.keys.length);
  }
}

interface FakeOptions {
  costs?: Partial<Record<BatchKind, number>>;
  survives?: (key: string) => boolean;
  refreshAfterMs?: number;
  withStatus?: boolean;
}

/** Fetchers over the fake: peek filters, commit and light store into `stored` (by key). */
function fakeFetchers(keepa: FakeKeepa, options: FakeOptions = {}) {
  const costs = { peek: 1, commit: 5, light: 1, ...options.costs };
  const stored = new Map<string, number>();
  const storeAll = (kind: BatchKind) => async (items: IngestItem[]) => {
    const meter = keepa.charge(kind, items, costs[kind]);
    for (const item of items) stored.set(item.key, (stored.get(item.key) ?? 0) + 1);
    const results: IngestItemResult[] = items.map((item) => ({
      key: item.key,
      outcome: 'stored',
      ...(options.refreshAfterMs === undefined ? {} : { refreshAtMs: t + options.refreshAfterMs }),
    }));
    return { results, meter } satisfies IngestBatchResult;
  };
  const fetchers: IngestFetchers = {
    peek: async (items) => {
      const meter = keepa.charge('peek', items, costs.peek);
      const survives = options.survives ?? (() => true);
      return {
        results: items.map((item) => ({
          key: item.key,
          outcome: survives(item.key) ? 'survivor' : 'rejected',
        })),
        meter,
      };
    },
    commit: storeAll('commit'),
    light: storeAll('light'),
    ...(options.withStatus ? { status: async () => keepa.reading() } : {}),
  };
  return { fetchers, stored };
}

const keys = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({ key: `${prefix}${String(i).padStart(3, '0')}` }));

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

/** The demand the engine recorded for Keepa from T0 to `untilMs` (see recordedDemandTotals). */
function recordedDemand(untilMs: number) {
  return recordedDemandTotals(db, 'keepa', T0 - 60_000, untilMs + 120_000);
}

async function stageOf(key: string) {
  return (await db.doc(`ingest/${COLLECTION}/items/${key}`).get()).get('stage');
}

async function leaseExists() {
  return (await db.doc(`ingest/${COLLECTION}/lease/current`).get()).exists;
}

describe('ingest slices', () => {
  it('peeks in batches of 50, commits survivors in fives, refreshes in batches of 50', async () => {
    await seed({ capacity: 1000, refillPerSecond: 10 });
    const keepa = new FakeKeepa(1000, 10);
    const { fetchers, stored } = fakeFetchers(keepa, {
      survives: (key) => Number(key.slice(1)) % 3 === 0,
      refreshAfterMs: DAY,
    });
    await addIngestItems(db, COLLECTION, keys('p', 120), { nowMs: t });
    await addIngestItems(db, COLLECTION, keys('x', 60), { stage: 'light', nowMs: t });

    const summary = await slice(new QuotaEngine(db, { now }), fetchers);

    // Commits first, then light updates, then discovery; survivors are committed as they come.
    expect(keepa.sizes('light')).toEqual([50, 10]);
    expect(keepa.sizes('peek')).toEqual([50, 50, 20]);
    expect(keepa.sizes('commit')).toEqual([5, 5, 5, 2, 5, 5, 5, 2, 5, 1]);
    expect(keepa.calls.map((c) => c.kind).slice(0, 8)).toEqual([
      'light',
      'light',
      'peek',
      'commit',
      'commit',
      'commit',
      'commit',
      'peek',
    ]);
    expect(stored.size).toBe(100);
    expect(summary).toEqual({
      meter: 'configured',
      batches: { peek: 3, commit: 10, light: 2 },
      moved: { commit: 40, light: 100, done: 80, failed: 0, retried: 0 },
      tokensSpent: 60 + 120 + 40 * 5,
      stopped: { reason: 'idle' },
      // Everything stored is due for its light update a day later.
      reschedule: T0 + DAY,
    });
    expect(await ingestCounts(db, COLLECTION)).toEqual({
      peek: 0,
      commit: 0,
      light: 100,
      done: 80,
      failed: 0,
    });
    expect(await stageOf('p003')).toBe('light');
    expect(await stageOf('p004')).toBe('done');
    expect(await leaseExists()).toBe(false);
    expect((await db.doc(`ingest/${COLLECTION}`).get()).get('lastSlice.reschedule')).toBe(T0 + DAY);
  });

  it('sizes commits down on a short balance, never past the deficit, and comes back when the tokens are there', async () => {
    const batching = { maxDeficit: 10, commit: { costPerItem: 10 } };
    await seed({ capacity: 100, refillPerSecond: 1 }, batching);
    const keepa = new FakeKeepa(100, 1);
    // Another client of the key spent most of the bucket: the status call tells the runner.
    keepa.drain(72);
    const { fetchers } = fakeFetchers(keepa, { costs: { commit: 10 }, withStatus: true });
    await addIngestItems(db, COLLECTION, keys('a', 10), { nowMs: t });
    const engine = new QuotaEngine(db, { now });

    const first = await slice(engine, fetchers);
    // 28 tokens: the peek (10) leaves 18, which with a deficit of 10 affords two commits.
    expect(keepa.sizes('peek')).toEqual([10]);
    expect(keepa.sizes('commit')).toEqual([2]);
    expect(keepa.balance).toBe(-2);
    // Back when the balance is positive again (1 token at 1/s from -2): what the planner says.
    const expected = planNextBatch(
      { peek: [], commit: ['c'], light: [] },
      engine.meters.snapshot('keepa')!,
      t,
      batchingConfigSchema.parse(batching),
    );
    expect(expected).toMatchObject({ kind: 'wait', untilMs: T0 + 3_000 });
    expect(first).toMatchObject({
      meter: 'status',
      batches: { peek: 1, commit: 1, light: 0 },
      stopped: { reason: 'tokens', batch: 'commit', atMs: T0 + 3_000 },
      reschedule: T0 + 3_000,
    });
    expect(await leaseExists()).toBe(false);

    // Too early: nothing runs, same answer.
    t = T0 + 1_000;
    expect(await slice(engine, fetchers)).toMatchObject({
      batches: { peek: 0, commit: 0, light: 0 },
      reschedule: T0 + 3_000,
    });
    expect(keepa.calls).toHaveLength(2);

    // On time: one token plus the deficit affords one commit.
    t = T0 + 3_000;
    const onTime = await slice(engine, fetchers);
    expect(keepa.sizes('commit')).toEqual([2, 1]);
    expect(onTime).toMatchObject({ batches: { commit: 1 }, reschedule: T0 + 13_000 });

    // Much later the balance affords a full batch of five.
    t = T0 + 60_000;
    await slice(engine, fetchers);
    expect(keepa.sizes('commit')).toEqual([2, 1, 5]);

    // The rest, slice after slice at the times asked for.
    for (let i = 0; i < 10; i++) {
      const next = await slice(engine, fetchers);
      if (next.skipped || next.reschedule === undefined) break;
      t = next.reschedule;
    }
    const sizes = keepa.sizes('commit');
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(10);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(5);
    expect(keepa.lowest).toBeGreaterThanOrEqual(-10);
    expect(await ingestCounts(db, COLLECTION)).toMatchObject({ commit: 0, done: 10 });
  });

  it('stops when the gate says later (the category share is spent) and finishes at the times it gives', async () => {
    await seed({ capacity: 1000, refillPerSecond: 10 });
    // This category may use 10% of Keepa: 100 tokens at once, 1 per second after that.
    await db.doc(`categories/${CATEGORY}`).set({ provider: 'keepa', sharePercent: 10 });
    const keepa = new FakeKeepa(1000, 10);
    const { fetchers } = fakeFetchers(keepa, { survives: () => false });
    await addIngestItems(db, COLLECTION, keys('g', 120), { nowMs: t });
    const engine = new QuotaEngine(db, { now });

    const first = await slice(engine, fetchers);
    // Upstream has plenty; how much of the share the gate grants at once is its business.
    const granted = keepa.sizes('peek');
    expect(granted.length).toBeGreaterThan(0);
    expect(granted.length).toBeLessThan(3);
    expect(first).toMatchObject({ stopped: { reason: 'gate', gateReason: 'tokens' } });
    let at = first.skipped ? undefined : first.reschedule;
    expect(at).toBeGreaterThan(T0);
    expect(await leaseExists()).toBe(false);

    // Slices started when the gate said finish the queue. (The gate's time means "ask again":
    // a batch larger than one claimable page of a slow share may take more than one visit.)
    for (let i = 0; i < 10 && at !== undefined; i++) {
      t = at;
      const next = await slice(engine, fetchers);
      at = next.skipped ? undefined : next.reschedule;
      if (at !== undefined) expect(at).toBeGreaterThan(t);
    }
    expect(at).toBeUndefined();
    expect(keepa.sizes('peek').reduce((a, b) => a + b, 0)).toBe(120);
    expect(await ingestCounts(db, COLLECTION)).toMatchObject({ peek: 0, done: 120 });
  });

  it('records a batch the gate deferred as asked again in the next slice, not as new demand', async () => {
    await seed({ capacity: 1000, refillPerSecond: 10 });
    await db.doc(`categories/${CATEGORY}`).set({ provider: 'keepa', sharePercent: 10 });
    const keepa = new FakeKeepa(1000, 10);
    const { fetchers } = fakeFetchers(keepa, { survives: () => false });
    await addIngestItems(db, COLLECTION, keys('q', 120), { nowMs: t });
    const buffer = new WriteBuffer(db);
    const engine = new QuotaEngine(db, { now, buffer });
    let gateStops = 0;
    let next = await slice(engine, fetchers);
    // A slice that discovery enqueued runs in between (it reads the collection's lastSlice too).
    t += 100;
    await slice(engine, fetchers);
    for (let i = 0; i < 20 && !next.skipped && next.reschedule !== undefined; i++) {
      if (next.stopped.reason === 'gate') gateStops++;
      t = Math.max(next.reschedule, t + 1);
      next = await slice(engine, fetchers);
    }
    expect(await ingestCounts(db, COLLECTION)).toMatchObject({ peek: 0, done: 120 });
    expect(gateStops).toBeGreaterThan(0);
    await buffer.flush();
    const d = await recordedDemand(t);
    // Every batch is asked once and granted once; each deferral of it is asked again.
    expect(d.granted).toBe(keepa.sizes('peek').length);
    expect(d.firstAsks).toBe(d.granted);
    expect(d.reasked).toBe(d.deferred);
    expect(d.asked).toBe(d.firstAsks + d.reasked);
  });

  it('stops without rescheduling when the share can never pay for a batch', async () => {
    // A 40-token bucket never holds a full peek batch of 50.
    await seed({ capacity: 40, refillPerSecond: 1 });
    const keepa = new FakeKeepa(40, 1);
    const { fetchers } = fakeFetchers(keepa);
    await addIngestItems(db, COLLECTION, keys('r', 60), { nowMs: t });
    const summary = await slice(new QuotaEngine(db, { now }), fetchers);
    expect(summary).toMatchObject({ stopped: { reason: 'refused', batch: 'peek' } });
    expect(summary).not.toHaveProperty('reschedule');
    expect(keepa.calls).toEqual([]);
    expect(await leaseExists()).toBe(false);
  });

  it('a quota error from the status call starts the cooldown like any other', async () => {
    await seed({ capacity: 1000, refillPerSecond: 10 });
    const keepa = new FakeKeepa(1000, 10);
    const { fetchers } = fakeFetchers(keepa);
    await addIngestItems(db, COLLECTION, keys('s', 3), { nowMs: t });
    const status = async (): Promise<MeterReading> => {
      throw new QuotaExceededError('keepa', 'token', 90);
    };
    const summary = await slice(new QuotaEngine(db, { now }), { ...fetchers, status });
    expect(summary).toMatchObject({ stopped: { reason: 'quota', atMs: T0 + 90_000 } });
    expect((await db.doc('cooldowns/keepa').get()).get('until').toMillis()).toBe(T0 + 90_000);
    expect(keepa.calls).toEqual([]);
    expect(await leaseExists()).toBe(false);
  });

  it('on a quota error starts the cooldown, keeps the batch queued and resumes at its end', async () => {
    await seed({ capacity: 1000, refillPerSecond: 10 });
    const keepa = new FakeKeepa(1000, 10);
    const { fetchers } = fakeFetchers(keepa);
    await addIngestItems(db, COLLECTION, keys('q', 5), { nowMs: t });
    const engine = new QuotaEngine(db, { now });
    keepa.failNext = new QuotaExceededError('keepa', 'peek', 120);

    const first = await slice(engine, fetchers);
    expect(first).toMatchObject({
      batches: { peek: 0, commit: 0, light: 0 },
      stopped: { reason: 'quota', atMs: T0 + 120_000 },
      reschedule: T0 + 120_000,
    });
    expect((await db.doc('cooldowns/keepa').get()).get('until').toMillis()).toBe(T0 + 120_000);
    expect(await ingestCounts(db, COLLECTION)).toMatchObject({ peek: 5, commit: 0 });
    expect(await leaseExists()).toBe(false);

    // During the cooldown nothing calls the upstream.
    t = T0 + 60_000;
    expect(await slice(engine, fetchers)).toMatchObject({
      stopped: { reason: 'cooldown', atMs: T0 + 120_000 },
      reschedule: T0 + 120_000,
    });
    expect(keepa.calls).toEqual([]);

    t = T0 + 120_000;
    const after = await slice(engine, fetchers);
    expect(after).toMatchObject({ batches: { peek: 1, commit: 1 }, stopped: { reason: 'idle' } });
    expect(await ingestCounts(db, COLLECTION)).toMatchObject({ peek: 0, commit: 0, done: 5 });
  });

  it('records the batch an upstream 429 stopped as asked again after the cooldown', async () => {
    await seed({ capacity: 1000, refillPerSecond: 10 });
    const keepa = new FakeKeepa(1000, 10);
    const { fetchers } = fakeFetchers(keepa);
    await addIngestItems(db, COLLECTION, keys('q', 5), { nowMs: t });
    const buffer = new WriteBuffer(db);
    const engine = new QuotaEngine(db, { now, buffer });
    keepa.failNext = new QuotaExceededError('keepa', 'peek', 120);
    expect(await slice(engine, fetchers)).toMatchObject({ stopped: { reason: 'quota' } });
    // During the cooldown a slice asks nothing; the flag waits for the next ask.
    t = T0 + 60_000;
    expect(await slice(engine, fetchers)).toMatchObject({ stopped: { reason: 'cooldown' } });
    t = T0 + 120_000;
    expect(await slice(engine, fetchers)).toMatchObject({ stopped: { reason: 'idle' } });
    await buffer.flush();
    const d = await recordedDemand(t);
    // Three grants: the peek that got the 429, the same peek again, then the commit. The policy
    // replay asks a 429'd call again itself: two first asks, one re-ask.
    expect(d.granted).toBe(3);
    expect(d.firstAsks).toBe(2);
    expect(d.reasked).toBe(1);
  });

  it('a redelivered batch moves nothing twice and rediscovery queues nothing', async () => {
    await seed({ capacity: 1000, refillPerSecond: 10 });
    const keepa = new FakeKeepa(1000, 10);
    const { fetchers, stored } = fakeFetchers(keepa);
    // The first commit stores its items, then the task dies before it records the move.
    const commit = fetchers.commit;
    let crash = true;
    fetchers.commit = async (items) => {
      const result = await commit(items);
      if (crash) {
        crash = false;
        throw new Error('instance lost');
      }
      return result;
    };
    await addIngestItems(db, COLLECTION, keys('r', 8), { nowMs: t });

    await expect(slice(new QuotaEngine(db, { now }), fetchers)).rejects.toThrow('instance lost');
    expect(await leaseExists()).toBe(false);
    expect(await ingestCounts(db, COLLECTION)).toMatchObject({ commit: 8, done: 0 });

    // The retried task runs the same batch again: stored twice, recorded once.
    await slice(new QuotaEngine(db, { now }), fetchers);
    expect(keepa.sizes('commit')).toEqual([5, 5, 3]);
    expect(stored.size).toBe(8);
    expect(await ingestCounts(db, COLLECTION)).toEqual({
      peek: 0,
      commit: 0,
      light: 0,
      done: 8,
      failed: 0,
    });
    expect((await db.collection(`ingest/${COLLECTION}/items`).get()).size).toBe(8);

    // Recording a batch's results again changes nothing.
    const again = await applyIngestResults(
      db,
      COLLECTION,
      'commit',
      ['r000', 'r001'],
      [
        { key: 'r000', outcome: 'stored' },
        { key: 'r001', outcome: 'stored' },
      ],
      t,
    );
    expect(again).toEqual({ commit: 0, light: 0, done: 0, failed: 0, retried: 0 });
    // Discovering the same keys again queues nothing.
    expect(await addIngestItems(db, COLLECTION, keys('r', 8), { nowMs: t })).toEqual({
      added: 0,
      requeued: 0,
      unchanged: 8,
    });
    expect(await ingestCounts(db, COLLECTION)).toMatchObject({ peek: 0, done: 8 });
    // A stored item asked for a light update goes back to the light queue, once.
    const light = [{ key: 'r000' }, { key: 'r000' }, { key: 'new/key' }];
    expect(await addIngestItems(db, COLLECTION, light, { stage: 'light', nowMs: t })).toEqual({
      added: 1,
      requeued: 1,
      unchanged: 0,
    });
    expect(await ingestCounts(db, COLLECTION)).toMatchObject({ light: 2, done: 7 });
  });

  it('retries items the upstream failed, to the back of their queue, and parks them after three', async () => {
    await seed({ capacity: 1000, refillPerSecond: 10 });
    const keepa = new FakeKeepa(1000, 10);
    const { fetchers } = fakeFetchers(keepa, { survives: () => false });
    const peek = fetchers.peek;
    // The upstream never answers for s001.
    fetchers.peek = async (items) => {
      const result = await peek(items);
      return { ...result, results: result.results.filter((r) => r.key !== 's001') };
    };
    await addIngestItems(db, COLLECTION, keys('s', 3), { nowMs: t });

    const summary = await slice(new QuotaEngine(db, { now }), fetchers);
    expect(keepa.calls.map((c) => c.keys)).toEqual([['s000', 's001', 's002'], ['s001'], ['s001']]);
    expect(summary).toMatchObject({
      moved: { commit: 0, done: 2, retried: 2, failed: 1 },
      stopped: { reason: 'idle' },
    });
    expect(summary).not.toHaveProperty('reschedule');
    expect(await stageOf('s001')).toBe('failed');
    expect(await ingestCounts(db, COLLECTION)).toMatchObject({ peek: 0, done: 2, failed: 1 });
  });

  it('runs one slice per collection at a time: the second finds the lease held', async () => {
    await seed({ capacity: 1000, refillPerSecond: 10 });
    const keepa = new FakeKeepa(1000, 10);
    const { fetchers } = fakeFetchers(keepa, { survives: () => false });
    const peek = fetchers.peek;
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => {
      entered = resolve;
    });
    let proceed!: () => void;
    const held = new Promise<void>((resolve) => {
      proceed = resolve;
    });
    fetchers.peek = async (items) => {
      entered();
      await held;
      return peek(items);
    };
    await addIngestItems(db, COLLECTION, keys('l', 4), { nowMs: t });

    const first = slice(new QuotaEngine(db, { now }), fetchers);
    await inside;
    const second = await slice(new QuotaEngine(db, { now }), fetchers);
    expect(second).toEqual({ skipped: 'lease', heldUntil: T0 + 10 * 60_000 });
    proceed();
    expect(await first).toMatchObject({ batches: { peek: 1 }, moved: { done: 4 } });
    expect(keepa.calls).toHaveLength(1);
    expect(await leaseExists()).toBe(false);

    // A lease left behind by a crashed slice is taken over once it has expired.
    await db.doc(`ingest/${COLLECTION}/lease/current`).set({
      holder: 'crashed',
      expiresAt: new Date(T0 + 60_000),
    });
    await addIngestItems(db, COLLECTION, keys('m', 2), { nowMs: t });
    expect(await slice(new QuotaEngine(db, { now }), fetchers)).toMatchObject({
      skipped: 'lease',
    });
    t = T0 + 60_000;
    expect(await slice(new QuotaEngine(db, { now }), fetchers)).toMatchObject({
      batches: { peek: 1 },
    });
  });

  it('starts no batch past its deadline and asks to continue at once', async () => {
    await seed({ capacity: 1000, refillPerSecond: 10 });
    const keepa = new FakeKeepa(1000, 10);
    const { fetchers } = fakeFetchers(keepa);
    await addIngestItems(db, COLLECTION, keys('d', 3), { nowMs: t });
    const summary = await runIngestSlice({
      db,
      engine: new QuotaEngine(db, { now }),
      collection: COLLECTION,
      provider: 'keepa',
      category: CATEGORY,
      fetchers,
      now,
      deadlineMs: T0,
    });
    expect(summary).toMatchObject({ stopped: { reason: 'deadline' }, reschedule: T0 });
    expect(keepa.calls).toEqual([]);
    expect(await leaseExists()).toBe(false);
  });

  it("estimates batches at the upstream's documented cost, raised to what they really cost per item", async () => {
    await seed({ capacity: 1000, refillPerSecond: 10 });
    const keepa = new FakeKeepa(1000, 10);
    // The upstream documents 6 per committed item (above the configured 5), but charges 9.
    const { fetchers } = fakeFetchers(keepa, { costs: { commit: 9 } });
    const documented: IngestFetchers = { ...fetchers, costPerItem: { peek: 1, commit: 6 } };
    const asked: Array<{ operation: string; cost: number }> = [];
    const engineFor = () => {
      const engine = new QuotaEngine(db, { now });
      const acquire = engine.acquire.bind(engine);
      engine.acquire = (request) => {
        asked.push({ operation: String(request.operation), cost: request.cost ?? 1 });
        return acquire(request);
      };
      return engine;
    };
    await addIngestItems(db, COLLECTION, keys('e', 12), { nowMs: t });

    const first = await slice(engineFor(), documented);
    expect(keepa.sizes('commit')).toEqual([5, 5, 2]);
    // The first commit at the documented 6 per item, the next ones at the 9 they really cost.
    expect(asked).toEqual([
      { operation: 'peek', cost: 12 },
      { operation: 'commit', cost: 30 },
      { operation: 'commit', cost: 45 },
      { operation: 'commit', cost: 18 },
    ]);
    // What was settled is what the upstream charged.
    expect(first).toMatchObject({ tokensSpent: 12 + 12 * 9 });
    expect((await db.doc(`ingest/${COLLECTION}`).get()).get('observedCostPerItem')).toEqual({
      peek: 1,
      commit: 9,
    });

    // A later slice (another instance) starts from the observed cost.
    asked.length = 0;
    await addIngestItems(db, COLLECTION, keys('f', 5), { nowMs: t });
    await slice(engineFor(), documented);
    expect(asked).toEqual([
      { operation: 'peek', cost: 5 },
      { operation: 'commit', cost: 45 },
    ]);

    // Cheaper than documented: the estimate stays at the documented price.
    asked.length = 0;
    const cheap = fakeFetchers(keepa, { costs: { commit: 3 } }).fetchers;
    await addIngestItems(db, COLLECTION, keys('g', 10), { nowMs: t });
    await slice(engineFor(), { ...cheap, costPerItem: { peek: 1, commit: 6 } });
    expect(asked.filter((a) => a.operation === 'commit').map((a) => a.cost)).toEqual([45, 30]);
    expect((await db.doc(`ingest/${COLLECTION}`).get()).get('observedCostPerItem.commit')).toBe(3);
  });

  it('registers fetchers per provider', () => {
    const { fetchers } = fakeFetchers(new FakeKeepa(10, 1));
    const factory = async () => fetchers;
    const unregister = registerIngestFetchers('keepa', factory);
    expect(ingestFetchers('keepa')).toBe(factory);
    unregister();
    expect(ingestFetchers('keepa')).toBeUndefined();
  });
});

describe("ingest items within Firestore's limits", () => {
  const items = () => db.collection(`ingest/${COLLECTION}/items`);

  it('encodes keys Firestore reserves as ids; a key of any form is queued and read back', async () => {
    expect(itemDocId('B00TEST001')).toBe('B00TEST001');
    expect(itemDocId('__init__')).toBe(`~${Buffer.from('__init__').toString('base64url')}`);
    expect(itemDocId('__x')).toBe('__x');
    const keys = ['__init__', '_____', 'é/ü', 'plain-key'];
    const added = await addIngestItems(
      db,
      COLLECTION,
      keys.map((key) => ({ key })),
      { nowMs: t },
    );
    expect(added.added).toBe(4);
    const stored = (await items().get()).docs.map((d) => d.get('key') as string);
    expect(stored.sort()).toEqual([...keys].sort());
  });

  it('refuses a key whose encoded id would pass 1,500 bytes, with a clear error', () => {
    expect(itemDocId('k'.repeat(500))).toBe('k'.repeat(500));
    expect(itemDocId('é'.repeat(500)).length).toBeLessThanOrEqual(1500); // 1,000 bytes
    expect(() => itemDocId('€'.repeat(400))).toThrow(
      /is 1200 bytes: a key with characters other than A-Z a-z 0-9 _ - has at most 1124/,
    );
  });

  it('refuses items Firestore would refuse before writing any of them, naming the item', async () => {
    const huge = { page: 'x'.repeat(1_048_450) }; // a value Firestore takes, in a document it does not
    const attempt = (data: Record<string, unknown>) =>
      addIngestItems(db, COLLECTION, [{ key: 'ok-1' }, { key: 'bad', data }], { nowMs: t }).then(
        () => undefined,
        (e: unknown) => e,
      );
    const reserved = await attempt({ __meta__: 1 });
    expect(reserved).toBeInstanceOf(FirestoreLimitError);
    expect((reserved as Error).message).toBe(
      `document "ingest/${COLLECTION}/items/bad" cannot be written: data.__meta__: field name "__meta__" is reserved (__...__)`,
    );
    const big = await attempt(huge);
    expect((big as Error).message).toMatch(
      /items\/bad" cannot be written: document is 1,048,\d{3}/,
    );
    expect((await items().get()).size).toBe(0);
  });
});
