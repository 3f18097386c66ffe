import { describe, expect, it } from 'vitest';
import {
  type Category,
  categorySchema,
  flagsSchema,
  type Provider,
  providerSchema,
} from '../../../src/core/config';
import { CostExceedsLimitError } from '../../../src/core/quota/errors';
import { Gate } from '../../../src/core/quota/gate';
import type { GateContext, SlotLease } from '../../../src/core/quota/gate-ports';
import { allocationFor } from './allocation-fixture';

const START = Date.UTC(2026, 0, 1, 12, 0, 0);

function setup(
  providerInput: Record<string, unknown>,
  overrides: Partial<GateContext> = {},
  categoryInput: Record<string, unknown> = {},
) {
  let now = START;
  const provider: Provider = providerSchema.parse({ id: 'p', ...providerInput });
  const category: Category = categorySchema.parse({
    id: 'c',
    provider: 'p',
    sharePercent: 100,
    ...categoryInput,
  });
  const claimed = new Set<string>();
  const pageModes = new Map<string, 'whole' | 'split'>();
  let slotsInUse = 0;
  const context: GateContext = {
    provider,
    category,
    allocation: allocationFor(provider, { c: category.sharePercent }),
    flags: flagsSchema.parse({}),
    cooldownUntilMs: undefined,
    ...overrides,
  };
  const gate = new Gate({
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
    random: () => 0.5,
    context: async () => context,
    claim: async (key, ref) => {
      const id = `${key}/${ref.id}`;
      if (claimed.has(id)) return false;
      claimed.add(id);
      return true;
    },
    claimRun: async (key, run) => {
      const all = [...run.pages, ...run.blocks];
      const taken = all.filter((ref) => claimed.has(`${key}/${ref.id}`)).map((ref) => ref.id);
      if (taken.length > 0) return taken;
      for (const ref of all) claimed.add(`${key}/${ref.id}`);
      for (const page of run.pages) pageModes.set(`${key}/${page.id}`, 'whole');
      return [];
    },
    claimPage: async (key, page, mode) => {
      const id = `${key}/${page.id}`;
      if (claimed.has(id)) return pageModes.get(id) === 'split' ? 'split' : 'taken';
      claimed.add(id);
      pageModes.set(id, mode);
      return mode === 'whole' ? 'won' : 'split';
    },
    acquireSlot: async (_provider, cap): Promise<SlotLease | undefined> => {
      if (slotsInUse >= cap) return undefined;
      slotsInUse++;
      return { release: () => slotsInUse-- };
    },
  });
  return { gate, context, advance: (ms: number) => (now += ms), now: () => now, claimed };
}

const bucket = {
  limits: [{ kind: 'tokenBucket', capacity: 10, refillPerSecond: 1 }],
  safetyMarginMs: 0,
};

describe('the gate', () => {
  it('grants from the bucket, then waits within the bound, then answers retryAt', async () => {
    const { gate, now } = setup(bucket);
    for (let i = 0; i < 9; i++) {
      expect(await gate.acquire({ provider: 'p', category: 'c' })).toMatchObject({
        kind: 'granted',
        waitedMs: 0,
      });
    }
    const waited = await gate.acquire({ provider: 'p', category: 'c', maxWaitMs: 5_000 });
    expect(waited.kind).toBe('granted');
    if (waited.kind === 'granted') expect(waited.waitedMs).toBeGreaterThan(0);
    const deferred = await gate.acquire({
      provider: 'p',
      category: 'c',
      cost: 5,
      maxWaitMs: 1_000,
    });
    expect(deferred).toMatchObject({ kind: 'retryAt', reason: 'tokens' });
    if (deferred.kind === 'retryAt') expect(deferred.atMs).toBeGreaterThan(now() + 1_000);
  });

  it('answers maintenance and paused without claiming anything', async () => {
    const maintenance = setup(bucket, { flags: flagsSchema.parse({ maintenance: true }) });
    expect(await maintenance.gate.acquire({ provider: 'p', category: 'c' })).toMatchObject({
      kind: 'retryAt',
      reason: 'maintenance',
    });
    expect(maintenance.claimed.size).toBe(0);
    const paused = setup(bucket, {}, { paused: true });
    expect(await paused.gate.acquire({ provider: 'p', category: 'c' })).toMatchObject({
      reason: 'paused',
    });
    const minimum = setup(bucket, {}, { sharePercent: 1 });
    expect(await minimum.gate.acquire({ provider: 'p', category: 'c' })).toMatchObject({
      reason: 'paused',
    });
    expect(paused.claimed.size + minimum.claimed.size).toBe(0);
  });

  it('defers during a cooldown until it ends, and while the upstream meter is in deficit', async () => {
    const cooling = setup(bucket, { cooldownUntilMs: START + 60_000 });
    expect(await cooling.gate.acquire({ provider: 'p', category: 'c' })).toEqual({
      kind: 'retryAt',
      atMs: START + 60_000,
      reason: 'cooldown',
    });
    const deficit = setup(bucket, { meterBlockedUntilMs: START + 7_000 });
    expect(await deficit.gate.acquire({ provider: 'p', category: 'c' })).toMatchObject({
      atMs: START + 7_000,
      reason: 'tokens',
    });
  });

  it('refuses a cost no limit can ever allow', async () => {
    const { gate } = setup(bucket);
    await expect(gate.acquire({ provider: 'p', category: 'c', cost: 50 })).rejects.toBeInstanceOf(
      CostExceedsLimitError,
    );
  });

  it('answers window when a fixed window is spent, retrying once the next window opens', async () => {
    const { gate } = setup({
      limits: [{ kind: 'window', unit: 'minute', limit: 3, measure: 'requests' }],
      safetyMarginMs: 100,
    });
    for (let i = 0; i < 3; i++)
      expect((await gate.acquire({ provider: 'p', category: 'c' })).kind).toBe('granted');
    // Not at the window's edge, where a call would only be told to wait again: half the margin
    // after it, when its tokens can be spent.
    expect(await gate.acquire({ provider: 'p', category: 'c', maxWaitMs: 1_000 })).toMatchObject({
      kind: 'retryAt',
      reason: 'window',
      atMs: START + 60_000 + 50,
    });
  });

  it('applies per-operation limits only to their operation', async () => {
    const { gate } = setup({
      limits: [
        { kind: 'operation', operation: 'createReport', ratePerSecond: 0.0167, burst: 3 },
        { kind: 'operation', operation: 'getReport', ratePerSecond: 2, burst: 15 },
      ],
      safetyMarginMs: 0,
    });
    const create = () =>
      gate.acquire({ provider: 'p', category: 'c', operation: 'createReport', maxWaitMs: 0 });
    expect((await create()).kind).toBe('granted');
    expect((await create()).kind).toBe('granted');
    expect(await create()).toMatchObject({ kind: 'retryAt', reason: 'tokens' });
    for (let i = 0; i < 10; i++) {
      expect(
        (await gate.acquire({ provider: 'p', category: 'c', operation: 'getReport' })).kind,
      ).toBe('granted');
    }
  });

  it('caps calls in flight and frees the slot on release', async () => {
    const { gate } = setup({
      limits: [
        { kind: 'concurrency', max: 2 },
        { kind: 'tokenBucket', capacity: 100, refillPerSecond: 100 },
      ],
    });
    const a = await gate.acquire({ provider: 'p', category: 'c' });
    const b = await gate.acquire({ provider: 'p', category: 'c' });
    expect(await gate.acquire({ provider: 'p', category: 'c' })).toMatchObject({
      reason: 'concurrency',
    });
    if (a.kind === 'granted') a.release();
    expect((await gate.acquire({ provider: 'p', category: 'c' })).kind).toBe('granted');
    expect(b.kind).toBe('granted');
  });

  it('charges an actual cost above the estimate to the next call', async () => {
    const { gate } = setup(bucket);
    const first = await gate.acquire({ provider: 'p', category: 'c', cost: 2 });
    if (first.kind !== 'granted') throw new Error('expected a grant');
    await first.settle({ cost: 8 }); // 9 tokens valid at once: 8 spent now, 1 left
    expect((await gate.acquire({ provider: 'p', category: 'c', cost: 1, maxWaitMs: 0 })).kind).toBe(
      'granted',
    );
    expect(
      await gate.acquire({ provider: 'p', category: 'c', cost: 1, maxWaitMs: 0 }),
    ).toMatchObject({
      kind: 'retryAt',
    });
  });
});
