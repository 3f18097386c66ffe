import type { Firestore } from 'firebase-admin/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  engineWorkPorts,
  type WorkHandler,
  WorkRunner,
} from '../../src/adapters/pipeline/work-runner';
import type { EnqueueOptions } from '../../src/adapters/queues/task-queue';
import { QuotaEngine } from '../../src/adapters/quota/quota-engine';
import { type WorkItem, workItemSchema } from '../../src/core/pipeline/work-items';
import { QuotaExceededError } from '../../src/core/quota/errors';
import { testFirestore } from '../support/firestore';

let db: Firestore;
let close: () => Promise<void>;
beforeAll(async () => {
  ({ db, close } = testFirestore());
  await db.doc('providers/keepa').set({
    limits: [{ kind: 'tokenBucket', capacity: 300, refillPerSecond: 5 }],
    cooldownSeconds: 900,
  });
  await db.doc('categories/deals').set({ provider: 'keepa', sharePercent: 90 });
  await db.doc('categories/paused').set({ provider: 'keepa', sharePercent: 10, paused: true });
});
afterAll(() => close());

function setup(handlers: Record<string, WorkHandler>) {
  const engine = new QuotaEngine(db);
  const enqueued: Array<{ queue: string; item: WorkItem; options: EnqueueOptions }> = [];
  const runner = new WorkRunner(
    engineWorkPorts(engine, async (queue, item, options) => {
      enqueued.push({ queue, item, options });
      return 'enqueued';
    }),
    (kind) => handlers[kind],
    (provider) => `${provider}Work`,
  );
  return { runner, enqueued, engine };
}

const item = (key: string, category = 'deals') =>
  workItemSchema.parse({
    collection: 'deals-2026',
    kind: 'product',
    key,
    provider: 'keepa',
    category,
    cost: 5,
  });

describe('running work items through the gate', () => {
  it('runs a granted item once and defers nothing', async () => {
    const calls: string[] = [];
    const { runner, enqueued } = setup({ product: async (i) => void calls.push(i.key) });
    expect(await runner.run(item('a'))).toEqual({ kind: 'done' });
    expect(calls).toEqual(['a']);
    expect(enqueued).toEqual([]);
  });

  it('defers a paused category without calling the upstream', async () => {
    const calls: string[] = [];
    const { runner, enqueued } = setup({ product: async (i) => void calls.push(i.key) });
    const outcome = await runner.run(item('p', 'paused'));
    expect(outcome).toMatchObject({ kind: 'deferred', reason: 'paused' });
    expect(calls).toEqual([]);
    expect(enqueued[0]?.queue).toBe('keepaWork');
    expect(enqueued[0]?.item.deferrals).toBe(1);
  });

  it('on a quota error starts the cooldown and defers this and every later item until it ends', async () => {
    const calls: string[] = [];
    const { runner, enqueued } = setup({
      product: async (i) => {
        calls.push(i.key);
        throw new QuotaExceededError('keepa', 'product', 120);
      },
    });
    const first = await runner.run(item('q1'));
    expect(first).toMatchObject({ kind: 'deferred', reason: 'cooldown' });
    // Another instance: it reads the cooldown document and never calls the upstream.
    const other = setup({ product: async (i) => void calls.push(i.key) });
    const second = await other.runner.run(item('q2'));
    expect(second).toMatchObject({ kind: 'deferred', reason: 'cooldown' });
    expect(calls).toEqual(['q1']);
    if (first.kind !== 'deferred' || second.kind !== 'deferred') throw new Error('unreachable');
    expect(second.atMs).toBe(first.atMs);
    expect(enqueued[0]?.options.scheduleTime?.getTime()).toBe(first.atMs);
    // Deterministic ids: the same deferral enqueued twice is one task.
    expect(enqueued[0]?.options.id).toMatch(/^deals-2026-product-q1-d1-\d+$/);
    await db.doc('cooldowns/keepa').delete();
  });

  it('lets other errors through so Cloud Tasks retries with backoff', async () => {
    const { runner } = setup({
      product: async () => {
        throw new Error('upstream 503');
      },
    });
    await expect(runner.run(item('e'))).rejects.toThrow('upstream 503');
  });

  it('drops an item no limit can ever grant, without calling the upstream or retrying', async () => {
    const calls: string[] = [];
    const { runner, enqueued } = setup({ product: async (i) => void calls.push(i.key) });
    // 90% of a 300-token bucket never holds 500 tokens.
    const outcome = await runner.run({ ...item('big'), cost: 500 });
    expect(outcome).toMatchObject({ kind: 'refused' });
    expect(calls).toEqual([]);
    expect(enqueued).toEqual([]);
  });

  it('settles the requests a handler reports against windows that count requests', async () => {
    await db.doc('providers/proxy').set({
      limits: [{ kind: 'window', unit: 'minute', limit: 10, measure: 'requests' }],
    });
    await db.doc('categories/pages').set({ provider: 'proxy', sharePercent: 100 });
    // Defer rather than wait in process for the next minute's window.
    await db.doc('config/flags').set({ maxAwaitSeconds: 0 });
    const { runner, enqueued } = setup({ page: async () => ({ requests: 3 }) });
    const page = (key: string) =>
      workItemSchema.parse({
        collection: 'c',
        kind: 'page',
        key,
        provider: 'proxy',
        category: 'pages',
      });
    // Each item is estimated at one request but makes three: 10 per minute allow 4 items, not 10.
    const outcomes = [];
    for (let i = 0; i < 6; i++) outcomes.push((await runner.run(page(`p${i}`))).kind);
    expect(outcomes.filter((k) => k === 'done').length).toBeLessThanOrEqual(4);
    expect(enqueued.length).toBeGreaterThanOrEqual(2);
  });

  it('a settled overrun owed to a window too small to carry it at once is paid later, not refused', async () => {
    await db.doc('providers/tiny').set({
      limits: [{ kind: 'window', unit: 'minute', limit: 1, measure: 'requests' }],
    });
    await db.doc('categories/tiny-pages').set({ provider: 'tiny', sharePercent: 100 });
    await db.doc('config/flags').set({ maxAwaitSeconds: 0 });
    const { runner } = setup({ page: async () => ({ requests: 2 }) });
    const page = (key: string) =>
      workItemSchema.parse({
        collection: 'c',
        kind: 'page',
        key,
        provider: 'tiny',
        category: 'tiny-pages',
      });
    expect((await runner.run(page('first'))).kind).toBe('done');
    // The owed request must not make the next item look as if no window could ever grant it.
    expect((await runner.run(page('second'))).kind).toBe('deferred');
    await db.doc('config/flags').delete();
  });

  it('refuses an item of an unknown kind', async () => {
    const { runner } = setup({});
    await expect(runner.run(item('x'))).rejects.toThrow(/no handler/);
  });
});
