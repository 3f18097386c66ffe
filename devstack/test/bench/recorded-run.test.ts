import { randomUUID } from 'node:crypto';
import { deleteApp, initializeApp } from 'firebase-admin/app';
import { getFirestore } from 'firebase-admin/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FIDELITY_SCENARIO,
  recordedRunArrivals,
  runRecordedRun,
} from '../../src/bench/recorded-run.ts';
import {
  startTokenBucketUpstream,
  type TokenBucketUpstream,
} from '../../src/bench/token-bucket-upstream.ts';

/**
 * Policy replay against a recorded run of the real thing (recorded-run.ts): a minute of work
 * items through a local Cloud Tasks queue, WorkRunner and QuotaEngines on the Firestore emulator
 * and the HTTP token-bucket upstream, in wall time; then simulatePolicy replays what the engines
 * recorded. Its utilization and deferrals, in all and per category, are within 2% of what the run
 * measured. It failed on two models the replay had: a queue that sent whole dispatches per
 * calendar second (12 a second for the queue's 12.5: 5-7% fewer deferrals), and first asks that
 * took no part of the queue's rate (about 70% fewer). The same replay with the queue at 12/s or
 * 13/s is 10% off.
 */

let upstream: TokenBucketUpstream;
const apps: ReturnType<typeof initializeApp>[] = [];
beforeAll(async () => {
  upstream = await startTokenBucketUpstream({ capacity: 1, refillPerSecond: 1 });
});
afterAll(async () => {
  await upstream.stop();
  await Promise.all(apps.map((app) => deleteApp(app)));
});

describe('a recorded run, replayed', () => {
  it('arrives as the scenario says: above the bucket, then below it', () => {
    const arrivals = recordedRunArrivals({ ...FIDELITY_SCENARIO, durationMs: 60_000, seed: 1 });
    const busy = arrivals.filter((a) => a.atMs < 20_000).length / 20;
    const quiet = arrivals.filter((a) => a.atMs >= 20_000).length / 40;
    expect(busy).toBeGreaterThan(13);
    expect(quiet).toBeLessThan(8);
    const deals = arrivals.filter((a) => a.category === 'deals').length / arrivals.length;
    expect(deals).toBeGreaterThan(0.4);
    expect(deals).toBeLessThan(0.6);
  });

  it('predicts its utilization and deferrals within 2%', async () => {
    const app = initializeApp(
      { projectId: `demo-recorded-${randomUUID().slice(0, 8)}` },
      `recorded-${randomUUID()}`,
    );
    apps.push(app);
    const result = await runRecordedRun({
      ...FIDELITY_SCENARIO,
      db: getFirestore(app),
      upstream,
      durationMs: 60_000,
      seed: 1,
    });
    const { measured, predicted } = result;
    // A run with calls to re-ask: deferrals enough for 2% to mean something.
    expect(measured.deferrals).toBeGreaterThan(250);
    expect(result.queue.dispatches).toBeGreaterThan(600);
    expect(measured.upstream429).toBe(0);
    expect(predicted.upstream429).toBe(0);
    // Every call that asked within the range is in the record the replay read (the harness
    // reads the clock just before the engine does: one call may straddle the end).
    expect(Math.abs(result.firstAsks.recorded - result.firstAsks.asked)).toBeLessThanOrEqual(1);
    // Work items still in the queue when the range ends never asked the gate (about 80 of 615).
    expect(result.firstAsks.asked).toBeGreaterThan(0.8 * result.arrivals);
    const said = JSON.stringify({ measured, predicted });
    expect(Math.abs(result.error.utilization), said).toBeLessThan(2);
    expect(Math.abs(result.error.deferrals), said).toBeLessThan(2);
    // Per category too, not only a total whose errors could cancel (a count near 0: within 2).
    for (const id of ['deals', 'history']) {
      const m = measured.deferralsByCategory[id] ?? 0;
      const p = predicted.deferralsByCategory[id] ?? 0;
      expect(Math.abs(p - m), `${id}: ${said}`).toBeLessThanOrEqual(Math.max(2, 0.02 * m));
    }
  }, 240_000);
});
