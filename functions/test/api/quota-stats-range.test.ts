import type { Firestore } from 'firebase-admin/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetStatsRecorder } from '../../src/adapters/observability/fleet-recorder';
import { fleetStats, MAX_FLEET_DOCS } from '../../src/adapters/operations/stats';
import { WriteBuffer } from '../../src/adapters/storage/write-buffer';
import {
  FLEET_HOUR_COLLECTION,
  FLEET_MINUTE_COLLECTION,
  FLEET_SHARDS,
  HOUR_MS,
  MAX_POINTS_PER_SERIES,
} from '../../src/core/observability/fleet-stats';
import { queueSampleWrites } from '../../src/core/observability/fleet-writes';
import type { QuotaStatsResult } from '../../src/core/operations';
import { getQuotaStatsInput, MAX_QUOTA_STATS_MINUTES } from '../../src/core/operations';
import { minuteKey } from '../../src/core/storage/write-buffer';
import { quietLogger } from '../support/quiet-logger';
import { type ReadRecorder, recordReads } from '../support/reads';
import { type ApiFixture, apiFixture, as } from './support';

/**
 * getQuotaStats over the 30 days the statistics are kept: upstream outcomes and latency of the
 * whole fleet and queue depths, read from the hourly documents beyond six hours, with a bounded
 * number of documents read and at most 250 points per series.
 */

quietLogger();

const MIN = 60_000;
const DAYS = 30;
const HOURS = DAYS * 24;

/** Sets many documents quickly: batches of 500, a few in flight. */
async function bulkSet(db: Firestore, docs: Array<{ path: string; data: object }>) {
  const batches: Array<typeof docs> = [];
  for (let i = 0; i < docs.length; i += 500) batches.push(docs.slice(i, i + 500));
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < batches.length) {
        const batch = db.batch();
        for (const { path, data } of batches[next++]!) batch.set(db.doc(path), data);
        await batch.commit();
      }
    }),
  );
}

/** An hourly upstream document of one shard: as the recorder writes it, written whole. */
function hourDoc(hourMs: number, shard: number) {
  return {
    path: `${FLEET_HOUR_COLLECTION}/${minuteKey(hourMs)}~s${shard}`,
    data: {
      at: new Date(hourMs),
      expiresAt: new Date(hourMs + (DAYS + 1) * 24 * HOUR_MS),
      kind: 'upstream',
      shard,
      upstream: {
        keepa: {
          product: {
            calls: shard === 0 ? { ok: 9, quota: 1 } : { ok: 10 },
            latency: { le100: 10 },
            latencySumMs: 750,
          },
        },
        spapi: {
          createReport: {
            calls: { ok: 2, http_5xx: 2 },
            latency: { le2500: 4 },
            latencySumMs: 8000,
          },
        },
      },
    },
  };
}

/** The queue document of an hour: two samples of `depth`. */
function queueHourDoc(hourMs: number, depth: number) {
  const [, hour] = queueSampleWrites(
    [{ queue: 'keepaWork', depth, oldestAgeSeconds: 5, source: 'cloud_tasks' }],
    hourMs,
  );
  const cell = { depthSum: 2 * depth, samples: 2, depthLast: depth, oldestAgeSecondsLast: 5 };
  return {
    path: hour!.path,
    data: {
      at: new Date(hourMs),
      expiresAt: new Date(hourMs + (DAYS + 1) * 24 * HOUR_MS),
      kind: 'queues',
      queues: { keepaWork: { ...cell, source: 'cloud_tasks', sampledAtMs: hourMs } },
    },
  };
}

let f: ApiFixture;
let reads: ReadRecorder;
let currentHour: number;

async function run(data: unknown): Promise<QuotaStatsResult> {
  const fn = f.callables.getQuotaStats as { run: (r: unknown) => Promise<unknown> };
  reads.reset();
  return (await fn.run(as('viewer', data, 'viewer-1'))) as QuotaStatsResult;
}

describe('getQuotaStats over the 30 days kept', () => {
  beforeAll(async () => {
    f = await apiFixture();
    currentHour = Math.floor(f.clock.now / HOUR_MS) * HOUR_MS;
    const docs = [];
    // Every hour of the 30 days, every shard, and the queue samples: 3,600 documents.
    for (let h = 0; h < HOURS; h++) {
      const hourMs = currentHour - h * HOUR_MS;
      for (let s = 0; s < FLEET_SHARDS; s++) docs.push(hourDoc(hourMs, s));
      docs.push(queueHourDoc(hourMs, h % 7));
    }
    await bulkSet(f.db, docs);
    // The last ten minutes, as instances write them: through recorders and a buffer.
    const buffer = new WriteBuffer(f.db, { intervalMs: 2 });
    for (let s = 0; s < FLEET_SHARDS; s++) {
      const recorder = new FleetStatsRecorder(buffer, { shard: s, now: () => f.clock.now });
      for (let m = 0; m < 10; m++) {
        recorder.record({
          provider: 'keepa',
          operation: 'product',
          outcome: m === 0 ? 'quota' : 'ok',
          latencyMs: 30,
          atMs: f.clock.now - m * MIN,
        });
      }
      await recorder.flush();
    }
    reads = recordReads();
  }, 120_000);
  afterAll(async () => {
    reads?.restore();
    await f?.close();
  });

  it('answers 30 days from the hourly documents: every call, within its read bound', async () => {
    const r = await run({ minutes: MAX_QUOTA_STATS_MINUTES });
    const { upstream } = r;
    expect(upstream.source).toBe('hour');
    expect(upstream.truncated).toBe(false);
    expect(upstream.fromMs).toBeLessThanOrEqual(f.clock.now - (MAX_QUOTA_STATS_MINUTES - 1) * MIN);
    expect(upstream.fromMs % HOUR_MS).toBe(0);
    // 30 days of four shards and the queue documents, and the ten minutes' hour (already one
    // of them), never more than the bound.
    const fleet = reads.queries.filter((q) => q.collection === FLEET_HOUR_COLLECTION);
    expect(fleet).toEqual([{ collection: FLEET_HOUR_COLLECTION, documents: HOURS * 5 }]);
    expect(upstream.documents).toBe(HOURS * 5);
    expect(HOURS * (FLEET_SHARDS + 1)).toBeLessThanOrEqual(MAX_FLEET_DOCS);
    expect(reads.queries.filter((q) => q.collection === FLEET_MINUTE_COLLECTION)).toEqual([]);

    const keepa = upstream.totals.find((t) => t.provider === 'keepa')!;
    // Seeded: 40 calls an hour (one quota error); the recorders added 40 in the current hour.
    expect(keepa).toMatchObject({
      operation: 'product',
      calls: HOURS * 40 + 40,
      outcomes: { ok: HOURS * 39 + 36, quota: HOURS + 4 },
    });
    expect(keepa.quotaErrorRate).toBeCloseTo((HOURS + 4) / (HOURS * 40 + 40));
    // Latency from the merged histograms: 100-ms bucket and the 25..50 one; p50 in (50, 100].
    expect(keepa.p50Ms!).toBeGreaterThan(50);
    expect(keepa.p50Ms!).toBeLessThanOrEqual(100);
    const spapi = upstream.totals.find((t) => t.provider === 'spapi')!;
    expect(spapi).toMatchObject({ calls: HOURS * 16, errorRate: 0.5, quotaErrorRate: 0 });
    expect(spapi.p95Ms!).toBeGreaterThan(1_000);
    expect(spapi.p95Ms!).toBeLessThanOrEqual(2_500);

    // Downsampled: at most 250 points per series, and the points add up to the totals.
    expect(upstream.stepMs).toBe(3 * HOUR_MS);
    for (const series of ['keepa|product', 'spapi|createReport']) {
      const points = upstream.points.filter((p) => `${p.provider}|${p.operation}` === series);
      expect(points.length).toBeLessThanOrEqual(MAX_POINTS_PER_SERIES);
      expect(points.length).toBeGreaterThan(200);
      const total = upstream.totals.find((t) => `${t.provider}|${t.operation}` === series)!;
      expect(points.reduce((a, p) => a + p.calls, 0)).toBe(total.calls);
    }
    // Queue depth per step: the mean of the samples.
    const queue = upstream.queues.filter((q) => q.queue === 'keepaWork');
    expect(queue.length).toBeLessThanOrEqual(MAX_POINTS_PER_SERIES);
    expect(queue.every((q) => q.source === 'cloud_tasks' && q.oldestAgeSeconds === 5)).toBe(true);
    expect(queue.reduce((a, q) => a + q.samples, 0)).toBe(HOURS * 2);
  });

  it('filters by provider (or the category asked for), and keeps short ranges per minute', async () => {
    const spapi = await run({ provider: 'spapi', minutes: MAX_QUOTA_STATS_MINUTES });
    expect(spapi.upstream.totals.map((t) => t.provider)).toEqual(['spapi']);
    const deals = await run({ category: 'deals', minutes: 120 });
    expect(deals.upstream.totals.map((t) => t.provider)).toEqual(['keepa']);

    const hour = await run({ minutes: 60 });
    expect(hour.upstream).toMatchObject({ source: 'minute', stepMs: MIN, truncated: false });
    // The ten recorded minutes of four shards.
    expect(reads.queries.filter((q) => q.collection === FLEET_MINUTE_COLLECTION)).toEqual([
      { collection: FLEET_MINUTE_COLLECTION, documents: 10 * FLEET_SHARDS },
    ]);
    expect(hour.upstream.totals).toEqual([
      expect.objectContaining({ provider: 'keepa', calls: 40, outcomes: { quota: 4, ok: 36 } }),
    ]);
    expect(hour.upstream.points).toHaveLength(10);
    const p = hour.upstream.points.at(-1)!;
    expect(p.p50Ms!).toBeGreaterThan(25);
    expect(p.p95Ms!).toBeLessThanOrEqual(50);
  });

  it('reads at most its bound, newest first, and says the answer was cut', async () => {
    reads.reset();
    const cut = await fleetStats(f.db, f.clock.now, MAX_QUOTA_STATS_MINUTES, undefined, 500);
    expect(reads.documents).toBe(501);
    expect(cut).toMatchObject({ truncated: true, documents: 500 });
    // The newest hours are whole; the oldest were left out.
    const starts = cut.points.map((pt) => pt.startMs);
    expect(Math.max(...starts)).toBe(Math.floor(currentHour / (3 * HOUR_MS)) * 3 * HOUR_MS);
    expect(Math.min(...starts)).toBeGreaterThan(currentHour - 101 * HOUR_MS);
  });

  it('accepts 30 days and no more, naming the field', () => {
    expect(getQuotaStatsInput.safeParse({ minutes: MAX_QUOTA_STATS_MINUTES }).success).toBe(true);
    const over = getQuotaStatsInput.safeParse({ minutes: MAX_QUOTA_STATS_MINUTES + 1 });
    expect(over.success).toBe(false);
    expect(over.error!.issues.map((i) => i.path)).toEqual([['minutes']]);
  });
});
