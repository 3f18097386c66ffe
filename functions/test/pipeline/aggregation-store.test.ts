import type { Firestore } from 'firebase-admin/firestore';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { flushTaskId } from '../../src/adapters/pipeline/aggregation-flush-task';
import { AggregationStore } from '../../src/adapters/pipeline/aggregation-store';
import type {
  AggregationStoreOptions,
  SubmitResult,
} from '../../src/adapters/pipeline/aggregation-store-types';
import { WriteBuffer } from '../../src/adapters/storage/write-buffer';
import { defaultAggregationConfig, type SourceResponse } from '../../src/core/pipeline/aggregation';
import { minuteKey } from '../../src/core/storage/write-buffer';
import { testFirestore } from '../support/firestore';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

let db: Firestore;
let close: () => Promise<void>;
let clock: number;
let buffer: WriteBuffer;
let scheduled: Array<{ workItemId: string; atMs: number }>;

beforeEach(() => {
  ({ db, close } = testFirestore());
  clock = T0;
  buffer = new WriteBuffer(db, { intervalMs: 20 });
  scheduled = [];
});
afterEach(async () => {
  await buffer.flush();
  await close();
});

/** Defaults from the (absent) `config/pipeline` document: 3 responses, 60 s. */
function store(options: Partial<AggregationStoreOptions> = {}): AggregationStore {
  return new AggregationStore(db, {
    scheduleFlush: async (workItemId, atMs) => {
      scheduled.push({ workItemId, atMs });
    },
    stats: buffer,
    now: () => clock,
    ...options,
  });
}

const response = (
  workItemId: string,
  source: string,
  value: number | null = 100,
  confidence?: number,
): SourceResponse =>
  confidence === undefined
    ? { workItemId, source, value }
    : { workItemId, source, value, confidence };

async function header(workItemId: string) {
  return (await db.doc(`aggregations/${workItemId}`).get()).data();
}

/** The per-minute counters of the minute `atMs` falls in. */
async function stats(atMs = T0): Promise<Record<string, unknown> | undefined> {
  await buffer.flush();
  return (await db.doc(`aggregationStats/${minuteKey(atMs)}`).get()).data();
}

async function aggregateCount(): Promise<number> {
  return (await db.collection('aggregates').get()).size;
}

function shuffle<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('aggregation store: quorum and timeout', () => {
  it('writes once when the third source arrives', async () => {
    const s = store();
    expect(await s.submitResponse(response('w1', 'a', 100, 0.9))).toEqual({
      outcome: 'added',
      count: 1,
    });
    expect(await s.submitResponse(response('w1', 'b', 101))).toEqual({
      outcome: 'added',
      count: 2,
    });
    expect(await s.aggregate('w1')).toBeUndefined();

    clock += 5_000;
    const third = await s.submitResponse(response('w1', 'c', 150));
    expect(third).toMatchObject({ outcome: 'added', count: 3, flush: { outcome: 'written' } });
    const written = await s.aggregate('w1');
    expect(written).toMatchObject({
      workItemId: 'w1',
      reason: 'quorum',
      responseCount: 3,
      firstAtMs: T0,
      writtenAtMs: T0 + 5_000,
      value: 101,
      sources: ['a', 'b', 'c'],
      agreeing: ['a', 'b'],
      dissenting: ['c'],
      confidence: 0.9,
    });
    expect(await header('w1')).toMatchObject({ status: 'written', count: 3, reason: 'quorum' });
    expect(await s.flushItem('w1')).toEqual({ outcome: 'already-written' });
    expect(await aggregateCount()).toBe(1);
    expect(await stats()).toMatchObject({ responses: 3, written: 1 });
  });

  it('writes what arrived (two sources) when the timeout flush comes', async () => {
    const s = store();
    await s.submitResponse(response('w2', 'a', 10));
    clock += 20_000;
    await s.submitResponse(response('w2', 'b', null));

    clock = T0 + 59_999;
    expect(await s.flushItem('w2')).toEqual({ outcome: 'not-due', dueAtMs: T0 + 60_000 });
    expect(await s.aggregate('w2')).toBeUndefined();

    clock = T0 + 60_000;
    const flushed = await s.flushItem('w2');
    expect(flushed).toMatchObject({ outcome: 'written' });
    expect(await s.aggregate('w2')).toMatchObject({
      reason: 'timeout',
      responseCount: 2,
      value: 10,
      agreement: 0.5,
      sources: ['a', 'b'],
      failed: ['b'],
      writtenAtMs: T0 + 60_000,
    });
    expect(await s.flushItem('w2')).toEqual({ outcome: 'already-written' });
    expect(await s.flushItem('nothing-arrived')).toEqual({ outcome: 'unknown' });
  });

  it('counts the same source once', async () => {
    const s = store();
    await s.submitResponse(response('w3', 'a', 100));
    expect(await s.submitResponse(response('w3', 'a', 999))).toEqual({
      outcome: 'duplicate',
      count: 1,
    });
    expect(await s.submitResponse(response('w3', 'b', 100))).toEqual({
      outcome: 'added',
      count: 2,
    });
    expect(await s.aggregate('w3')).toBeUndefined();
    expect(await header('w3')).toMatchObject({ count: 2, status: 'pending' });
    const stored = await s.responses('w3');
    expect(stored.map((r) => [r.source, r.value])).toEqual([
      ['a', 100],
      ['b', 100],
    ]);
    expect(await stats()).toMatchObject({ responses: 2, duplicates: 1 });
  });

  it('writes once when two flushes race', async () => {
    const s = store();
    await s.submitResponse(response('w4', 'a', 1));
    await s.submitResponse(response('w4', 'b', 2));
    clock += 60_000;
    const other = store(); // another instance
    const results = await Promise.all([
      s.flushItem('w4'),
      other.flushItem('w4'),
      s.flushItem('w4', { force: true }),
    ]);
    expect(results.filter((r) => r.outcome === 'written')).toHaveLength(1);
    expect(results.filter((r) => r.outcome === 'already-written')).toHaveLength(2);
    expect(await aggregateCount()).toBe(1);
    expect(await stats()).toMatchObject({ responses: 2 });
    expect(await stats(clock)).toEqual(expect.objectContaining({ written: 1 }));
  });
});

describe('aggregation store: concurrency', () => {
  const items = ['i1', 'i2', 'i3', 'i4', 'i5'];
  const sources = ['s1', 's2', 's3', 's4'];

  /** Every acknowledged response is in its item's aggregate or stored and flagged late. */
  async function checkNothingLost(
    s: AggregationStore,
    submissions: Array<{ workItemId: string; source: string; result: SubmitResult }>,
  ) {
    expect(await aggregateCount()).toBe(items.length);
    for (const id of items) {
      const mine = submissions.filter((x) => x.workItemId === id);
      const added = mine.filter((x) => x.result.outcome === 'added').map((x) => x.source);
      const late = mine.filter((x) => x.result.outcome === 'late').map((x) => x.source);
      expect(added.length + late.length).toBe(sources.length);
      const aggregate = await s.aggregate(id);
      expect(aggregate?.sources).toEqual([...added].sort());
      expect(aggregate?.responseCount).toBe(added.length);
      const stored = await s.responses(id);
      expect(stored).toHaveLength(sources.length);
      expect(stored.filter((r) => r.late).map((r) => r.source)).toEqual([...late].sort());
      expect(await header(id)).toMatchObject({
        status: 'written',
        count: added.length,
        lateCount: late.length,
      });
    }
  }

  it.each([7, 8, 9])(
    'writes each of 5 items once from 20 concurrent submissions in random order (seed %i)',
    async (seed) => {
      const s = store();
      const other = store();
      const order = shuffle(
        items.flatMap((workItemId) => sources.map((source) => ({ workItemId, source }))),
        seed,
      );
      const submissions = await Promise.all(
        order.map(async ({ workItemId, source }, i) => ({
          workItemId,
          source,
          // Two instances, as when the requests reach different function instances.
          result: await (i % 2 ? other : s).submitResponse(
            response(workItemId, source, 100 + (i % 3)),
          ),
        })),
      );
      for (const id of items) {
        const writes = submissions.filter(
          (x) => x.workItemId === id && x.result.flush?.outcome === 'written',
        );
        expect(writes, id).toHaveLength(1);
        expect(writes[0]!.result.flush).toMatchObject({ aggregate: { reason: 'quorum' } });
      }
      await checkNothingLost(s, submissions);
      expect(scheduled.map((x) => x.workItemId).sort()).toEqual(items);
      const counters = await stats();
      expect(counters).toMatchObject({ written: 5 });
      expect((counters?.responses as number) + ((counters?.late as number | undefined) ?? 0)).toBe(
        20,
      );
    },
  );

  it.each([11, 12, 13])(
    'loses nothing acknowledged when forced flushes race the submissions (seed %i)',
    async (seed) => {
      // No quorum: only the forced flushes write, at random points among the submissions.
      const s = store({ config: { ...defaultAggregationConfig, minResponses: 10 } });
      const submits = items.flatMap((workItemId) =>
        sources.map((source) => ({ kind: 'submit' as const, workItemId, source })),
      );
      const flushes = items.map((workItemId) => ({
        kind: 'flush' as const,
        workItemId,
        source: '',
      }));
      const ops = shuffle([...submits, ...flushes], seed);
      const outcomes = await Promise.all(
        ops.map(async (op) =>
          op.kind === 'submit'
            ? { ...op, result: await s.submitResponse(response(op.workItemId, op.source)) }
            : { ...op, flush: await s.flushItem(op.workItemId, { force: true }) },
        ),
      );
      // A flush that ran before any response found nothing; write those items now.
      await s.forceFlush();
      const submissions = outcomes.flatMap((x) => ('result' in x ? [x] : []));
      await checkNothingLost(s, submissions);
    },
  );
});

describe('aggregation store: operators, late responses, scheduling', () => {
  it('force flush writes pending items, all or the named ones', async () => {
    const s = store();
    await s.submitResponse(response('p1', 'a', 5));
    await s.submitResponse(response('p2', 'a', 7));
    await s.submitResponse(response('p2', 'b', 7));
    await s.submitResponse(response('p3', 'a', 1));
    for (const source of ['a', 'b', 'c']) await s.submitResponse(response('done', source, 3));

    expect(await s.forceFlush({ workItemIds: ['p3'] })).toEqual({
      p3: { outcome: 'written', aggregate: expect.objectContaining({ reason: 'forced' }) },
    });
    const all = await s.forceFlush();
    expect(Object.keys(all).sort()).toEqual(['p1', 'p2']);
    expect(await s.aggregate('p1')).toMatchObject({ reason: 'forced', responseCount: 1, value: 5 });
    expect(await s.aggregate('p2')).toMatchObject({ reason: 'forced', responseCount: 2, value: 7 });
    expect(await s.forceFlush()).toEqual({});
    expect(await aggregateCount()).toBe(4);
  });

  it('stores a late response flagged and leaves the aggregate alone', async () => {
    const s = store();
    for (const source of ['a', 'b', 'c']) await s.submitResponse(response('l1', source, 50));
    const before = await s.aggregate('l1');

    clock += 10_000;
    expect(await s.submitResponse(response('l1', 'd', 80))).toEqual({ outcome: 'late', count: 3 });
    expect(await s.submitResponse(response('l1', 'd', 80))).toMatchObject({
      outcome: 'duplicate',
    });
    expect(await s.aggregate('l1')).toEqual(before);
    expect(before).toMatchObject({ responseCount: 3, sources: ['a', 'b', 'c'] });
    const late = (await s.responses('l1')).find((r) => r.source === 'd');
    expect(late).toMatchObject({ late: true, value: 80, receivedAtMs: T0 + 10_000 });
    expect(await header('l1')).toMatchObject({ count: 3, lateCount: 1, status: 'written' });
    expect(await s.flushItem('l1', { force: true })).toEqual({ outcome: 'already-written' });
    expect(await stats()).toMatchObject({ responses: 3, late: 1, duplicates: 1, written: 1 });
  });

  it('asks the scheduler once per item for first response + timeout, again for a redelivery', async () => {
    const s = store();
    await s.submitResponse(response('t1', 'a'));
    clock += 5_000;
    await s.submitResponse(response('t1', 'b'));
    await s.submitResponse(response('t2', 'a'));
    clock += 5_000;
    await s.submitResponse(response('t1', 'b'));
    await s.submitResponse(response('t1', 'c'));
    await s.submitResponse(response('t1', 'd'));
    await Promise.all(['a', 'b', 'c', 'd'].map((x) => s.submitResponse(response('t3', x))));
    // The redelivered t1/b asks again for the same time: the same task id, enqueued once.
    expect(scheduled).toEqual([
      { workItemId: 't1', atMs: T0 + 60_000 },
      { workItemId: 't2', atMs: T0 + 65_000 },
      { workItemId: 't1', atMs: T0 + 60_000 },
      { workItemId: 't3', atMs: T0 + 70_000 },
    ]);
  });

  it('re-arms the timeout on the retry when scheduling failed', async () => {
    let fail = true;
    const s = store({
      scheduleFlush: async (workItemId, atMs) => {
        if (fail) throw new Error('queue unavailable');
        scheduled.push({ workItemId, atMs });
      },
    });
    await expect(s.submitResponse(response('r1', 'a'))).rejects.toThrow('queue unavailable');
    // The response was stored before the failure.
    expect(await s.responses('r1')).toHaveLength(1);
    expect(await header('r1')).toMatchObject({ flushScheduled: false });
    fail = false;
    clock += 1_000;
    expect(await s.submitResponse(response('r1', 'a'))).toMatchObject({ outcome: 'duplicate' });
    expect(scheduled).toEqual([{ workItemId: 'r1', atMs: T0 + 60_000 }]);
    await s.submitResponse(response('r1', 'b'));
    expect(scheduled).toHaveLength(1);
  });

  it('takes the minimum and timeout from config/pipeline', async () => {
    await db.doc('config/pipeline').set({ aggregation: { minResponses: 2, timeoutSeconds: 30 } });
    const s = store();
    await s.submitResponse(response('c1', 'a'));
    expect(await s.submitResponse(response('c1', 'b'))).toMatchObject({
      flush: { outcome: 'written', aggregate: { reason: 'quorum', responseCount: 2 } },
    });
    expect(scheduled).toEqual([{ workItemId: 'c1', atMs: T0 + 30_000 }]);
  });

  it('rejects a response whose ids cannot name documents', async () => {
    const s = store();
    await expect(s.submitResponse(response('a/b', 'x'))).rejects.toThrow();
    await expect(s.submitResponse(response('ok', '..'))).rejects.toThrow();
  });

  it('gives flush tasks one id per item and time, distinct where characters are replaced', () => {
    expect(flushTaskId('item.1', T0)).toBe(flushTaskId('item.1', T0));
    expect(flushTaskId('item.1', T0)).not.toBe(flushTaskId('item_1', T0));
    expect(flushTaskId('item.1', T0)).toMatch(/^[A-Za-z0-9_-]+$/);
  });
});
