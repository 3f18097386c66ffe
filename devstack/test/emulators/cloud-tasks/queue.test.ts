import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LocalQueue } from '../../../src/emulators/cloud-tasks/queue.ts';
import {
  backoffMs,
  burstFor,
  DEFAULT_RETRY,
} from '../../../src/emulators/cloud-tasks/queue-rules.ts';
import type {
  DispatchResult,
  QueueConfig,
  QueuedTask,
} from '../../../src/emulators/cloud-tasks/queue-types.ts';

const T0 = Date.UTC(2026, 11, 6, 12);

function config(overrides: Partial<QueueConfig['rateLimits']> = {}, retry = {}): QueueConfig {
  const rate = overrides.maxDispatchesPerSecond ?? 5;
  return {
    name: 'projects/p/locations/l/queues/keepaWork',
    defaultUri: 'http://127.0.0.1:1/p/l/keepaWork',
    rateLimits: {
      maxDispatchesPerSecond: rate,
      maxBurstSize: burstFor(rate),
      maxConcurrentDispatches: 100,
      ...overrides,
    },
    retryConfig: { ...DEFAULT_RETRY, maxAttempts: 5, minBackoffSeconds: 1, ...retry },
  };
}

interface Dispatch {
  task: QueuedTask;
  headers: Record<string, string>;
  atMs: number;
  finish: (result: DispatchResult) => void;
}

/** A dispatcher whose calls stay in flight until the test finishes them (or at once). */
function recorder(answer?: (task: QueuedTask) => DispatchResult) {
  const calls: Dispatch[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const dispatch = (task: QueuedTask, headers: Record<string, string>) =>
    new Promise<DispatchResult>((resolve) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const finish = (result: DispatchResult) => {
        inFlight -= 1;
        resolve(result);
      };
      calls.push({ task, headers: { ...headers }, atMs: Date.now(), finish });
      if (answer) finish(answer(task));
    });
  return { calls, dispatch, maxInFlight: () => maxInFlight };
}

describe('the local Cloud Tasks queue', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('dispatches nothing while paused, and everything waiting once resumed', async () => {
    const { calls, dispatch } = recorder(() => ({ status: 204 }));
    const queue = new LocalQueue(config({ maxDispatchesPerSecond: 100 }), dispatch);
    queue.pause();
    for (let i = 0; i < 10; i++) queue.add({ body: `{"n":${i}}` });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toHaveLength(0);
    expect(queue.stats()).toMatchObject({ tasksCount: 10, effectiveExecutionRate: 0 });
    queue.resume();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toHaveLength(10);
    expect(queue.stats()).toMatchObject({ tasksCount: 0, executedLastMinuteCount: 10 });
    queue.stop();
  });

  it('holds a task until its schedule time', async () => {
    const { calls, dispatch } = recorder(() => ({ status: 204 }));
    const queue = new LocalQueue(config(), dispatch);
    queue.add({ body: '{}', scheduleTimeMs: T0 + 30_000 });
    await vi.advanceTimersByTimeAsync(29_999);
    expect(calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.headers['X-CloudTasks-TaskETA']).toBe(String((T0 + 30_000) / 1000));
    queue.stop();
  });

  it('dispatches at its rate, and at a new rate once it is changed', async () => {
    const { calls, dispatch } = recorder(() => ({ status: 204 }));
    const queue = new LocalQueue(config({ maxDispatchesPerSecond: 2 }), dispatch);
    for (let i = 0; i < 200; i++) queue.add({ body: '{}' });
    await vi.advanceTimersByTimeAsync(10_000);
    // A burst of 2, then 2 per second.
    expect(calls.length).toBeGreaterThanOrEqual(20);
    expect(calls.length).toBeLessThanOrEqual(22);
    const before = calls.length;
    queue.updateRateLimits({ maxDispatchesPerSecond: 10 });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls.length - before).toBeGreaterThanOrEqual(99);
    expect(calls.length - before).toBeLessThanOrEqual(110);
    queue.stop();
  });

  it('never has more dispatches in flight than maxConcurrentDispatches, also after a change', async () => {
    const { calls, dispatch, maxInFlight } = recorder();
    const queue = new LocalQueue(
      config({ maxDispatchesPerSecond: 500, maxConcurrentDispatches: 3 }),
      dispatch,
    );
    for (let i = 0; i < 20; i++) queue.add({ body: '{}' });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toHaveLength(3);
    expect(queue.stats().concurrentDispatchesCount).toBe(3);
    calls[0]!.finish({ status: 204 });
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toHaveLength(4);
    queue.updateRateLimits({ maxConcurrentDispatches: 6 });
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toHaveLength(7);
    expect(maxInFlight()).toBe(6);
    queue.stop();
  });

  it("retries a failed attempt with the queue's backoff, and gives up after maxAttempts", async () => {
    const dropped: string[] = [];
    const { calls, dispatch } = recorder(() => ({ status: 503 }));
    const queue = new LocalQueue(
      config({}, { maxAttempts: 3, minBackoffSeconds: 10, maxBackoffSeconds: 15 }),
      dispatch,
      undefined,
      (task, reason) => dropped.push(`${task.name}: ${reason}`),
    );
    queue.add({ name: 'projects/p/locations/l/queues/keepaWork/tasks/t1', body: '{}' });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls.map((c) => c.atMs - T0)).toEqual([0, 10_000, 25_000]);
    expect(calls.map((c) => c.headers['X-CloudTasks-TaskRetryCount'])).toEqual(['0', '1', '2']);
    expect(calls[1]!.headers['X-CloudTasks-TaskPreviousResponse']).toBe('503');
    expect(dropped).toEqual([
      'projects/p/locations/l/queues/keepaWork/tasks/t1: gave up after 3 attempts (last: 503)',
    ]);
    expect(queue.stats().tasksCount).toBe(0);
    queue.stop();
  });

  it('refuses a name it has seen, also after a purge, and a purge counts what it dropped', async () => {
    const { calls, dispatch } = recorder(() => ({ status: 204 }));
    const queue = new LocalQueue(config(), dispatch);
    queue.pause();
    const name = 'projects/p/locations/l/queues/keepaWork/tasks/same';
    expect(queue.add({ name, body: '{}' })).toBeDefined();
    expect(queue.add({ name, body: '{}' })).toBeUndefined();
    queue.add({ body: '{}' });
    expect(queue.purge()).toBe(2);
    expect(queue.add({ name, body: '{}' })).toBeUndefined();
    queue.resume();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls).toHaveLength(0);
    queue.stop();
  });

  it('backoff doubles maxDoublings times, then grows linearly, up to maxBackoff', () => {
    const retry = {
      ...DEFAULT_RETRY,
      minBackoffSeconds: 1,
      maxBackoffSeconds: 100,
      maxDoublings: 3,
    };
    expect([1, 2, 3, 4, 5, 6, 20].map((n) => backoffMs(retry, n) / 1000)).toEqual([
      1, 2, 4, 8, 16, 24, 100,
    ]);
  });

  /**
   * The adversary: any interleaving of adds (some scheduled ahead), pauses, resumes, rate and
   * concurrency changes, purges, finishing dispatches and time passing. Whatever it does, no
   * dispatch happens while paused, of a purged task, before its task is due, beyond the token
   * bucket the rates in force allow, or beyond the concurrency in force; and once left running
   * every task that was not purged is dispatched.
   */
  it('holds its limits under any interleaving of changes (property)', async () => {
    type Step =
      | { op: 'add'; aheadMs: number }
      | { op: 'pause' | 'resume' | 'purge' | 'finish' }
      | { op: 'rate'; perSecond: number }
      | { op: 'concurrency'; max: number }
      | { op: 'wait'; ms: number };
    const step: fc.Arbitrary<Step> = fc.oneof(
      {
        weight: 5,
        arbitrary: fc.record({
          op: fc.constant('add' as const),
          aheadMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5_000 })),
        }),
      },
      fc.record({
        op: fc.constantFrom(
          'pause' as const,
          'resume' as const,
          'purge' as const,
          'finish' as const,
        ),
      }),
      fc.record({
        op: fc.constant('rate' as const),
        perSecond: fc.constantFrom(0.5, 1, 3, 10, 50),
      }),
      fc.record({ op: fc.constant('concurrency' as const), max: fc.integer({ min: 1, max: 5 }) }),
      {
        weight: 3,
        arbitrary: fc.record({
          op: fc.constant('wait' as const),
          ms: fc.integer({ min: 1, max: 3_000 }),
        }),
      },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 60 }), async (steps) => {
        vi.setSystemTime(T0);
        const { calls, dispatch } = recorder();
        const queue = new LocalQueue(
          config({ maxDispatchesPerSecond: 3, maxConcurrentDispatches: 2 }),
          dispatch,
        );
        // The model: state, limits in force and a token bucket fed by the rates in force.
        let paused = false;
        let rate = 3;
        let burst = burstFor(3);
        let concurrency = 2;
        let tokens = burst;
        let lastMs = T0;
        const due = new Map<string, number>();
        const purged = new Set<string>();
        let seen = 0;
        let inFlight = 0;
        const refillTo = (ms: number) => {
          tokens = Math.min(burst, tokens + ((ms - lastMs) / 1000) * rate);
          lastMs = ms;
        };
        // Replays the dispatches since the last look in time order against the model.
        const observe = () => {
          for (const call of calls.slice(seen)) {
            refillTo(call.atMs);
            expect(paused).toBe(false);
            expect(purged.has(call.task.name)).toBe(false);
            expect(call.atMs).toBeGreaterThanOrEqual(due.get(call.task.name)!);
            tokens -= 1;
            expect(tokens).toBeGreaterThan(-1e-6);
            inFlight += 1;
            expect(inFlight).toBeLessThanOrEqual(concurrency);
          }
          seen = calls.length;
          refillTo(Date.now());
        };
        const open = () => calls.filter((c) => !(c as { done?: boolean }).done);
        for (const s of steps) {
          observe();
          switch (s.op) {
            case 'add': {
              const task = queue.add({ body: '{}', scheduleTimeMs: Date.now() + s.aheadMs });
              due.set(task!.name, Date.now() + s.aheadMs);
              break;
            }
            case 'pause':
              paused = true;
              queue.pause();
              break;
            case 'resume':
              paused = false;
              queue.resume();
              break;
            case 'purge':
              for (const t of queue.tasks()) purged.add(t.name);
              queue.purge();
              break;
            case 'finish': {
              const call = open()[0];
              if (call) {
                (call as { done?: boolean }).done = true;
                inFlight -= 1;
                call.finish({ status: 204 });
              }
              break;
            }
            case 'rate':
              refillTo(Date.now());
              rate = s.perSecond;
              burst = burstFor(s.perSecond);
              tokens = Math.min(tokens, burst);
              queue.updateRateLimits({ maxDispatchesPerSecond: s.perSecond });
              break;
            case 'concurrency':
              // Dispatches in flight above a lowered limit go on; no new one starts meanwhile.
              concurrency = s.max;
              queue.updateRateLimits({ maxConcurrentDispatches: s.max });
              break;
            case 'wait':
              await vi.advanceTimersByTimeAsync(s.ms);
              break;
          }
          await vi.advanceTimersByTimeAsync(0);
          observe();
        }
        // Liveness: running, with every dispatch answered, all that was not purged is dispatched.
        paused = false;
        queue.resume();
        concurrency = Number.POSITIVE_INFINITY;
        queue.updateRateLimits({ maxConcurrentDispatches: 1000 });
        for (let round = 0; round < 200 && queue.tasks().length + open().length > 0; round++) {
          for (const call of open()) {
            (call as { done?: boolean }).done = true;
            inFlight -= 1;
            call.finish({ status: 204 });
          }
          await vi.advanceTimersByTimeAsync(1_000);
          observe();
        }
        const dispatched = new Set(calls.map((c) => c.task.name));
        for (const name of due.keys()) {
          expect(dispatched.has(name) || purged.has(name)).toBe(true);
        }
        queue.stop();
      }),
      { numRuns: 150 },
    );
  });
});
