import type { Firestore } from 'firebase-admin/firestore';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { exportBackup } from '../../src/adapters/backup/backup-export';
import { addIngestItems } from '../../src/adapters/pipeline/ingest-queue-writes';
import { commitInBatches } from '../../src/adapters/storage/batch-writes';
import {
  attachSelfQuota,
  type HeavyWork,
  PACE_BASE_MS,
  PACE_MAX_WAIT_MS,
  paceFirestoreWork,
} from '../../src/adapters/storage/self-quota-runtime';
import { runValidation } from '../../src/adapters/validation/validation-runner';
import { SelfQuotaMonitor } from '../../src/core/storage/self-quota';
import { testFirestore } from '../support/firestore';

/**
 * Heavy work paces itself by the Firestore self-quota: no pause under the heavy-work threshold,
 * at or above it a wait until the window has room plus a delay that grows with the multiplier
 * (bounded), and back to none once usage falls. The clock moves only while work sleeps.
 */

let db: Firestore;
let close: () => Promise<void>;
beforeEach(() => ({ db, close } = testFirestore()));
afterEach(() => close());

/** Writes limited to 10 a second (soft limit 8); the minute window never matters here. */
function setup(options: { backgroundShare?: number; paceMaxWaitMs?: number } = {}) {
  const clock = { ms: Date.UTC(2026, 0, 1, 12) };
  const monitor = new SelfQuotaMonitor(
    {
      limits: {
        write: { perSecond: 10, perMinute: 1e6 },
        read: { perSecond: 1e6, perMinute: 6e7 },
      },
      ...(options.backgroundShare ? { backgroundShare: options.backgroundShare } : {}),
    },
    () => clock.ms,
  );
  const pauses: number[] = [];
  const quota = attachSelfQuota(db, monitor, {
    limits: false,
    now: () => clock.ms,
    sleep: async (ms) => {
      pauses.push(ms);
      clock.ms += ms;
    },
    ...(options.paceMaxWaitMs ? { paceMaxWaitMs: options.paceMaxWaitMs } : {}),
  });
  const paced: HeavyWork[] = [];
  const pace = quota.pace.bind(quota);
  vi.spyOn(quota, 'pace').mockImplementation(async (work) => {
    const ms = await pace(work);
    if (ms > 0) paced.push(work);
    return ms;
  });
  return { clock, monitor, pauses, paced };
}

describe('pacing heavy work by the Firestore self-quota', () => {
  it('does not pause under the threshold; at it waits for the window, with the growing delay on top; recovers', async () => {
    const { clock, monitor, pauses } = setup();
    monitor.record('write', 7); // under the threshold of 8 (80% of 10/s)
    expect(await paceFirestoreWork(db, 'batch')).toBe(0);
    monitor.record('write', 1); // at it: wait for the second to turn (the clock is on one)
    expect(await paceFirestoreWork(db, 'batch')).toBe(1000);
    const seen: number[] = [];
    for (let s = 0; s < 4; s++) {
      monitor.record('write', 9); // over the threshold again, right after each pause
      seen.push(await paceFirestoreWork(db, 'batch'));
    }
    // The rest of the second, then 100 ms x the multiplier, which doubles for each second
    // over the threshold up to 10x: (1000 + 200), (800 + 400), (600 + 800), (200 + 1000).
    expect(seen).toEqual([1200, 1200, 1400, 1200]);
    expect(pauses.reduce((a, b) => a + b, 0)).toBe(1000 + 5000);
    // Quiet seconds: the multiplier halves each second, then no pause at all.
    const recovery: number[] = [];
    for (let s = 0; s < 6; s++) {
      clock.ms += 1000;
      recovery.push(await paceFirestoreWork(db, 'batch'));
    }
    expect(recovery).toEqual([250, 125, 0, 0, 0, 0]);
    expect(monitor.throttled()).toBe(false);
  });

  it('waits for the minute window to have room: until its oldest seconds have left it', async () => {
    const { clock, monitor } = setup();
    monitor.configure({ limits: { write: { perSecond: 1e6, perMinute: 100 } } }); // 80/min
    monitor.record('write', 50);
    clock.ms += 10_000;
    monitor.record('write', 30); // 80 in the minute: at the threshold
    const startMs = clock.ms;
    const paused = await paceFirestoreWork(db, 'batch');
    // The first 50 leave the window when its second ends 60 s later; then 30 of 80 are left.
    expect(clock.ms).toBeGreaterThanOrEqual(startMs + 50_000);
    expect(monitor.usage('write', 'minute')).toBe(30);
    expect(paused).toBe(clock.ms - startMs);
    expect(paused).toBeLessThanOrEqual(50_000 + 10 * PACE_BASE_MS);
  });

  it('never waits longer than the bound (the await bound by default)', async () => {
    const minuteFull = (monitor: SelfQuotaMonitor) => {
      monitor.configure({ limits: { write: { perSecond: 1e6, perMinute: 100 } } });
      monitor.record('write', 1000); // ten minutes' worth: room only once this second left
    };
    const bounded = setup({ paceMaxWaitMs: 5000 });
    minuteFull(bounded.monitor);
    expect(await paceFirestoreWork(db, 'ingest')).toBe(5000);
    await close();
    ({ db, close } = testFirestore());
    const unbounded = setup();
    minuteFull(unbounded.monitor);
    expect(await paceFirestoreWork(db, 'ingest')).toBe(PACE_MAX_WAIT_MS);
    expect(PACE_MAX_WAIT_MS).toBe(60_000);
  });

  it('with a pipeline share of 50%, heavy work is held from 40% of a limit while the rest is not', async () => {
    const { monitor } = setup({ backgroundShare: 0.5 });
    monitor.record('write', 3);
    expect(await paceFirestoreWork(db, 'validation')).toBe(0);
    monitor.record('write', 1);
    expect(monitor.multiplier()).toBe(1); // the buffer and callables are not throttled
    expect(await paceFirestoreWork(db, 'validation')).toBe(1000);
  });

  it('a paused pipeline (1%) slows heavy work to its slowest pace without stopping it', async () => {
    const { clock, monitor } = setup({ backgroundShare: 0.01 });
    monitor.configure({ limits: { write: { perSecond: 10, perMinute: 60 } } });
    const startMs = clock.ms;
    for (let page = 0; page < 5; page++) {
      await paceFirestoreWork(db, 'backup');
      monitor.record('write', 1);
    }
    // Each write fills the minute at 1% (0.48 of 60): one a minute, and none stopped.
    expect(monitor.usage('write', 'minute')).toBe(1);
    expect(clock.ms - startMs).toBeGreaterThanOrEqual(4 * 59_000);
    expect(clock.ms - startMs).toBeLessThanOrEqual(4 * PACE_MAX_WAIT_MS);
  });

  it('a Firestore without a self-quota is not paced', async () => {
    const { db: plain, close: closePlain } = testFirestore();
    expect(await paceFirestoreWork(plain, 'backup')).toBe(0);
    await closePlain();
  });

  it('batched writes, ingest, validation and backups pause at the threshold, not under it', async () => {
    const { clock, monitor, paced } = setup();
    for (let i = 0; i < 150; i++) await db.doc(`cooldownHistory/h${i}`).set({ i });
    const writes = Array.from({ length: 1200 }, (_, i) => ({
      ref: db.doc(`bulk/${i}`),
      data: { i },
    }));
    const items = Array.from({ length: 401 }, (_, i) => ({ key: `k${i}` }));
    const heavy = async () => {
      await commitInBatches(db, writes);
      await addIngestItems(db, 'deals', items, { nowMs: clock.ms });
      await runValidation({
        db,
        now: () => clock.ms,
        marketplaces: ['de'],
        enqueue: async () => 'enqueued',
      });
      await exportBackup(db, { collections: ['cooldownHistory'], now: () => clock.ms });
    };

    // Quiet: a fresh second, loose limits for this run.
    clock.ms += 600_000;
    monitor.configure({ limits: { write: { perSecond: 1e6, perMinute: 6e7 } } });
    await heavy();
    expect(paced).toEqual([]);

    // Busy: the same work, now at the threshold, pauses between its pages and batches.
    clock.ms += 600_000;
    monitor.configure({});
    monitor.record('write', 9);
    await heavy();
    expect(new Set(paced)).toEqual(new Set(['batch', 'ingest', 'validation', 'backup']));
    expect(paced.filter((w) => w === 'batch')).toHaveLength(2); // between 3 batches
    expect(paced.filter((w) => w === 'ingest')).toHaveLength(2); // between 3 chunks
    expect(paced.filter((w) => w === 'backup')).toHaveLength(2); // 2 pages of 100

    // Quiet again once usage has fallen away.
    clock.ms += 600_000;
    paced.length = 0;
    expect(await paceFirestoreWork(db, 'backup')).toBe(0);
    expect(paced).toEqual([]);
  });
});
