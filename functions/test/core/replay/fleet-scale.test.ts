import { describe, expect, it } from 'vitest';
import { categorySchema, flagsSchema, providerSchema } from '../../../src/core/config';
import { FleetSimulator, rampMinutes, WriteMeter } from '../../../src/core/replay';

describe('fleet scale', () => {
  it('ramps 500/50/5: +50% every 5 minutes from 500 writes/s', () => {
    expect(rampMinutes(400)).toBe(0);
    expect(rampMinutes(750)).toBe(5);
    expect(rampMinutes(10_000)).toBe(40);
  });

  it('counts claim creates per key range, statistics writes per flush and dispatches', async () => {
    const fromMs = Date.UTC(2026, 11, 1);
    // 2 s of calls, measured over 20 s: the demand buffer's 10 s flush falls within.
    const toMs = fromMs + 20_000;
    const meter = new WriteMeter({ usageMs: 250, demandMs: 10_000 }, toMs);
    // The same run measured over its first 5 s only: no demand flush falls within them.
    const early = new WriteMeter({ usageMs: 250, demandMs: 10_000 }, fromMs + 5_000);
    const arrivals = Array.from({ length: 200 }, (_, i) => ({
      atMs: fromMs + i * 10,
      provider: 'p',
      category: 'a',
      cost: 1,
      bytes: 0,
      requests: 1,
    }));
    const measured = (with_: WriteMeter) =>
      new FleetSimulator({
        config: {
          providers: [
            providerSchema.parse({
              id: 'p',
              limits: [{ kind: 'tokenBucket', capacity: 200, refillPerSecond: 200 }],
            }),
          ],
          categories: [categorySchema.parse({ id: 'a', provider: 'p', sharePercent: 100 })],
          flags: flagsSchema.parse({}),
        },
        fromMs,
        toMs,
        instances: 4,
        seed: 1,
        drainMs: 0,
        meter: with_,
      }).run(arrivals);
    const result = await measured(meter);
    await measured(early);
    const report = meter.report(20, 4);
    const claims = report.collections.find((c) => c.collection === 'quotaBlocks')!;
    expect(claims.writesPerSecond * 20).toBe(result.claims.won + result.claims.lost);
    expect(report.hotRanges[0]!.range).toMatch(/^p~a~/);
    // Four instances, four flushes a second each: at most 16 writes/s to the one document.
    const usage = report.collections.find((c) => c.collection === 'usageStats')!;
    expect(usage.writesPerSecond).toBeGreaterThan(0);
    expect(usage.writesPerSecond).toBeLessThanOrEqual(4 * 4);
    // Demand goes through its own buffer, flushed every 10 s: each instance writes the minute's
    // document once (4 writes in all), not once per 250 ms; and none within the first 5 s.
    const demand = report.collections.find((c) => c.collection === 'demandStats')!;
    expect(demand.writesPerSecond * 20).toBe(4);
    expect(demand.writesPerSecond).toBeLessThan(usage.writesPerSecond);
    const earlyDemand = early.report(5, 4).collections.find((c) => c.collection === 'demandStats');
    expect(earlyDemand?.writesPerSecond ?? 0).toBe(0);
    expect(report.queues).toEqual([expect.objectContaining({ provider: 'p', queuesNeeded: 1 })]);
    // Every call is dispatched at least once (re-asks are dispatches too).
    expect(report.queues[0]!.dispatchesPerSecond * 20).toBeGreaterThanOrEqual(200);
  });
});
