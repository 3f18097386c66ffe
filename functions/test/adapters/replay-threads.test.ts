import { describe, expect, it } from 'vitest';
import { threadRunner } from '../../src/adapters/operations/replay-threads';
import { demandPlan, type PolicyRunJob, replayPolicy } from '../../src/core/replay';
import { DemandRecorder } from '../../src/core/storage/write-buffer/demand-stats';
import { keepaConfig, REPLAY_FROM, steadyDemand } from '../core/replay/support';

/**
 * The replay's two simulations in worker threads (the callable's and the bench's runner) answer
 * exactly what they answer one after the other; a progress callback that throws (the callable
 * out of time) stops both threads; a run failing in its thread fails the replay with its error.
 * Here the threads run the TypeScript sources through tsx, as the CLI does.
 */

const from = REPLAY_FROM;
const current = keepaConfig({ deals: 70, history: 30 });
const policy = { categories: [{ id: 'deals', sharePercent: 40 }] };

/** 15 calls/s for deals and history each: more than the bucket's 20/s, so deferrals too. */
const demand = (minutes: number) => steadyDemand({ deals: 15, history: 15 }, minutes);

const replay = (minutes: number, runner: ReturnType<typeof threadRunner> | undefined) => {
  const progress: number[] = [];
  const report = replayPolicy({
    fromMs: from,
    toMs: from + minutes * 60_000,
    demand: demand(minutes),
    current,
    policy,
    instances: 4,
    seed: 5,
    ...(runner ? { runner } : {}),
    onProgress: (doneMs) => progress.push(doneMs),
  });
  return { report, progress };
};

describe('replay threads', () => {
  it('answer what the runs in turn answer, with progress to the end', async () => {
    const inTurn = replay(3, undefined);
    const threads = replay(3, threadRunner(2));
    const [a, b] = [await inTurn.report, await threads.report];
    const strip = ({ wallMs: _w, speedup: _s, ...rest }: typeof a) => rest;
    expect(strip(b)).toEqual(strip(a));
    expect(b.current.categories.reduce((s, c) => s + c.deferrals, 0)).toBeGreaterThan(100);
    // Progress only moves forward, and ends where the runs in turn end: both runs done.
    expect(threads.progress.length).toBeGreaterThan(10);
    expect(threads.progress).toEqual([...threads.progress].sort((x, y) => x - y));
    expect(threads.progress.at(-1)).toBe(inTurn.progress.at(-1));
    expect(threads.progress.at(-1)).toBe(2 * 3 * 60_000);
  }, 120_000);

  it('run in turn on a host with one core', async () => {
    const one = replay(1, threadRunner(1));
    const inTurn = replay(1, undefined);
    const [a, b] = [await one.report, await inTurn.report];
    expect(a.current).toEqual(b.current);
    // In turn, progress is told at every simulated instant, not once a simulated second.
    expect(one.progress.length).toBe(inTurn.progress.length);
  }, 120_000);

  it('stop both threads when the progress callback throws', async () => {
    const stop = new Error('out of time');
    let calls = 0;
    let after = 0;
    let stopped = false;
    const error = await replayPolicy({
      fromMs: from,
      toMs: from + 30 * 60_000,
      demand: demand(30),
      current,
      policy,
      instances: 4,
      runner: threadRunner(2),
      onProgress: () => {
        if (stopped) after++;
        if (++calls === 50) {
          stopped = true;
          throw stop;
        }
      },
    }).catch((e: unknown) => e);
    expect(error).toBe(stop);
    // Terminated before the replay answered: nothing more arrives from them.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(after).toBe(0);
  }, 120_000);

  it('tell progress within a busy simulated second, not only once a second', async () => {
    // 20,000 first asks at 1,000 instants of one simulated second: with progress told once per
    // simulated second, a caller watching its deadline (the callable) would hear nothing while
    // the whole burst runs.
    const burstAt = from + 10_000;
    const recorder = new DemandRecorder();
    for (let k = 0; k < 20_000; k++) {
      recorder.record({
        provider: 'keepa',
        category: k % 2 ? 'deals' : 'history',
        at: burstAt + (k % 1000),
        cost: 1,
        bytes: 0,
        requests: 1,
        attempt: 0,
        outcome: 'granted',
      });
    }
    const job: PolicyRunJob = {
      config: current,
      upstreams: current.providers,
      plan: demandPlan(recorder.records(), { fromMs: from, toMs: from + 60_000 }),
      fromMs: from,
      toMs: from + 60_000,
      instances: 4,
      seed: 1,
    };
    const told: number[] = [];
    await threadRunner(2)([job, job], (i, t) => {
      if (i === 0 && t >= burstAt && t < burstAt + 1_000) told.push(t);
    });
    // At least every 256 instants (and every 50 ms of work).
    expect(told.length).toBeGreaterThanOrEqual(3);
  }, 120_000);

  it('fail with the error a run fails with in its thread', async () => {
    const job: PolicyRunJob = {
      config: current,
      upstreams: current.providers,
      plan: demandPlan(demand(1), { fromMs: from, toMs: from + 60_000 }),
      fromMs: from,
      toMs: from + 60_000,
      instances: 2,
      seed: 1,
    };
    // A drain that is not a time: the simulated clock refuses it (RangeError) in the thread.
    const broken = { ...job, toMs: Number.NaN };
    const error = await threadRunner(2)([job, broken], () => {}).catch((e: unknown) => e);
    expect(error).toMatchObject({
      name: 'RangeError',
      message: expect.stringMatching(/not a time/),
    });
  }, 120_000);
});
