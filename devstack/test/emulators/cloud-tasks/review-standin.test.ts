import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LocalQueue } from '../../../src/emulators/cloud-tasks/queue.ts';
import { burstFor, DEFAULT_RETRY } from '../../../src/emulators/cloud-tasks/queue-rules.ts';
import type {
  Clock,
  DispatchResult,
  QueueConfig,
  QueuedTask,
} from '../../../src/emulators/cloud-tasks/queue-types.ts';
import { LocalCloudTasks, serveCloudTasks } from '../../../src/emulators/cloud-tasks/server.ts';

/**
 * Review attacks on the local stack's Cloud Tasks stand-in: where it behaves differently from
 * production Cloud Tasks (REST v2beta3) so that a local test passes and production fails, or
 * where it misbehaves on its own. Each failing test says what production does.
 */

const T0 = Date.UTC(2026, 11, 6, 12);
const Q = 'projects/p/locations/l/queues/keepaWork';

function config(rate = 5, concurrency = 100, retry = {}): QueueConfig {
  return {
    name: Q,
    defaultUri: 'http://127.0.0.1:1/p/l/keepaWork',
    rateLimits: {
      maxDispatchesPerSecond: rate,
      maxBurstSize: burstFor(rate),
      maxConcurrentDispatches: concurrency,
    },
    retryConfig: { ...DEFAULT_RETRY, maxAttempts: 5, minBackoffSeconds: 1, ...retry },
  };
}

interface Call {
  task: QueuedTask;
  finish: (r: DispatchResult) => void;
}

/** Dispatches stay in flight until finished by the test, unless `answer` answers at once. */
function recorder(answer?: (task: QueuedTask, n: number) => DispatchResult | undefined) {
  const calls: Call[] = [];
  const dispatch = (task: QueuedTask) =>
    new Promise<DispatchResult>((resolve) => {
      calls.push({ task, finish: resolve });
      const a = answer?.(task, calls.length);
      if (a) resolve(a);
    });
  return { calls, dispatch };
}

describe('review: the stand-in queue against Cloud Tasks semantics', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /**
   * Cloud Tasks: "All tasks created before this method is called are permanently deleted."
   * A task added after the purge call survives it and is retried like any other. The stand-in
   * compares millisecond timestamps (createTimeMs <= purgeTimeMs), so a task added in the same
   * millisecond as the purge (always, under a frozen test clock; often, with a fast caller)
   * is dropped as "purged while in flight" on its first failed attempt.
   */
  it('a task added after a purge, in the same millisecond, is retried after a failure', async () => {
    const dropped: string[] = [];
    const { calls, dispatch } = recorder((_t, n) => ({ status: n === 1 ? 500 : 204 }));
    const queue = new LocalQueue(config(), dispatch, undefined, (t, why) =>
      dropped.push(`${t.name}: ${why}`),
    );
    queue.purge();
    queue.add({ name: `${Q}/tasks/after-purge`, body: '{}' });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(dropped).toEqual([]);
    expect(calls).toHaveLength(2);
    expect(queue.totals.delivered).toBe(1);
    queue.stop();
  });

  /**
   * Cloud Tasks' QueueStats.tasks_count: "the tasks in the queue that haven't been executed,
   * the tasks in the queue which the queue has dispatched but has not yet received a reply
   * for, and the failed tasks that the queue is retrying". The stand-in counts only waiting
   * tasks, so health's depth and purgeProviderQueues' "dropped" count (read from stats just
   * before the purge) are lower locally than in production whenever dispatches are in flight.
   */
  it('tasks_count includes tasks dispatched and awaiting their reply', async () => {
    const { calls, dispatch } = recorder();
    const queue = new LocalQueue(config(100, 2), dispatch);
    for (let i = 0; i < 5; i++) queue.add({ body: '{}' });
    await vi.advanceTimersByTimeAsync(10);
    expect(calls).toHaveLength(2);
    expect(queue.stats()).toMatchObject({ tasksCount: 5, concurrentDispatchesCount: 2 });
    queue.stop();
  });

  /**
   * Cloud Tasks: DeleteTask "A task can be deleted if it is scheduled or dispatched." Deleting
   * a task that is being dispatched succeeds, and a failed attempt is not retried. The
   * stand-in answers 404 (firebase-admin's delete() swallows 404 and reports success) and then
   * retries the task after its attempt fails: work production would not run again runs locally.
   */
  it('deleting a task whose dispatch is in flight deletes it: no retry after the attempt fails', async () => {
    const { calls, dispatch } = recorder();
    const queue = new LocalQueue(config(), dispatch);
    const name = `${Q}/tasks/in-flight`;
    queue.add({ name, body: '{}' });
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toHaveLength(1);
    expect(queue.delete(name)).toBe(true);
    calls[0]!.finish({ status: 503 });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toHaveLength(1);
    queue.stop();
  });

  /**
   * Cloud Tasks (queues created through the API, as firebase deploy creates them): "another
   * task with the same name can't be created for ~1 hour after the original task was deleted
   * or executed". The stand-in keeps every name taken for the life of the stack, so a local
   * test of "enqueueing the same work item id twice runs it once" passes even hours apart,
   * where production would run it twice.
   */
  it('a task name is free again well after the original was executed', async () => {
    const { calls, dispatch } = recorder(() => ({ status: 204 }));
    const queue = new LocalQueue(config(), dispatch);
    const name = `${Q}/tasks/same-id`;
    queue.add({ name, body: '{}' });
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(3 * 3_600_000);
    expect(queue.add({ name, body: '{}' })).toBeDefined();
    queue.stop();
  });

  /**
   * The stand-in's token bucket runs on its clock; a clock stepped backwards (an NTP step, a
   * test clock moved back) refills negatively, and a full bucket is suddenly deep in deficit:
   * the queue dispatches nothing until the clock has caught up with the step. Production's
   * bucket is not on the caller's clock. Refill should ignore negative elapsed time.
   */
  it('a clock stepped back does not stall a queue whose bucket was full', async () => {
    const clock = { t: T0 };
    const c: Clock = { now: () => clock.t };
    const { calls, dispatch } = recorder(() => ({ status: 204 }));
    const queue = new LocalQueue(config(1, 10), dispatch, c);
    clock.t = T0 + 120_000; // two idle minutes
    queue.updateRateLimits({ maxConcurrentDispatches: 5 }); // any call that refills
    clock.t = T0 + 60_000; // the clock steps back a minute
    queue.add({ body: '{}' });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toHaveLength(1);
    queue.stop();
  });

  /**
   * Every add() pumps, and every pump sorts the whole backlog (dueOrder) before it finds that
   * the bucket is empty: adding N tasks to a rate-limited queue is O(N^2 log N). Measured here:
   * 5k adds 0.25 s, 10k 0.9 s, 20k 4.4 s (100k: minutes of a pegged CPU in the stack process,
   * which also serves every enqueue and the Firestore-facing tests' HTTP). A collection that
   * enqueues its work items in bulk, or a backlog test for health, stalls the local stack.
   * Fix: a min-heap on dueMs, and no scan at all while tokens < 1 or concurrency is full.
   */
  it('enqueueing a large backlog into a rate-limited queue stays fast', () => {
    vi.useRealTimers();
    const { dispatch } = recorder(() => ({ status: 204 }));
    const queue = new LocalQueue(config(1, 10), dispatch);
    const started = performance.now();
    for (let i = 0; i < 20_000; i++) queue.add({ body: '{}' });
    const ms = performance.now() - started;
    queue.stop();
    expect(ms).toBeLessThan(1_500);
  });

  // Held: a retry that falls due while paused waits, and goes once resumed.
  it('held: a retry due while paused waits for resume, then goes', async () => {
    const { calls, dispatch } = recorder((_t, n) => ({ status: n === 1 ? 500 : 204 }));
    const queue = new LocalQueue(config(), dispatch);
    queue.add({ body: '{}' });
    await vi.advanceTimersByTimeAsync(0);
    queue.pause();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toHaveLength(1);
    expect(queue.stats().tasksCount).toBe(1);
    queue.resume();
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toHaveLength(2);
    expect(queue.totals.delivered).toBe(1);
    queue.stop();
  });

  // Held: a purge racing an in-flight dispatch: success delivers, failure is not retried.
  it('held: a purge while a dispatch of an older task is in flight', async () => {
    const { calls, dispatch } = recorder();
    const queue = new LocalQueue(config(), dispatch);
    queue.add({ body: '{}' });
    queue.add({ body: '{}' });
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toHaveLength(2);
    vi.setSystemTime(T0 + 5); // the purge comes later than the adds
    expect(queue.purge()).toBe(0);
    calls[0]!.finish({ status: 204 });
    calls[1]!.finish({ status: 500 });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toHaveLength(2);
    expect(queue.totals).toMatchObject({ delivered: 1, dropped: 1 });
    queue.stop();
  });
});

describe('review: the stand-in HTTP API against hostile and out-of-range input', () => {
  let tasks: LocalCloudTasks;
  let base: string;
  let close: () => Promise<void>;
  const dispatched: QueuedTask[] = [];

  beforeEach(async () => {
    dispatched.length = 0;
    tasks = new LocalCloudTasks(
      'p',
      [
        {
          functionName: 'keepaWork',
          region: 'l',
          rateLimits: { maxDispatchesPerSecond: 10, maxBurstSize: 10, maxConcurrentDispatches: 10 },
          retryConfig: { ...DEFAULT_RETRY, maxAttempts: 5 },
        },
      ],
      () => 'http://127.0.0.1:1/p/l/keepaWork',
      {
        dispatch: async (task) => {
          dispatched.push(task);
          return { status: 204 };
        },
      },
    );
    const served = await serveCloudTasks(tasks, '127.0.0.1', 0);
    base = `http://127.0.0.1:${(served.server.address() as AddressInfo).port}`;
    close = () => new Promise((r) => served.server.close(() => r()));
  });
  afterEach(async () => {
    tasks.stop();
    await close();
  });

  const enqueue = (task: Record<string, unknown>) =>
    fetch(`${base}/${Q}/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        task: {
          httpRequest: { url: '', body: Buffer.from('{}').toString('base64'), headers: {} },
          ...task,
        },
      }),
    });

  /**
   * Cloud Tasks' system limit: "Maximum schedule time for a task: 30 days from current date
   * and time"; production answers INVALID_ARGUMENT (firebase-admin: functions/invalid-argument).
   * The gate's retryAt for an exhausted month window is the next month's start: deferred on
   * the 1st of a 31-day month that is more than 30 days ahead, and WorkRunner.defer enqueues
   * it unclamped. Locally the deferral is accepted; in production the enqueue throws, the
   * handler fails, and after maxAttempts the work item is lost.
   */
  it('refuses a schedule time more than 30 days ahead, as Cloud Tasks does', async () => {
    const at = new Date(Date.now() + 31 * 86_400_000).toISOString();
    const res = await enqueue({ scheduleTime: at });
    expect(res.status).toBe(400);
    expect((await res.json()).error.status).toBe('INVALID_ARGUMENT');
  });

  /**
   * Cloud Tasks' system limit: "Maximum task size: 1 MB". The stand-in accepts any size (and
   * buffers any request body whole, without a bound), so a payload that production refuses
   * passes every local test.
   */
  it('refuses a task over 1 MB, as Cloud Tasks does', async () => {
    const big = Buffer.alloc(1_100_000, 'x').toString('base64');
    const res = await enqueue({ httpRequest: { url: '', body: big, headers: {} } });
    expect(res.status).toBe(400);
    expect(tasks.queue(Q)!.totals.added).toBe(0);
  });

  /**
   * Cloud Tasks: a task's name must be `<queue>/tasks/<id>` of the queue it is created in, the
   * id [A-Za-z0-9_-]{1,500}; production answers INVALID_ARGUMENT. The stand-in files a task
   * named for another queue (or with any id) under this one.
   */
  it("refuses a task named for another queue, or with an id Cloud Tasks doesn't allow", async () => {
    const other = await enqueue({ name: 'projects/p/locations/l/queues/otherQueue/tasks/x' });
    expect(other.status).toBe(400);
    const weird = await enqueue({ name: `${Q}/tasks/../../x y` });
    expect(weird.status).toBe(400);
  });

  /**
   * Cloud Tasks, HTTP targets: dispatch_deadline must be in [15 s, 30 min]; production answers
   * INVALID_ARGUMENT. The stand-in takes 0 s (every attempt aborts at once and is retried) and
   * 100,000 s alike. firebase-admin checks this client side, raw REST callers do not.
   */
  it('refuses a dispatch deadline outside [15 s, 30 min]', async () => {
    expect((await enqueue({ dispatchDeadline: '0s' })).status).toBe(400);
    expect((await enqueue({ dispatchDeadline: '100000s' })).status).toBe(400);
  });

  /** A malformed percent-escape in the path is the client's error (400), not INTERNAL (500). */
  it('answers a malformed path escape with 400, not 500', async () => {
    const res = await fetch(`${base}/v2beta3/projects/p/locations/l/queues/%E0%A4%A`);
    expect(res.status).toBe(400);
  });

  // Held: hostile rate patches are refused and change nothing.
  it('held: refuses NaN, Infinity, negative, zero, non-numbers and out-of-range rates', async () => {
    const patch = (field: string, value: unknown) =>
      fetch(`${base}/v2beta3/${Q}?updateMask=rateLimits.${field}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: `{"rateLimits":{"${field}":${typeof value === 'string' ? value : JSON.stringify(value)}}}`,
      });
    for (const value of ['NaN', 'Infinity', '-1', '0', '"abc"', 'null', '501', '1e309']) {
      expect((await patch('maxDispatchesPerSecond', value)).status).toBe(400);
    }
    for (const value of ['1.5', '0', '5001', '-3', '"x"']) {
      expect((await patch('maxConcurrentDispatches', value)).status).toBe(400);
    }
    const bad = await fetch(`${base}/v2beta3/${Q}?updateMask=rateLimits.maxDispatchesPerSecond`, {
      method: 'PATCH',
      body: '{not json',
    });
    expect(bad.status).toBe(400);
    expect(tasks.queue(Q)!.config.rateLimits).toMatchObject({
      maxDispatchesPerSecond: 10,
      maxConcurrentDispatches: 10,
    });
  });

  // Held: path traversal and unknown names reach no queue.
  it('held: traversal in queue names and unknown queues are 404', async () => {
    for (const path of [
      `/v2beta3/projects/p/locations/l/queues/..%2F..%2FkeepaWork`,
      `/v2beta3/projects/p/locations/l/queues/keepaWork%2F..`,
      `/projects/p/locations/l/queues/keepaWork%2Ftasks%2Fx/tasks`,
      `/v2beta3/projects/p/locations/l/queues/nope`,
    ]) {
      const res = await fetch(`${base}${path}`, { method: 'POST' });
      expect([path, res.status]).toEqual([
        path,
        expect.toSatisfy((s: number) => s === 404 || s === 405),
      ]);
    }
    expect(tasks.queue(Q)!.state).toBe('RUNNING');
    // Malformed enqueue JSON is INVALID_ARGUMENT.
    const res = await fetch(`${base}/${Q}/tasks`, { method: 'POST', body: '{"task":' });
    expect(res.status).toBe(400);
  });
});
