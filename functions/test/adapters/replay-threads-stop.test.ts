import { describe, expect, it, vi } from 'vitest';
import { threadRunner } from '../../src/adapters/operations/replay-threads';
import { demandPlan, type PolicyRunJob } from '../../src/core/replay';
import { keepaConfig, REPLAY_FROM, steadyDemand } from '../core/replay/support';

/**
 * A progress callback that throws stops both threads and is never told again, even when it is
 * slow and the threads' messages queue up behind it (a busy host, a progress bar); every thread
 * the runner started has exited. (A hostile review found ~20 more calls before the fix.)
 */

// Every Worker the runner starts, to tell whether any outlives the replay (vi.mock is hoisted).
const started: Array<{ threadId: number; exited: boolean }> = [];
vi.mock('node:worker_threads', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:worker_threads')>();
  class TrackedWorker extends real.Worker {
    constructor(...args: ConstructorParameters<typeof real.Worker>) {
      super(...args);
      const entry = { threadId: this.threadId, exited: false };
      started.push(entry);
      this.on('exit', () => {
        entry.exited = true;
      });
    }
  }
  return { ...real, Worker: TrackedWorker, default: { ...real, Worker: TrackedWorker } };
});

const from = REPLAY_FROM;
const current = keepaConfig({ deals: 70, history: 30 });

/** 15 calls/s for deals and history each: more than the bucket's 20/s, so deferrals too. */
const demand = (minutes: number) => steadyDemand({ deals: 15, history: 15 }, minutes);
const job = (minutes: number): PolicyRunJob => ({
  config: current,
  upstreams: current.providers,
  plan: demandPlan(demand(minutes), { fromMs: from, toMs: from + minutes * 60_000 }),
  fromMs: from,
  toMs: from + minutes * 60_000,
  instances: 2,
  seed: 1,
});
const allExited = async () => {
  for (let i = 0; i < 100 && started.some((w) => !w.exited); i++)
    await new Promise((r) => setTimeout(r, 20));
  return started.filter((w) => !w.exited).length;
};

describe('replay threads, stop', () => {
  it('no progress is told after a progress callback threw (slow callback, messages queued)', async () => {
    let calls = 0;
    let stopped = false;
    let after = 0;
    let settled = false;
    let afterSettled = 0;
    const error = await threadRunner(2)([job(20), job(20)], () => {
      if (stopped) after++;
      if (settled) afterSettled++;
      const until = Date.now() + 15;
      while (Date.now() < until); // a slow callback (a progress bar, a busy host)
      if (++calls === 10) {
        stopped = true;
        throw new Error('out of time');
      }
    }).catch((e: unknown) => e);
    settled = true;
    await new Promise((r) => setTimeout(r, 300));
    expect(error).toMatchObject({ message: 'out of time' });
    expect({ after, afterSettled }).toEqual({ after: 0, afterSettled: 0 });
    expect(started.length).toBe(2);
    expect(await allExited()).toBe(0);
  }, 60_000);
});
