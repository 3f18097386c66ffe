import { describe, expect, it } from 'vitest';
import { markStalled, pauseCollection } from '../../../src/core/pipeline/collection-lifecycle';
import {
  type Collection,
  collectionConfigSchema,
} from '../../../src/core/pipeline/collection-schema';
import { statusReport } from '../../../src/core/pipeline/collection-status';
import { recordProgress, startCollection } from '../../../src/core/pipeline/collections';

const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const request = {
  id: 'buckcheap',
  provider: 'smartproxy',
  category: 'buckcheap-historical',
  targets: { takealot: 800, amazon: 200 },
};

function start(): Collection {
  return startCollection(undefined, request, T0).collection;
}

describe('collection status report', () => {
  it('reports completion, allocation, phase time, rates and the estimate', () => {
    let c = start();
    // 40 takealot and 10 amazon products an hour for six hours.
    for (let h = 1; h <= 6; h++) {
      c = recordProgress(
        c,
        { marketplace: 'takealot', collected: 40 * h },
        T0 + h * HOUR,
      ).collection;
      c = recordProgress(c, { marketplace: 'amazon', collected: 10 * h }, T0 + h * HOUR).collection;
    }
    const report = statusReport(c, T0 + 6 * HOUR, { effectiveSharePercent: 12.5 });
    expect(report).toMatchObject({
      id: 'buckcheap',
      status: 'running',
      phase: 2,
      phaseSharePercent: 10,
      effectiveSharePercent: 12.5,
      startedAt: T0,
      lastUpdateAt: T0 + 6 * HOUR,
      lastProgressAt: T0 + 6 * HOUR,
      // 300 of 1000 reached 30% at hour 6.
      phaseStartedAt: T0 + 6 * HOUR,
      timeInPhaseMs: 0,
      idleMs: 0,
      rateFromMs: T0,
    });
    expect(report.overall).toEqual({
      target: 1000,
      collected: 300,
      remaining: 700,
      percent: 30,
      ratePerHour: 50,
      ratePerDay: 1200,
      // takealot needs 560 / 40 = 14 h, amazon 140 / 10 = 14 h.
      etaMs: 14 * HOUR,
      etaAt: T0 + 20 * HOUR,
    });
    expect(report.marketplaces).toEqual([
      {
        marketplace: 'amazon',
        target: 200,
        collected: 60,
        remaining: 140,
        percent: 30,
        ratePerHour: 10,
        ratePerDay: 240,
        etaMs: 14 * HOUR,
        etaAt: T0 + 20 * HOUR,
      },
      {
        marketplace: 'takealot',
        target: 800,
        collected: 240,
        remaining: 560,
        percent: 30,
        ratePerHour: 40,
        ratePerDay: 960,
        etaMs: 14 * HOUR,
        etaAt: T0 + 20 * HOUR,
      },
    ]);
  });

  it('takes the whole estimate from the slowest marketplace', () => {
    let c = start();
    c = recordProgress(c, { marketplace: 'takealot', collected: 400 }, T0 + 4 * HOUR).collection;
    c = recordProgress(c, { marketplace: 'amazon', collected: 20 }, T0 + 4 * HOUR).collection;
    const report = statusReport(c, T0 + 4 * HOUR);
    expect(report.marketplaces.map((m) => [m.marketplace, m.etaMs])).toEqual([
      ['amazon', 36 * HOUR],
      ['takealot', 4 * HOUR],
    ]);
    expect(report.overall.etaMs).toBe(36 * HOUR);
  });

  it('measures the rate over the recent window, not since the start', () => {
    const config = collectionConfigSchema.parse({
      rateWindowMinutes: 60,
      sampleIntervalMinutes: 15,
    });
    let c = startCollection(
      undefined,
      { ...request, targets: { takealot: 10_000 } },
      T0,
      config,
    ).collection;
    // Slow for ten hours (10/h), then fast (100/h) for three.
    let collected = 0;
    for (let minute = 15; minute <= 13 * 60; minute += 15) {
      collected += minute <= 10 * 60 ? 2.5 : 25;
      c = recordProgress(
        c,
        { marketplace: 'takealot', collected: Math.round(collected) },
        T0 + minute * MINUTE,
        config,
      ).collection;
    }
    const report = statusReport(c, T0 + 13 * HOUR, { config });
    expect(report.rateFromMs).toBe(T0 + 12 * HOUR);
    expect(report.overall.ratePerHour).toBeCloseTo(100, 0);
  });

  it('lets the rate fall while no progress comes and gives no estimate when stalled or paused', () => {
    let c = start();
    c = recordProgress(c, { marketplace: 'takealot', collected: 100 }, T0 + HOUR).collection;
    c = recordProgress(c, { marketplace: 'amazon', collected: 200 }, T0 + HOUR).collection;
    expect(statusReport(c, T0 + HOUR).overall.ratePerHour).toBe(300);
    const idle = statusReport(c, T0 + 2 * HOUR);
    expect(idle.overall.ratePerHour).toBe(150);
    expect(idle.idleMs).toBe(HOUR);
    const stalled = markStalled(c, T0 + 3 * HOUR).collection;
    const report = statusReport(stalled, T0 + 3 * HOUR);
    expect(report.status).toBe('stalled');
    expect(report.overall.etaMs).toBeNull();
    // amazon is done: nothing left to estimate there.
    expect(report.marketplaces.find((m) => m.marketplace === 'amazon')!.etaMs).toBe(0);
    expect(statusReport(pauseCollection(c, T0 + HOUR), T0 + 2 * HOUR).overall.etaMs).toBeNull();
  });

  it('reports no rate and no estimate at the start', () => {
    const report = statusReport(start(), T0);
    expect(report.overall).toMatchObject({
      ratePerHour: 0,
      ratePerDay: 0,
      etaMs: null,
      etaAt: null,
    });
  });
});
