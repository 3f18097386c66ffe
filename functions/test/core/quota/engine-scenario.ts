import fc from 'fast-check';
import type { Limit } from '../../../src/core/config';
import { windowAt } from '../../../src/core/quota/windows';
import { type CallRecord, categories, Fleet, prng, provider } from './fleet-sim';

export const SKEW_MS = 300;
/** The margin the engine is configured with: twice the skew (instances drift apart by 600). */
export const MARGIN_MS = 2 * SKEW_MS;
export const START = Date.UTC(2026, 11, 3, 12, 0, 0);

export type Step =
  | {
      kind: 'call';
      dtMs: number;
      instance: number;
      category: string;
      withOp: boolean;
      cost: number;
      requests: number;
      bytes: number | undefined;
      actualFactor: number;
      bytesFactor: number;
      durationMs: number;
      maxWaitMs: number;
      retries: number;
    }
  | { kind: 'shares'; dtMs: number; a: number; b: number; c: number; by: number }
  | {
      kind: 'bucket';
      dtMs: number;
      capacity: number;
      rate: number;
      blockTokens?: number;
      by: number;
    }
  | { kind: 'cooldown'; dtMs: number; instance: number; retryAfterMs: number }
  | { kind: 'crash'; dtMs: number; instance: number };

export const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('call' as const),
      dtMs: fc.oneof(
        fc.constant(0),
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 0, max: 1_000 }),
      ),
      instance: fc.nat(5),
      category: fc.constantFrom('a', 'b', 'c'),
      withOp: fc.boolean(),
      cost: fc.oneof(
        { weight: 5, arbitrary: fc.integer({ min: 1, max: 3 }) },
        { weight: 1, arbitrary: fc.integer({ min: 1, max: 25 }) },
      ),
      retries: fc.integer({ min: 0, max: 5 }),
      requests: fc.integer({ min: 1, max: 3 }),
      bytes: fc.option(fc.integer({ min: 100, max: 3_000 }), { nil: undefined }),
      actualFactor: fc.constantFrom(0.5, 1, 1, 1.5, 2),
      bytesFactor: fc.constantFrom(0.5, 1, 1.5, 3),
      durationMs: fc.integer({ min: 1, max: 3_000 }),
      maxWaitMs: fc.constantFrom(0, 200, 1_000, 5_000),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('shares' as const),
      dtMs: fc.integer({ min: 0, max: 3_000 }),
      a: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 10, max: 90 }) }, fc.constant(0)),
      b: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 10, max: 90 }) }, fc.constant(0)),
      c: fc.oneof({ weight: 1, arbitrary: fc.integer({ min: 10, max: 90 }) }, fc.constant(0)),
      by: fc.nat(5),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('bucket' as const),
      dtMs: fc.integer({ min: 0, max: 3_000 }),
      capacity: fc.integer({ min: 40, max: 300 }),
      rate: fc.integer({ min: 4, max: 40 }),
      blockTokens: fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }),
      by: fc.nat(5),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('cooldown' as const),
      dtMs: fc.integer({ min: 0, max: 3_000 }),
      instance: fc.nat(5),
      retryAfterMs: fc.integer({ min: 500, max: 5_000 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('crash' as const),
      dtMs: fc.integer({ min: 0, max: 3_000 }),
      instance: fc.nat(5),
    }),
  },
);

export function limitsOf(bucket: {
  capacity: number;
  rate: number;
  blockTokens?: number;
}): Limit[] {
  return provider(
    [
      {
        kind: 'tokenBucket',
        capacity: bucket.capacity,
        refillPerSecond: bucket.rate,
        ...(bucket.blockTokens ? { blockTokens: bucket.blockTokens } : {}),
      },
      { kind: 'operation', operation: 'op', ratePerSecond: 4, burst: 10 },
      { kind: 'window', unit: 'second', limit: 30, measure: 'requests' },
      { kind: 'window', unit: 'minute', limit: 100_000, measure: 'bytes', blockTokens: 1_000 },
      { kind: 'window', unit: 'minute', limit: 1_500, measure: 'cost' },
      { kind: 'concurrency', max: 6 },
    ],
    MARGIN_MS,
  ).limits;
}

/** Shares as an operator would set them: at most 100% in all; 0 pauses (c may not exist yet). */
function sharesOf(step: { a: number; b: number; c: number }): Record<string, number> {
  const total = step.a + step.b + step.c;
  const scale = total > 100 ? 100 / total : 1;
  const shares: Record<string, number> = {
    a: Math.floor(step.a * scale),
    b: Math.floor(step.b * scale),
  };
  if (step.c > 0) shares.c = Math.floor(step.c * scale);
  return shares;
}

export interface Era {
  startMs: number;
  capacity: number;
  rate: number;
}

/**
 * The token bucket's bound for the calls between two instants: the largest capacity and rate
 * in force around them. A limit edit reaches the lines at its published start (instances skewed
 * up to SKEW_MS), and tokens of the line it replaced stay valid for that line's C / r.
 */
export function bucketBound(eras: Era[], fromMs: number, toMs: number): number {
  let capacity = 0;
  let rate = 0;
  eras.forEach((era, i) => {
    const next = eras[i + 1];
    const validUntil = next ? next.startMs + (era.capacity / era.rate) * 1000 + SKEW_MS : Infinity;
    if (era.startMs - SKEW_MS <= toMs && validUntil >= fromMs) {
      capacity = Math.max(capacity, era.capacity);
      rate = Math.max(rate, era.rate);
    }
  });
  return capacity + (rate * (toMs - fromMs)) / 1000;
}

/** Largest excess of `amount` over `bound` in any interval [a, b] between calls. */
export function worstExcess(
  calls: CallRecord[],
  amount: (c: CallRecord) => number,
  allowance: (c: CallRecord) => number,
  bound: (fromMs: number, toMs: number) => number,
): { excess: number; at?: [number, number] } {
  const sorted = calls.filter((c) => amount(c) > 0).sort((x, y) => x.atMs - y.atMs);
  let worst: { excess: number; at?: [number, number] } = { excess: -Infinity };
  for (let i = 0; i < sorted.length; i++) {
    let sum = 0;
    let allowed = 0;
    for (let j = i; j < sorted.length; j++) {
      sum += amount(sorted[j]!);
      allowed += allowance(sorted[j]!);
      const excess = sum - allowed - bound(sorted[i]!.atMs, sorted[j]!.atMs);
      if (excess > worst.excess) worst = { excess, at: [sorted[i]!.atMs, sorted[j]!.atMs] };
    }
  }
  return worst;
}

/** Per fixed window in true time: the most a window's calls exceed its limit by. */
export function worstWindow(
  calls: CallRecord[],
  unit: 'second' | 'minute',
  limit: number,
  amount: (c: CallRecord) => number,
  allowance: (c: CallRecord) => number,
): number {
  const byWindow = new Map<string, { sum: number; allowed: number }>();
  for (const call of calls) {
    const id = windowAt(unit, call.atMs).id;
    const w = byWindow.get(id) ?? { sum: 0, allowed: 0 };
    w.sum += amount(call);
    w.allowed += allowance(call);
    byWindow.set(id, w);
  }
  return Math.max(0, ...[...byWindow.values()].map((w) => w.sum - w.allowed - limit));
}

export async function runScenario(
  offsetsMs: number[],
  bucket: { capacity: number; rate: number; blockTokens?: number },
  steps: Step[],
  seed: number,
) {
  const fleet = new Fleet({
    startMs: START,
    provider: provider(limitsOf(bucket), MARGIN_MS),
    categories: categories({ a: 50, b: 50 }),
    instances: 6,
    offsetsMs,
    seed,
  });
  const eras: Era[] = [{ startMs: 0, capacity: bucket.capacity, rate: bucket.rate }];
  const asked: Promise<void>[] = [];
  // Workers that always want more than the limits give, of every kind of call.
  let stopped = false;
  const random = prng(seed ^ 0x5eed);
  const worker = async (w: number) => {
    while (!stopped) {
      const category = ['a', 'b', 'a', 'b', 'c'][Math.floor(random() * 5)]!;
      const cost = 1 + Math.floor(random() * 4);
      const requests = 1 + Math.floor(random() * 3);
      const bytes = random() < 0.5 ? undefined : 200 + Math.floor(random() * 2_000);
      const before = fleet.retries.length;
      await fleet.ask(
        w,
        {
          provider: 'p',
          category,
          operation: random() < 0.3 ? 'op' : undefined,
          cost,
          requests,
          bytes,
          maxWaitMs: [0, 100, 1_000][Math.floor(random() * 3)],
        },
        {
          durationMs: Math.floor(random() * 300),
          actual: {
            cost: random() < 0.2 ? cost + 2 : cost,
            requests,
            bytes: Math.round((bytes ?? 1_000) * (0.5 + random())),
          },
        },
      );
      const retry = fleet.retries.length > before ? fleet.retries.at(-1)!.retryAtMs : 0;
      await fleet.clock.sleep(Math.min(Math.max(1, retry - fleet.clock.t), 2_000));
    }
  };
  const workers = Array.from({ length: 24 }, (_, w) => worker(w));
  for (const step of steps) {
    await fleet.clock.runUntil(fleet.clock.t + step.dtMs);
    if (step.kind === 'call') {
      const bytes = step.bytes;
      asked.push(
        fleet.ask(
          step.instance,
          {
            provider: 'p',
            category: step.category,
            operation: step.withOp ? 'op' : undefined,
            cost: step.cost,
            requests: step.requests,
            bytes,
            maxWaitMs: step.maxWaitMs,
          },
          {
            durationMs: step.durationMs,
            actual: {
              cost: Math.max(1, Math.round(step.cost * step.actualFactor)),
              requests: step.requests,
              bytes: Math.round((bytes ?? 1_000) * step.bytesFactor),
            },
          },
          step.retries,
        ),
      );
    } else if (step.kind === 'shares') {
      fleet.publish(fleet.current.provider, categories(sharesOf(step)), offsetsMs[step.by]!);
    } else if (step.kind === 'bucket') {
      const p = fleet.publish(
        { ...fleet.current.provider, limits: limitsOf(step) },
        categories(sharesOf({ a: 50, b: 50, c: 0 })),
        offsetsMs[step.by]!,
      );
      const epoch = p.allocation.limits.at(-1)!;
      if (epoch.startMs > (eras.at(-1)?.startMs ?? 0)) {
        eras.push({ startMs: epoch.startMs, capacity: step.capacity, rate: step.rate });
      }
    } else if (step.kind === 'cooldown') {
      fleet.startCooldown(step.instance, step.retryAfterMs);
    } else {
      fleet.crash(step.instance);
    }
  }
  stopped = true;
  await fleet.clock.drain(() => false);
  await Promise.all(workers);
  await fleet.settle();
  return { fleet, eras };
}

export interface SaturatedPlan {
  offsetsMs: number[];
  bucket: { capacity: number; rate: number; blockTokens?: number };
  /** Share of category a at each change (b has the rest); one change every `changeEveryMs`. */
  shares: number[];
  changeEveryMs: number;
  /** Instances crashed (and replaced) at these seconds. */
  crashes: Array<{ atS: number; instance: number }>;
  workers: number;
  largeCostEvery: number;
  /** Bucket edits published at these seconds. */
  edits?: Array<{ atS: number; capacity: number; rate: number }>;
  seed: number;
}

export const SATURATED_MS = 60_000;

/**
 * Workers that always want more than the bucket gives (cost 1-4, now and then a large one),
 * asking again when told to, while shares change, instances crash and clocks disagree.
 */
export async function runSaturated(plan: SaturatedPlan) {
  const fleet = new Fleet({
    startMs: START,
    provider: provider(
      [
        {
          kind: 'tokenBucket',
          capacity: plan.bucket.capacity,
          refillPerSecond: plan.bucket.rate,
          ...(plan.bucket.blockTokens ? { blockTokens: plan.bucket.blockTokens } : {}),
        },
      ],
      MARGIN_MS,
    ),
    categories: categories({ a: 50, b: 50 }),
    instances: 6,
    offsetsMs: plan.offsetsMs,
    seed: plan.seed,
  });
  const endMs = START + SATURATED_MS;
  const eras: Era[] = [{ startMs: 0, capacity: plan.bucket.capacity, rate: plan.bucket.rate }];
  let n = 0;
  const worker = async (w: number) => {
    while (fleet.clock.t < endMs) {
      n++;
      const large = plan.largeCostEvery > 0 && n % plan.largeCostEvery === 0;
      const cost = large ? Math.max(1, Math.floor(plan.bucket.capacity / 8)) : 1 + (n % 4);
      const before = fleet.retries.length;
      await fleet.ask(
        w + n,
        {
          provider: 'p',
          category: w % 2 ? 'a' : 'b',
          cost,
          maxWaitMs: large ? 0 : [0, 100, 1_000][n % 3],
        },
        { durationMs: n % 50, actual: { cost, bytes: 0, requests: 1 } },
      );
      if (fleet.retries.length > before) {
        const retryAtMs = fleet.retries.at(-1)!.retryAtMs;
        await fleet.clock.sleep(Math.min(Math.max(1, retryAtMs - fleet.clock.t), 5_000));
      } else await fleet.clock.sleep(1);
    }
  };
  const workers = Array.from({ length: plan.workers }, (_, w) => worker(w));
  for (let t = 0; t < SATURATED_MS; t += plan.changeEveryMs) {
    await fleet.clock.runUntil(START + t);
    const a = plan.shares[(t / plan.changeEveryMs) % plan.shares.length]!;
    let provided = fleet.current.provider;
    for (const edit of plan.edits ?? []) {
      if (edit.atS * 1000 >= t && edit.atS * 1000 < t + plan.changeEveryMs) {
        provided = provider(
          [{ kind: 'tokenBucket', capacity: edit.capacity, refillPerSecond: edit.rate }],
          MARGIN_MS,
        );
      }
    }
    const published = fleet.publish(provided, categories({ a, b: 100 - a }), plan.offsetsMs[0]!);
    const epoch = published.allocation.limits.at(-1)!;
    if (epoch.startMs > (eras.at(-1)?.startMs ?? 0)) {
      const bucket = epoch.limits[0] as { capacity: number; refillPerSecond: number };
      eras.push({
        startMs: epoch.startMs,
        capacity: bucket.capacity,
        rate: bucket.refillPerSecond,
      });
    }
    for (const crash of plan.crashes) {
      if (crash.atS * 1000 >= t && crash.atS * 1000 < t + plan.changeEveryMs)
        fleet.crash(crash.instance);
    }
  }

  await fleet.clock.runUntil(endMs);
  await fleet.clock.drain(() => false);
  await Promise.all(workers);
  await fleet.settle();
  return { fleet, eras };
}
