import { type Firestore, Timestamp } from 'firebase-admin/firestore';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  connectFleetStats,
  FleetStatsRecorder,
} from '../../src/adapters/observability/fleet-recorder';
import {
  readFleetDocs,
  readRecentFleet,
  sampleQueueDepths,
} from '../../src/adapters/observability/fleet-stats';
import {
  FLEET_WINDOW_MINUTES,
  renderMetrics,
} from '../../src/adapters/observability/state-metrics';
import { addIngestItems } from '../../src/adapters/pipeline/ingest-queue-writes';
import { WriteBuffer } from '../../src/adapters/storage/write-buffer';
import { upstreamFetch } from '../../src/adapters/upstreams/http';
import { FLEET_MINUTE_COLLECTION, FLEET_SHARDS } from '../../src/core/observability/fleet-stats';
import { summarizeFleet } from '../../src/core/observability/fleet-summary';
import type { UpstreamCallSample } from '../../src/core/observability/fleet-writes';
import { bucketIndex, bucketRange } from '../../src/core/observability/latency-histogram';
import { minuteKey } from '../../src/core/storage/write-buffer';
import { FakeQueueAdmin } from '../api/support';
import { testFirestore } from '../support/firestore';
import { quietLogger } from '../support/quiet-logger';
import { recordReads } from '../support/reads';
import { ManualTimers, ticks } from '../write-buffer/support';

/**
 * Fleet statistics on the Firestore emulator: instances that increment the same per-minute
 * documents concurrently lose nothing, the HTTP wrapper records every attempt, the metrics
 * function serves fleet-wide gauges from bounded reads, and queue depths are sampled.
 */

quietLogger();

const NOW = Date.UTC(2026, 0, 1, 12, 3, 30);
const MIN = 60_000;

let db: Firestore;
let close: () => Promise<void>;
beforeEach(() => ({ db, close } = testFirestore()));
afterEach(() => close());

function lines(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

const OUTCOMES = ['ok', 'ok', 'ok', 'quota', 'http_5xx', 'timeout'] as const;

describe('fleet statistics written by many instances (emulator)', () => {
  it('concurrent instances incrementing the same minutes lose no call', async () => {
    // Eight instances, two per shard of the first two shards (so four write the same
    // documents), each with its own write buffer and short hand-over period, recording calls
    // over four minutes while their buffers commit concurrently.
    const INSTANCES = 8;
    const CALLS = 150;
    const instances = Array.from({ length: INSTANCES }, (_, i) => {
      const buffer = new WriteBuffer(db, { intervalMs: 2 });
      let clock = NOW - 3 * MIN;
      const recorder = new FleetStatsRecorder(buffer, {
        shard: i % 2,
        handOverEveryMs: 1_000,
        now: () => clock,
      });
      return { buffer, recorder, tick: (ms: number) => (clock += ms) };
    });
    const expected = new Map<string, number>();
    const latencies = new Map<string, number[]>();
    await Promise.all(
      instances.map(async ({ recorder, tick }, i) => {
        for (let n = 0; n < CALLS; n++) {
          const sample: UpstreamCallSample = {
            provider: n % 3 === 0 ? 'spapi' : 'keepa',
            operation: n % 2 === 0 ? 'product' : 'createReport',
            outcome: OUTCOMES[(n + i) % OUTCOMES.length]!,
            latencyMs: (n * 37 + i * 11) % 3_000,
            // Spread over four minutes, the current one included.
            atMs: Math.floor(NOW / MIN) * MIN - 3 * MIN + Math.floor((n / CALLS) * 4 * MIN),
          };
          const key = `${sample.provider}|${sample.operation}|${sample.outcome}`;
          expected.set(key, (expected.get(key) ?? 0) + 1);
          const series = `${sample.provider}|${sample.operation}`;
          latencies.set(series, [...(latencies.get(series) ?? []), sample.latencyMs]);
          recorder.record(sample);
          tick(100);
          if (n % 10 === 0) await ticks();
        }
      }),
    );
    await Promise.all(instances.map(({ recorder }) => recorder.flush()));

    const { fromMs, docs } = await readRecentFleet(db, NOW, 4);
    const summary = summarizeFleet(docs, { fromMs, stepMs: MIN });
    const got = new Map<string, number>();
    for (const t of summary.totals) {
      for (const [o, n] of Object.entries(t.outcomes))
        got.set(`${t.provider}|${t.operation}|${o}`, n);
    }
    expect(got).toEqual(expected);
    expect([...got.values()].reduce((a, b) => a + b, 0)).toBe(INSTANCES * CALLS);
    // Two shard documents per minute, each written by four instances.
    expect(docs).toHaveLength(4 * 2);
    expect(instances.every(({ buffer }) => buffer.stats().updatesFailed === 0)).toBe(true);
    // The hour documents hold the same calls.
    const hours = await readFleetDocs(db, 'hour', NOW - 3_600_000, 100);
    const hourly = summarizeFleet(hours.docs, { fromMs: 0, stepMs: 3_600_000 });
    expect(hourly.totals.reduce((a, t) => a + t.calls, 0)).toBe(INSTANCES * CALLS);
    // Percentiles of the merged histograms lie in the bucket of the true nearest-rank sample.
    const whole = summarizeFleet(docs, { fromMs, stepMs: 4 * MIN });
    expect(whole.totals).toHaveLength(4);
    for (const t of whole.totals) {
      const sorted = (latencies.get(`${t.provider}|${t.operation}`) ?? []).sort((a, b) => a - b);
      for (const [q, estimate] of [
        [0.5, t.p50Ms],
        [0.95, t.p95Ms],
      ] as const) {
        const truth = sorted[Math.ceil(q * sorted.length) - 1]!;
        const { lower, upper } = bucketRange(bucketIndex(truth));
        expect(estimate!).toBeGreaterThanOrEqual(lower);
        expect(estimate!).toBeLessThanOrEqual(upper);
      }
    }
  });

  it('records every attempt of the HTTP wrapper, with its outcome and latency', async () => {
    const buffer = new WriteBuffer(db, { intervalMs: 2 });
    const recorder = connectFleetStats(() => buffer, { shard: 3, handOverEveryMs: 60_000 });
    const answers = [429, 500, 200, 404];
    const fetch = (async () => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      return new Response('{}', { status: answers.shift() ?? 200 });
    }) as unknown as typeof globalThis.fetch;
    const call = { provider: 'keepa', operation: 'product', fetch, now: () => NOW };
    await expect(upstreamFetch('http://127.0.0.1:1/x', {}, call)).rejects.toThrow();
    // A 5xx is retried: two attempts, both counted.
    const ok = await upstreamFetch('http://127.0.0.1:1/x', {}, { ...call, sleep: async () => {} });
    expect(ok.status).toBe(200);
    const notFound = await upstreamFetch('http://127.0.0.1:1/x', {}, call);
    expect(notFound.status).toBe(404);
    await recorder.flush();

    const doc = await db.doc(`${FLEET_MINUTE_COLLECTION}/${minuteKey(NOW)}~s3`).get();
    expect(doc.get('upstream.keepa.product.calls')).toEqual({
      quota: 1,
      http_5xx: 1,
      ok: 1,
      http_4xx: 1,
    });
    const latency = doc.get('upstream.keepa.product.latency') as Record<string, number>;
    expect(Object.values(latency).reduce((a, b) => a + b, 0)).toBe(4);
    // Each attempt took at least the 30 ms the fake upstream waited.
    expect(latency.le5 ?? 0).toBe(0);
    expect(latency.le10 ?? 0).toBe(0);
    expect(latency.le25 ?? 0).toBe(0);
    expect(doc.get('upstream.keepa.product.latencySumMs')).toBeGreaterThanOrEqual(4 * 25);
    expect(doc.get('expiresAt').toMillis()).toBe(Math.floor(NOW / MIN) * MIN + 30 * 24 * 3_600_000);
  });
});

describe('the metrics function serves fleet-wide gauges (emulator)', () => {
  it('upstream outcomes and p50/p95 latency of all instances, queue depths it sampled', async () => {
    const buffer = new WriteBuffer(db, { timers: new ManualTimers() });
    for (const [shard, outcome, latencyMs] of [
      [0, 'ok', 40],
      [1, 'ok', 60],
      [2, 'quota', 200],
      [0, 'http_5xx', 900],
    ] as const) {
      const recorder = new FleetStatsRecorder(buffer, { shard, timers: new ManualTimers() });
      recorder.record({ provider: 'keepa', operation: 'product', outcome, latencyMs, atMs: NOW });
      // Older than the window: not counted.
      recorder.record({
        provider: 'keepa',
        operation: 'product',
        outcome,
        latencyMs,
        atMs: NOW - FLEET_WINDOW_MINUTES * MIN,
      });
      void recorder.handOver();
    }
    await buffer.flush();
    await addIngestItems(db, 'deals', [{ key: 'A' }, { key: 'B' }], { nowMs: NOW - 10 * MIN });
    const admin = new FakeQueueAdmin(['keepaWork']);
    Object.assign(admin.queues.get('keepaWork')!, { tasks: 12, oldestTaskAgeSeconds: 90 });
    const source = { admin, queues: ['keepaWork'] };

    // The scrape records the depths it reads (durably, before it answers), once a minute.
    const sink = new WriteBuffer(db, { intervalMs: 2 });
    const first = (await renderMetrics(db, NOW, source, { queueSamples: sink })).body;
    expect(lines(first, 'tollgate_fleet_upstream_calls').sort()).toEqual([
      'tollgate_fleet_upstream_calls{provider="keepa",operation="product",outcome="http_5xx"} 1',
      'tollgate_fleet_upstream_calls{provider="keepa",operation="product",outcome="ok"} 2',
      'tollgate_fleet_upstream_calls{provider="keepa",operation="product",outcome="quota"} 1',
    ]);
    const latency = lines(first, 'tollgate_fleet_upstream_latency_seconds');
    expect(latency).toHaveLength(2);
    const value = (q: string) =>
      Number(
        latency
          .find((l) => l.includes(`quantile="${q}"`))!
          .split(' ')
          .at(-1),
      );
    // p50: the second of four calls (60 ms, in (50, 100]); p95: the fourth (900 ms, (500, 1000]).
    expect(value('0.5')).toBeGreaterThan(0.05);
    expect(value('0.5')).toBeLessThanOrEqual(0.1);
    expect(value('0.95')).toBeGreaterThan(0.5);
    expect(value('0.95')).toBeLessThanOrEqual(1);
    expect(lines(first, 'tollgate_fleet_window_minutes')).toEqual([
      `tollgate_fleet_window_minutes ${FLEET_WINDOW_MINUTES}`,
    ]);
    expect(lines(first, 'tollgate_state_read_success')).toContain(
      'tollgate_state_read_success{source="fleet"} 1',
    );

    expect(sink.stats()).toMatchObject({ updatesCommitted: 2, pendingDocuments: 0 });
    const second = (await renderMetrics(db, NOW + 1_000, source, { queueSamples: sink })).body;
    // Not again within the minute.
    expect(sink.stats().updatesReceived).toBe(2);
    expect(lines(second, 'tollgate_fleet_queue_depth')).toEqual([
      'tollgate_fleet_queue_depth{queue="aggregations",source="firestore"} 0',
      'tollgate_fleet_queue_depth{queue="ingest/deals",source="firestore"} 2',
      'tollgate_fleet_queue_depth{queue="keepaWork",source="cloud_tasks"} 12',
    ]);
    expect(lines(second, 'tollgate_fleet_queue_oldest_age_seconds')).toEqual([
      'tollgate_fleet_queue_oldest_age_seconds{queue="ingest/deals",source="firestore"} 600',
      'tollgate_fleet_queue_oldest_age_seconds{queue="keepaWork",source="cloud_tasks"} 90',
    ]);
  });

  it('reads at most the window of documents, however many there are', async () => {
    // More documents per minute than any layout writes (a shard count changed, strays).
    const batch = db.batch();
    for (let m = 0; m < 10; m++) {
      for (let s = 0; s < 12; s++) {
        const at = Math.floor(NOW / MIN) * MIN - m * MIN;
        batch.set(db.doc(`${FLEET_MINUTE_COLLECTION}/${minuteKey(at)}~s${s}`), {
          at: Timestamp.fromMillis(at),
          upstream: { keepa: { product: { calls: { ok: 1 } } } },
        });
      }
    }
    await batch.commit();
    const reads = recordReads();
    try {
      const recent = await readRecentFleet(db, NOW, FLEET_WINDOW_MINUTES);
      const bound = FLEET_WINDOW_MINUTES * (FLEET_SHARDS + 1);
      expect(reads.documents).toBe(bound + 1);
      expect(recent.truncated).toBe(true);
      expect(recent.docs).toHaveLength(bound);
      // Newest first: the window's newest minutes are whole.
      expect(recent.docs[0]!.atMs).toBe(Math.floor(NOW / MIN) * MIN);
    } finally {
      reads.restore();
    }
  });

  it('cooldown length and the latest validation run', async () => {
    await db.doc('providers/keepa').set({ limits: [] });
    await db.doc('cooldowns/keepa').set({
      until: Timestamp.fromMillis(NOW + 30 * MIN),
      startedAt: Timestamp.fromMillis(NOW - 10 * MIN),
    });
    await db.doc('validationRuns/2026-01-01T06').set({
      status: 'completed',
      passRate: 0.8,
      completedAt: NOW - 3_600_000,
      marketplaces: { takealot: { passRate: 0.75 }, amazon: { passRate: null } },
    });
    // A newer run still going is passed over.
    await db.doc('validationRuns/2026-01-01T12').set({ status: 'running', startedAt: NOW });
    const { body } = await renderMetrics(db, NOW);
    expect(lines(body, 'tollgate_cooldown_length_seconds')).toEqual([
      'tollgate_cooldown_length_seconds{provider="keepa"} 2400',
    ]);
    expect(lines(body, 'tollgate_validation_pass_rate')).toEqual([
      'tollgate_validation_pass_rate 0.8',
    ]);
    expect(lines(body, 'tollgate_validation_marketplace_pass_rate')).toEqual([
      'tollgate_validation_marketplace_pass_rate{marketplace="takealot"} 0.75',
    ]);
    expect(lines(body, 'tollgate_validation_last_run_age_seconds')).toEqual([
      'tollgate_validation_last_run_age_seconds 3600',
    ]);
  });
});

describe('queue depth sampling (the heartbeat)', () => {
  it('records Cloud Tasks stats and Firestore backlogs in the minute and hour documents', async () => {
    const buffer = new WriteBuffer(db, { intervalMs: 2 });
    const admin = new FakeQueueAdmin(['keepaWork', 'smartproxyWork']);
    admin.queues.get('keepaWork')!.tasks = 5;
    admin.failing.add('smartproxyWork');
    await addIngestItems(db, 'deals', [{ key: 'A' }], { nowMs: NOW - MIN });
    const samples = await sampleQueueDepths({
      db,
      nowMs: NOW,
      sink: buffer,
      taskQueues: { admin, queues: ['keepaWork', 'smartproxyWork'] },
    });
    // The unreadable queue is left out, not recorded as empty.
    expect(samples.map((s) => s.queue)).toEqual(['keepaWork', 'ingest/deals', 'aggregations']);
    await sampleQueueDepths({ db, nowMs: NOW + 10_000, sink: buffer });
    const minute = await db.doc(`${FLEET_MINUTE_COLLECTION}/${minuteKey(NOW)}~queues`).get();
    expect(minute.get('queues.keepaWork')).toMatchObject({
      depthSum: 5,
      samples: 1,
      depthLast: 5,
      source: 'cloud_tasks',
    });
    expect(minute.get('queues')['ingest%2Fdeals']).toMatchObject({ depthSum: 2, samples: 2 });
    const hours = await readFleetDocs(db, 'hour', NOW - 3_600_000, 10);
    const { queues } = summarizeFleet(hours.docs, { fromMs: 0, stepMs: 3_600_000 });
    expect(queues.find((q) => q.queue === 'ingest/deals')).toMatchObject({
      depth: 1,
      samples: 2,
      oldestAgeSeconds: 70,
    });
  });
});
