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
 * items through WorkRunner and QuotaEngines on the Firestore emulator, the HTTP token-bucket
 * upstream and a local Cloud Tasks queue, in wall time; then simulatePolicy replays what the
 * engines recorded. Its utilization and deferrals are within 2% of what the run measured (seeds
 * 1-3 measured: utilization within 0.2%, deferrals -1.2%, -0.8%, 0.0%). Replay's first queue model
 * (whole dispatches per calendar second: 12 a second for the queue's 12.5) predicted 5-7% fewer.
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
    expect(deals).toBeGreaterThan(0.5);
    expect(deals).toBeLessThan(0.7);
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
    // A run with a backlog to re-ask: deferrals enough for 2% to mean something.
    expect(measured.deferrals).toBeGreaterThan(500);
    expect(result.queue.dispatches).toBeGreaterThan(400);
    expect(measured.upstream429).toBe(0);
    expect(predicted.upstream429).toBe(0);
    // Every call that asked within the range is in the record the replay read (the harness
    // reads the clock just before the engine does: one call may straddle the end).
    expect(Math.abs(result.firstAsks.recorded - result.firstAsks.asked)).toBeLessThanOrEqual(1);
    expect(result.firstAsks.asked).toBeGreaterThan(result.arrivals - 20);
    expect(Math.abs(result.error.utilization), JSON.stringify(result.error)).toBeLessThan(2);
    expect(Math.abs(result.error.deferrals), JSON.stringify(result.error)).toBeLessThan(2);
  }, 240_000);
});
