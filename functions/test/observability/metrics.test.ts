import { type Firestore, Timestamp } from 'firebase-admin/firestore';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { metricsRegistry } from '../../src/adapters/observability/metrics';
import { renderMetrics } from '../../src/adapters/observability/state-metrics';
import { addIngestItems } from '../../src/adapters/pipeline/ingest-queue-writes';
import { attachSelfQuota } from '../../src/adapters/storage/self-quota-runtime';
import { recordUsage } from '../../src/adapters/storage/usage-stats';
import { WriteBuffer } from '../../src/adapters/storage/write-buffer';
import { SelfQuotaMonitor } from '../../src/core/storage/self-quota';
import { authorized } from '../../src/entry/observability/metrics';
import { FakeQueueAdmin } from '../api/support';
import { testFirestore } from '../support/firestore';
import { ManualTimers } from '../write-buffer/support';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 30);
const MIN = 60_000;

let db: Firestore;
let close: () => Promise<void>;
beforeEach(() => {
  ({ db, close } = testFirestore());
  // As the instance's Firestore is (firebase.ts): its operations are counted.
  attachSelfQuota(db, new SelfQuotaMonitor(), { limits: false });
});
afterEach(() => close());

function lines(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

describe('metrics endpoint (emulator)', () => {
  it("serves the provider queues' Cloud Tasks stats, and says when they cannot be read", async () => {
    const admin = new FakeQueueAdmin(['keepaWork', 'smartproxyWork']);
    Object.assign(admin.queues.get('keepaWork')!, {
      tasks: 7,
      oldestTaskAgeSeconds: 42,
      dispatchedLastMinute: 30,
      dispatchesInFlight: 2,
      maxDispatchesPerSecond: 4.38,
    });
    await admin.pause('smartproxyWork');
    const source = { admin, queues: ['keepaWork', 'smartproxyWork'] };
    const { body } = await renderMetrics(db, NOW, source);
    expect(lines(body, 'tollgate_task_queue_tasks')).toEqual([
      'tollgate_task_queue_tasks{queue="keepaWork"} 7',
      'tollgate_task_queue_tasks{queue="smartproxyWork"} 0',
    ]);
    expect(lines(body, 'tollgate_task_queue_oldest_overdue_seconds')).toEqual([
      'tollgate_task_queue_oldest_overdue_seconds{queue="keepaWork"} 42',
    ]);
    expect(lines(body, 'tollgate_task_queue_dispatched_last_minute')).toContain(
      'tollgate_task_queue_dispatched_last_minute{queue="keepaWork"} 30',
    );
    expect(lines(body, 'tollgate_task_queue_max_dispatches_per_second')).toContain(
      'tollgate_task_queue_max_dispatches_per_second{queue="keepaWork"} 4.38',
    );
    expect(lines(body, 'tollgate_task_queue_paused')).toEqual([
      'tollgate_task_queue_paused{queue="keepaWork"} 0',
      'tollgate_task_queue_paused{queue="smartproxyWork"} 1',
    ]);
    admin.failing.add('keepaWork');
    const failed = (await renderMetrics(db, NOW, source)).body;
    expect(lines(failed, 'tollgate_state_read_success')).toContain(
      'tollgate_state_read_success{source="task_queues"} 0',
    );
  });

  it('serves Prometheus text with gauges computed from Firestore', async () => {
    await db.doc('providers/keepa').set({ limits: [] });
    await db.doc('providers/spapi').set({ limits: [] });
    await db.doc('cooldowns/keepa').set({
      until: Timestamp.fromMillis(NOW + 90_000),
      startedAt: Timestamp.fromMillis(NOW),
    });
    await addIngestItems(db, 'deals', [{ key: 'A' }, { key: 'B' }], { nowMs: NOW - 10 * MIN });
    await db.doc('aggregations/w1').set({ status: 'pending' });
    await db.doc('autosync/spapi-vendor-sales').set({ watermarkMs: NOW - 3_600_000 });
    const buffer = new WriteBuffer(db, { timers: new ManualTimers() });
    const write = recordUsage(buffer, {
      provider: 'keepa',
      category: 'deals',
      at: NOW,
      granted: 8,
      quota429: 2,
    });
    await buffer.flush();
    await write;

    const { contentType, body } = await renderMetrics(db, NOW);
    expect(contentType).toBe(metricsRegistry.contentType);
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(body).toContain('# TYPE tollgate_queue_backlog gauge');
    expect(lines(body, 'tollgate_queue_backlog')).toEqual([
      'tollgate_queue_backlog{queue="ingest/deals",stage="peek"} 2',
      'tollgate_queue_backlog{queue="ingest/deals",stage="commit"} 0',
      'tollgate_queue_backlog{queue="ingest/deals",stage="light_due"} 0',
      'tollgate_queue_backlog{queue="aggregations",stage="pending"} 1',
    ]);
    expect(lines(body, 'tollgate_queue_oldest_age_seconds')).toEqual([
      'tollgate_queue_oldest_age_seconds{queue="ingest/deals"} 600',
    ]);
    expect(lines(body, 'tollgate_cooldown_remaining_seconds')).toEqual([
      'tollgate_cooldown_remaining_seconds{provider="keepa"} 90',
      'tollgate_cooldown_remaining_seconds{provider="spapi"} 0',
    ]);
    expect(lines(body, 'tollgate_upstream_quota_error_ratio')).toEqual([
      'tollgate_upstream_quota_error_ratio{provider="keepa"} 0.25',
    ]);
    expect(lines(body, 'tollgate_usage_recent')).toContain(
      'tollgate_usage_recent{provider="keepa",counter="quota429"} 2',
    );
    expect(lines(body, 'tollgate_autosync_lag_seconds')).toEqual([
      'tollgate_autosync_lag_seconds{source="spapi-vendor-sales"} 3600',
    ]);
    // backlog, cooldowns, usage, fleet, validation, autosync (no task queues asked for).
    expect(lines(body, 'tollgate_state_read_success')).toHaveLength(6);
    expect(lines(body, 'tollgate_state_read_success').every((l) => l.endsWith(' 1'))).toBe(true);
    // This instance's write buffer (the one the metrics function would use) and the counters.
    expect(lines(body, 'tollgate_write_buffer_pending')).toEqual([
      'tollgate_write_buffer_pending 0',
    ]);
    expect(body).toContain('# TYPE tollgate_gate_decisions_total counter');
    expect(body).toMatch(/tollgate_firestore_ops_total\{op="read"\} \d+/);
  });

  it('drops series that are gone at the next scrape', async () => {
    await db.doc('cooldowns/keepa').set({ until: Timestamp.fromMillis(NOW + 1000) });
    expect(
      lines((await renderMetrics(db, NOW)).body, 'tollgate_cooldown_remaining_seconds'),
    ).toEqual(['tollgate_cooldown_remaining_seconds{provider="keepa"} 1']);
    await db.doc('cooldowns/keepa').delete();
    expect(
      lines((await renderMetrics(db, NOW)).body, 'tollgate_cooldown_remaining_seconds'),
    ).toEqual([]);
  });
});

describe('metrics authorization', () => {
  it('is never open without a token, and wants the bearer token when one is set', () => {
    // No configured token authorizes nothing (the emulator's open mode is the handler's, see
    // health-endpoint.test.ts).
    expect(authorized(undefined, undefined)).toBe(false);
    expect(authorized('Bearer ', '')).toBe(false);
    expect(authorized('Bearer x', '')).toBe(false);
    expect(authorized(undefined, 's3cret')).toBe(false);
    expect(authorized('Bearer wrong', 's3cret')).toBe(false);
    expect(authorized('s3cret', 's3cret')).toBe(false);
    expect(authorized('Bearer s3cret', 's3cret')).toBe(true);
  });
});
