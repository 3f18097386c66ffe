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
    const meter = new WriteMeter({ usageMs: 250, demandMs: 10_000 });
    const fromMs = Date.UTC(2026, 11, 1);
    const sim = new FleetSimulator({
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
      toMs: fromMs + 2_000,
      instances: 4,
      seed: 1,
      drainMs: 0,
      meter,
    });
    const arrivals = Array.from({ length: 200 }, (_, i) => ({
      atMs: fromMs + i * 10,
      provider: 'p',
      category: 'a',
      cost: 1,
      bytes: 0,
      requests: 1,
    }));
    const result = await sim.run(arrivals);
    const report = meter.report(2, 4);
    const claims = report.collections.find((c) => c.collection === 'quotaBlocks')!;
    expect(claims.writesPerSecond * 2).toBe(result.claims.won + result.claims.lost);
    expect(report.hotRanges[0]!.range).toMatch(/^p~a~/);
    // Four instances, four flushes a second each: at most 16 writes/s to the one document.
    const usage = report.collections.find((c) => c.collection === 'usageStats')!;
    expect(usage.writesPerSecond).toBeGreaterThan(0);
    expect(usage.writesPerSecond).toBeLessThanOrEqual(4 * 4);
    // Demand goes through its own buffer, flushed every 10 s: within these 2 s each instance
    // writes the minute's document once (at most 4 writes, 2/s), not once per 250 ms.
    const demand = report.collections.find((c) => c.collection === 'demandStats')!;
    expect(demand.writesPerSecond).toBeGreaterThan(0);
    expect(demand.writesPerSecond * 2).toBeLessThanOrEqual(4);
    expect(demand.writesPerSecond).toBeLessThan(usage.writesPerSecond);
    expect(report.queues).toEqual([expect.objectContaining({ provider: 'p', queuesNeeded: 1 })]);
    expect(report.queues[0]!.dispatchesPerSecond).toBeGreaterThanOrEqual(100);
  });
});
