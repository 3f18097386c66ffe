import { type Firestore, Timestamp } from 'firebase-admin/firestore';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkHealth } from '../../src/adapters/observability/health';
import {
  readCooldowns,
  readHealthConfig,
  readQueueBacklog,
  readUpstreamUsage,
} from '../../src/adapters/observability/observability';
import { addIngestItems } from '../../src/adapters/pipeline/ingest-queue-writes';
import { recordUsage } from '../../src/adapters/storage/usage-stats';
import { WriteBuffer } from '../../src/adapters/storage/write-buffer';
import { DEFAULT_HEALTH_CONFIG } from '../../src/core/observability/health-config';
import { FakeQueueAdmin } from '../api/support';
import { testFirestore } from '../support/firestore';
import { ManualTimers } from '../write-buffer/support';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 30);
const MIN = 60_000;

let db: Firestore;
let close: () => Promise<void>;
beforeEach(() => ({ db, close } = testFirestore()));
afterEach(() => close());

/** Usage statistics written the way the quota engine writes them: through a buffer. */
async function usage(
  samples: Array<{ provider: string; at: number; granted?: number; quota429?: number }>,
) {
  const buffer = new WriteBuffer(db, { timers: new ManualTimers() });
  const writes = samples.map((s) => recordUsage(buffer, { category: 'c', ...s }));
  await buffer.flush();
  await Promise.all(writes);
}

describe('observability reads (emulator)', () => {
  it('queue backlog: ingest peek items and light updates already due, oldest first; pending aggregations', async () => {
    await addIngestItems(db, 'deals', [{ key: 'A1' }, { key: 'A2' }], { nowMs: NOW - 30 * MIN });
    await addIngestItems(db, 'deals', [{ key: 'A3' }], { nowMs: NOW - 5 * MIN });
    await addIngestItems(db, 'deals', [{ key: 'L1' }], {
      stage: 'light',
      nowMs: NOW - 90 * MIN,
      dueAtMs: NOW - 60 * MIN,
    });
    await addIngestItems(db, 'deals', [{ key: 'L2' }], {
      stage: 'light',
      nowMs: NOW,
      dueAtMs: NOW + 60 * MIN, // not due: not backlog
    });
    await addIngestItems(db, 'refresh', [{ key: 'B1' }], { nowMs: NOW - MIN });
    await db.doc('aggregations/w1').set({ status: 'pending', count: 1 });
    await db.doc('aggregations/w2').set({ status: 'written', count: 3 });

    const backlog = await readQueueBacklog(db, NOW);
    expect(backlog).toEqual([
      {
        queue: 'ingest/deals',
        pending: 4,
        stages: { peek: 3, light: 2, lightDue: 1 },
        oldestAtMs: NOW - 60 * MIN,
      },
      {
        queue: 'ingest/refresh',
        pending: 1,
        stages: { peek: 1, lightDue: 0 },
        oldestAtMs: NOW - MIN,
      },
      { queue: 'aggregations', pending: 1, stages: { pending: 1 }, oldestAtMs: null },
    ]);
  });

  it('usage: the last minutes of per-minute statistics, per provider', async () => {
    await usage([
      { provider: 'keepa', at: NOW, granted: 30, quota429: 1 },
      { provider: 'keepa', at: NOW - 4 * MIN, granted: 20, quota429: 9 },
      { provider: 'keepa', at: NOW - 5 * MIN, granted: 1000, quota429: 1000 }, // outside
      { provider: 'spapi', at: NOW - 2 * MIN, granted: 3 },
    ]);
    expect(await readUpstreamUsage(db, NOW, 5)).toEqual([
      { provider: 'keepa', granted: 50, deferred: 0, calls: 0, quotaErrors: 10 },
      { provider: 'spapi', granted: 3, deferred: 0, calls: 0, quotaErrors: 0 },
    ]);
  });

  it('cooldowns and thresholds', async () => {
    await db.doc('cooldowns/keepa').set({
      until: Timestamp.fromMillis(NOW + 60_000),
      startedAt: Timestamp.fromMillis(NOW - 1000),
      hits: 4,
      lastOperation: 'product',
    });
    await db.doc('cooldowns/broken').set({ until: 'soon' });
    expect(await readCooldowns(db)).toEqual([
      {
        provider: 'keepa',
        untilMs: NOW + 60_000,
        startedAtMs: NOW - 1000,
        hits: 4,
        lastOperation: 'product',
      },
    ]);
    expect(await readHealthConfig(db)).toEqual({ config: DEFAULT_HEALTH_CONFIG });
    await db.doc('config/pipeline').set({ health: { maxBacklog: 5, errorWindowMinutes: 10 } });
    expect((await readHealthConfig(db)).config).toMatchObject({
      maxBacklog: 5,
      errorWindowMinutes: 10,
    });
  });
});

describe('checkHealth (emulator)', () => {
  const options = { probePath: 'system/heartbeat', now: () => NOW };

  it('is ok on an empty project, and reports the heartbeat', async () => {
    await db.doc('system/heartbeat').set({ at: Timestamp.fromMillis(NOW - MIN) });
    const result = await checkHealth(db, options);
    expect(result.httpStatus).toBe(200);
    expect(result.lastHeartbeatAt).toBe(new Date(NOW - MIN).toISOString());
    expect(result.report).toMatchObject({
      status: 'ok',
      firestore: { ok: true },
      queues: [{ queue: 'aggregations', pending: 0 }],
      upstreams: [],
      cooldowns: [],
    });
  });

  it('reports a cooldown without degrading', async () => {
    await db.doc('cooldowns/keepa').set({
      until: Timestamp.fromMillis(NOW + 120_000),
      startedAt: Timestamp.fromMillis(NOW),
      hits: 1,
      lastOperation: 'product',
    });
    const result = await checkHealth(db, options);
    expect(result.httpStatus).toBe(200);
    expect(result.report.cooldowns).toEqual([
      expect.objectContaining({ provider: 'keepa', remainingSeconds: 120 }),
    ]);
  });

  it('is 503 when the quota-error rate is above the configured threshold', async () => {
    await db.doc('config/pipeline').set({ health: { maxErrorRate: 0.2, minCalls: 10 } });
    await usage([{ provider: 'keepa', at: NOW, granted: 10, quota429: 3 }]);
    const result = await checkHealth(db, options);
    expect(result.httpStatus).toBe(503);
    expect(result.report.reasons).toEqual([
      'keepa: 30% of 10 calls in the last 5 min hit a quota error, above 20%',
    ]);
  });

  it('is 503 when a backlog is above the configured threshold', async () => {
    await db.doc('config/pipeline').set({ health: { maxBacklog: 2 } });
    await addIngestItems(db, 'deals', [{ key: 'A' }, { key: 'B' }, { key: 'C' }], {
      nowMs: NOW - MIN,
    });
    const result = await checkHealth(db, options);
    expect(result.httpStatus).toBe(503);
    expect(result.report.reasons).toEqual(['ingest/deals: 3 pending, above 2']);
  });

  it("reports the provider queues' Cloud Tasks depth; degraded when a task is overdue or too many wait", async () => {
    const admin = new FakeQueueAdmin(['keepaWork', 'smartproxyWork']);
    Object.assign(admin.queues.get('keepaWork')!, {
      tasks: 40,
      oldestTaskAgeSeconds: 0,
      dispatchedLastMinute: 12,
    });
    const taskQueues = { admin, queues: ['keepaWork', 'smartproxyWork'] };
    const ok = await checkHealth(db, { ...options, taskQueues });
    expect(ok.httpStatus).toBe(200);
    expect(ok.report.taskQueues).toEqual([
      expect.objectContaining({
        queue: 'keepaWork',
        state: 'RUNNING',
        tasks: 40,
        dispatchedLastMinute: 12,
        degraded: false,
      }),
      expect.objectContaining({
        queue: 'smartproxyWork',
        tasks: 0,
        oldestTaskAgeSeconds: null,
        degraded: false,
      }),
    ]);

    await db.doc('config/pipeline').set({ health: { maxBacklog: 30, maxBacklogAgeMinutes: 10 } });
    admin.queues.get('smartproxyWork')!.oldestTaskAgeSeconds = 11 * 60;
    const degraded = await checkHealth(db, { ...options, taskQueues });
    expect(degraded.httpStatus).toBe(503);
    expect(degraded.report.reasons).toEqual([
      'task queue keepaWork: 40 tasks, above 30',
      'task queue smartproxyWork: a task overdue by 11 min, above 10 min',
    ]);
  });

  it('notes a paused queue outside maintenance, and is 503 when Cloud Tasks does not answer', async () => {
    const admin = new FakeQueueAdmin(['keepaWork']);
    await admin.pause('keepaWork');
    const taskQueues = { admin, queues: ['keepaWork'] };
    const paused = await checkHealth(db, { ...options, taskQueues });
    expect(paused.httpStatus).toBe(200);
    expect(paused.report.notes).toEqual([
      'task queue keepaWork is paused outside maintenance (the heartbeat resumes it)',
    ]);
    await db.doc('config/flags').set({ maintenance: true });
    expect((await checkHealth(db, { ...options, taskQueues })).report.notes).toEqual([]);
    admin.failing.add('keepaWork');
    const down = await checkHealth(db, { ...options, taskQueues });
    expect(down.httpStatus).toBe(503);
    expect(down.report.reasons).toEqual([
      'task queue keepaWork not readable: 14 UNAVAILABLE: keepaWork',
    ]);
  });

  it('is 503 when Firestore does not answer, and reads nothing else', async () => {
    let reads = 0;
    const unreachable = {
      doc: () => ({
        get: () => {
          reads++;
          return Promise.reject(new Error('14 UNAVAILABLE: connection refused'));
        },
      }),
      collection: () => {
        throw new Error('must not be read');
      },
    } as unknown as Firestore;
    const result = await checkHealth(unreachable, options);
    expect(result.httpStatus).toBe(503);
    expect(result.report.reasons).toEqual([
      'Firestore unreachable: 14 UNAVAILABLE: connection refused',
    ]);
    expect(reads).toBe(1);
  });
});
