import { describe, expect, it } from 'vitest';
import {
  type BatchingConfigInput,
  batchingConfigSchema,
  defaultBatchingConfig,
  largestAffordable,
  planNextBatch,
} from '../../../src/core/pipeline/batching';
import { CostExceedsLimitError } from '../../../src/core/quota/errors';

const config = (input: BatchingConfigInput = {}) => batchingConfigSchema.parse(input);
const asins = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
/** Keepa-like: 300 tokens, 5 per second. */
const keepa = (balance: number, atMs = 0) => ({ balance, atMs, capacity: 300, ratePerSecond: 5 });
const none: string[] = [];

describe('batching configuration', () => {
  it('defaults to the Keepa ingestor sizes', () => {
    expect(defaultBatchingConfig).toEqual({
      peek: { size: 50, costPerItem: 1, minItems: 50 },
      commit: { size: 5, costPerItem: 5, minItems: 1 },
      light: { size: 50, costPerItem: 1, minItems: 50 },
      maxDeficit: 25,
      minStartBalance: 1,
      order: ['commit', 'light', 'peek'],
    });
  });

  it('keeps the defaults of what an override leaves out', () => {
    const parsed = config({ commit: { size: 3 }, maxDeficit: 0 });
    expect(parsed.commit).toEqual({ size: 3, costPerItem: 5, minItems: 1 });
    expect(parsed.peek.size).toBe(50);
    expect(parsed.maxDeficit).toBe(0);
  });

  it('rejects a minimum above the size, repeated kinds and negative deficits', () => {
    expect(batchingConfigSchema.safeParse({ peek: { size: 10 } }).success).toBe(false);
    expect(batchingConfigSchema.safeParse({ order: ['peek', 'peek'] }).success).toBe(false);
    expect(batchingConfigSchema.safeParse({ maxDeficit: -1 }).success).toBe(false);
    expect(batchingConfigSchema.safeParse({ commit: { size: 0, minItems: 0 } }).success).toBe(
      false,
    );
  });
});

describe('planning the next batch', () => {
  it('is idle with nothing queued', () => {
    expect(planNextBatch({ peek: none, commit: none, light: none }, keepa(300), 0)).toEqual({
      kind: 'idle',
    });
  });

  it('commits survivors first, five at a time, at about five tokens each', () => {
    const plan = planNextBatch(
      { peek: asins('p', 80), commit: asins('c', 12), light: asins('l', 70) },
      keepa(300),
      0,
    );
    expect(plan).toEqual({
      kind: 'run',
      batch: 'commit',
      items: ['c0', 'c1', 'c2', 'c3', 'c4'],
      estimatedCost: 25,
      balanceAfter: 275,
    });
  });

  it('then light updates and peeks in batches of fifty', () => {
    const light = planNextBatch(
      { peek: asins('p', 80), commit: none, light: asins('l', 70) },
      keepa(300),
      0,
    );
    expect(light).toMatchObject({ kind: 'run', batch: 'light', estimatedCost: 50 });
    expect(light.kind === 'run' && light.items).toEqual(asins('l', 50));
    const peek = planNextBatch({ peek: asins('p', 80), commit: none, light: none }, keepa(300), 0);
    expect(peek).toMatchObject({ kind: 'run', batch: 'peek', items: asins('p', 50) });
  });

  it('runs a short queue whole instead of waiting for a full batch', () => {
    const plan = planNextBatch({ peek: asins('p', 7), commit: none, light: none }, keepa(10), 0);
    expect(plan).toMatchObject({
      kind: 'run',
      batch: 'peek',
      items: asins('p', 7),
      estimatedCost: 7,
    });
  });

  it('sizes commits down when the balance is short, within the allowed deficit', () => {
    const queues = { peek: none, commit: asins('c', 5), light: none };
    // 12 tokens + 0 deficit: two items (10 tokens).
    expect(planNextBatch(queues, keepa(12), 0, config({ maxDeficit: 0 }))).toMatchObject({
      kind: 'run',
      items: ['c0', 'c1'],
      estimatedCost: 10,
      balanceAfter: 2,
    });
    // 3 tokens + 10 deficit: two items, ending at -7.
    expect(planNextBatch(queues, keepa(3), 0, config({ maxDeficit: 10 }))).toMatchObject({
      items: ['c0', 'c1'],
      balanceAfter: -7,
    });
    // The default deficit (25) lets a full commit start on a small positive balance.
    expect(planNextBatch(queues, keepa(1), 0)).toMatchObject({
      estimatedCost: 25,
      balanceAfter: -24,
    });
  });

  it('waits, never starting on a balance below the start minimum', () => {
    const queues = { peek: none, commit: asins('c', 5), light: none };
    // -50 at 5 tokens per second reaches 1 after 10.2 s.
    expect(planNextBatch(queues, keepa(-50), 0)).toEqual({
      kind: 'wait',
      batch: 'commit',
      untilMs: 10_200,
      neededBalance: 1,
    });
    expect(planNextBatch(queues, keepa(-50), 10_200)).toMatchObject({
      kind: 'run',
      batch: 'commit',
    });
  });

  it('waits for a full peek batch (its minimum) rather than peeking a few items', () => {
    const queues = { peek: asins('p', 60), commit: none, light: none };
    // 10 + 25 deficit affords 35 < 50: wait until the balance is 25 (3 s at 5/s).
    expect(planNextBatch(queues, keepa(10), 0)).toEqual({
      kind: 'wait',
      batch: 'peek',
      untilMs: 3_000,
      neededBalance: 25,
    });
    expect(planNextBatch(queues, keepa(10), 3_000)).toMatchObject({
      kind: 'run',
      items: asins('p', 50),
      balanceAfter: -25,
    });
  });

  it('projects the reading forward to now, up to capacity', () => {
    const queues = { peek: none, commit: asins('c', 5), light: none };
    const plan = planNextBatch(queues, keepa(-100, 1_000), 3_600_000, config({ maxDeficit: 0 }));
    expect(plan).toMatchObject({ kind: 'run', balanceAfter: 275 });
  });

  it('keeps strict priority: an unaffordable commit is not overtaken by cheap light updates', () => {
    const queues = { peek: none, commit: asins('c', 3), light: asins('l', 10) };
    const strict = config({ maxDeficit: 0, light: { minItems: 1 } });
    expect(planNextBatch(queues, keepa(3), 0, strict)).toEqual({
      kind: 'wait',
      batch: 'commit',
      untilMs: 400,
      neededBalance: 5,
    });
    const lightFirst = config({
      maxDeficit: 0,
      light: { minItems: 1 },
      order: ['light', 'commit'],
    });
    expect(planNextBatch(queues, keepa(3), 0, lightFirst)).toMatchObject({
      kind: 'run',
      batch: 'light',
      items: ['l0', 'l1', 'l2'],
    });
  });

  it('ignores kinds left out of the order', () => {
    const onlyPeek = config({ order: ['peek'] });
    expect(
      planNextBatch({ peek: none, commit: ['c'], light: ['l'] }, keepa(300), 0, onlyPeek),
    ).toEqual({
      kind: 'idle',
    });
  });

  it('shrinks a full-batch minimum to what the bucket can ever hold', () => {
    const small = { balance: 0, atMs: 0, capacity: 30, ratePerSecond: 1 };
    const cfg = config({ maxDeficit: 0 });
    expect(largestAffordable('peek', 30, cfg)).toBe(30);
    const queues = { peek: asins('p', 60), commit: none, light: none };
    expect(planNextBatch(queues, small, 0, cfg)).toMatchObject({ kind: 'wait', untilMs: 30_000 });
    expect(planNextBatch(queues, small, 30_000, cfg)).toMatchObject({
      kind: 'run',
      estimatedCost: 30,
    });
  });

  it('refuses a batch no balance can ever afford', () => {
    const tiny = { balance: 2, atMs: 0, capacity: 2, ratePerSecond: 1 };
    expect(() =>
      planNextBatch({ peek: none, commit: ['c'], light: none }, tiny, 0, config({ maxDeficit: 0 })),
    ).toThrow(CostExceedsLimitError);
  });
});
