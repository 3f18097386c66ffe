import {
  backoffMs,
  burstFor,
  DEFAULT_DISPATCH_DEADLINE_SECONDS,
  NAME_REUSE_MS,
} from './queue-rules.ts';
import type {
  Clock,
  Dispatcher,
  DispatchResult,
  NewTask,
  QueueConfig,
  QueuedTask,
  QueueState,
  QueueStats,
  QueueTotals,
  RateLimits,
} from './queue-types.ts';

/**
 * One Cloud Tasks queue of the local stack, as Cloud Tasks runs it: tasks wait for their
 * schedule time, a token bucket of `maxDispatchesPerSecond` (burst `maxBurstSize`) and at most
 * `maxConcurrentDispatches` in flight govern dispatch, a failed attempt is retried with the
 * queue's backoff, a paused queue dispatches nothing (tasks can still be added), and a purge
 * drops every waiting task. Names are deduplicated for the life of the queue.
 */

export class LocalQueue {
  state: QueueState = 'RUNNING';
  purgeTimeMs?: number;
  readonly totals: QueueTotals = { added: 0, dispatches: 0, delivered: 0, dropped: 0, purged: 0 };
  /** Waiting tasks by name, and the same tasks latest-due first (the next due is last). */
  private readonly waiting = new Map<string, QueuedTask>();
  private readonly order: QueuedTask[] = [];
  private readonly running = new Map<string, QueuedTask>();
  /** Names taken: until when (undefined while the task exists). */
  private readonly names = new Map<string, number | undefined>();
  private readonly purgeEpochs = new WeakMap<QueuedTask, number>();
  private readonly deleted = new WeakSet<QueuedTask>();
  private purges = 0;
  private tokens: number;
  private refilledAtMs: number;
  private readonly executed: number[] = [];
  private timer?: NodeJS.Timeout;
  private sequence = 0;
  private stopped = false;

  constructor(
    public config: QueueConfig,
    private readonly dispatch: Dispatcher,
    private readonly clock: Clock = { now: () => Date.now() },
    private readonly onDrop: (task: QueuedTask, reason: string) => void = () => undefined,
  ) {
    this.tokens = config.rateLimits.maxBurstSize;
    this.refilledAtMs = clock.now();
  }

  get id(): string {
    return this.config.name.split('/').pop()!;
  }

  /** Returns undefined when the name is taken (Cloud Tasks: ALREADY_EXISTS). */
  add(task: NewTask): QueuedTask | undefined {
    const now = this.clock.now();
    const name = task.name || `${this.config.name}/tasks/${now}${++this.sequence}`;
    if (this.names.has(name)) {
      const freeAt = this.names.get(name);
      if (freeAt === undefined || now < freeAt) return undefined;
    }
    this.names.set(name, undefined);
    const queued: QueuedTask = {
      name,
      url: task.url || this.config.defaultUri,
      body: task.body,
      headers: task.headers ?? {},
      createTimeMs: now,
      etaMs: task.scheduleTimeMs ?? now,
      dueMs: Math.max(task.scheduleTimeMs ?? now, now),
      dispatchDeadlineSeconds: task.dispatchDeadlineSeconds ?? DEFAULT_DISPATCH_DEADLINE_SECONDS,
      dispatchCount: 0,
      responseCount: 0,
    };
    this.purgeEpochs.set(queued, this.purges);
    this.wait(queued);
    this.totals.added += 1;
    this.pump();
    return queued;
  }

  /**
   * Deletes a task; false when there is none of that name. One being dispatched is not
   * retried, whatever its answer (as Cloud Tasks).
   */
  delete(name: string): boolean {
    const running = this.running.get(name);
    if (running) {
      this.deleted.add(running);
      return true;
    }
    const task = this.waiting.get(name);
    if (!task) return false;
    this.waiting.delete(name);
    this.release(name);
    this.pump();
    return true;
  }

  tasks(): QueuedTask[] {
    return [...this.waiting.values()];
  }

  pause(): void {
    this.state = 'PAUSED';
    this.pump();
  }

  resume(): void {
    this.state = 'RUNNING';
    this.pump();
  }

  /** Drops every waiting task (dispatches in flight finish, unretried); returns how many. */
  purge(): number {
    const dropped = this.waiting.size;
    for (const name of this.waiting.keys()) this.release(name);
    this.waiting.clear();
    this.order.length = 0;
    this.purges += 1;
    this.totals.purged += dropped;
    this.purgeTimeMs = this.clock.now();
    this.pump();
    return dropped;
  }

  updateRateLimits(limits: Partial<RateLimits>): void {
    this.refill();
    const next = { ...this.config.rateLimits, ...limits };
    if (limits.maxDispatchesPerSecond !== undefined && limits.maxBurstSize === undefined) {
      next.maxBurstSize = burstFor(limits.maxDispatchesPerSecond);
    }
    this.config = { ...this.config, rateLimits: next };
    this.tokens = Math.min(this.tokens, next.maxBurstSize);
    this.pump();
  }

  stats(): QueueStats {
    const now = this.clock.now();
    this.forgetBefore(now - 60_000);
    // Cloud Tasks: "an estimation of the nearest time in the future where a task in the queue
    // is scheduled to be executed" (in the past when a task is overdue).
    const next = this.peek();
    return {
      // Cloud Tasks counts tasks being dispatched too: they are in the queue until answered.
      tasksCount: this.waiting.size + this.running.size,
      oldestEstimatedArrivalTimeMs: next?.dueMs,
      executedLastMinuteCount: this.executed.length,
      concurrentDispatchesCount: this.running.size,
      effectiveExecutionRate:
        this.state === 'PAUSED' ? 0 : this.config.rateLimits.maxDispatchesPerSecond,
    };
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Dispatches what may go now, then sleeps until the next task is due or a token refills. */
  private pump(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.stopped || this.state === 'PAUSED') return;
    this.refill();
    const now = this.clock.now();
    const { maxConcurrentDispatches, maxDispatchesPerSecond } = this.config.rateLimits;
    let wakeMs: number | undefined;
    while (this.running.size < maxConcurrentDispatches) {
      const task = this.peek();
      if (!task) break;
      if (task.dueMs > now) {
        wakeMs = task.dueMs;
        break;
      }
      if (this.tokens < 1) {
        wakeMs = now + Math.ceil(((1 - this.tokens) / maxDispatchesPerSecond) * 1000);
        break;
      }
      this.tokens -= 1;
      this.order.pop();
      this.waiting.delete(task.name);
      this.run(task);
    }
    // At the concurrency limit, a finishing dispatch pumps again.
    if (wakeMs !== undefined) {
      // setTimeout takes at most 2^31-1 ms; a longer wait re-arms.
      const delay = Math.min(Math.max(wakeMs - now, 0), 2 ** 31 - 1);
      this.timer = setTimeout(() => this.pump(), delay);
    }
  }

  /**
   * The next task due, dropping entries of tasks deleted since (a task has one entry at a time:
   * wait() adds it, dispatch pops it, a purge clears them all).
   */
  private peek(): QueuedTask | undefined {
    while (this.order.length > 0) {
      const task = this.order[this.order.length - 1]!;
      if (this.waiting.get(task.name) === task) return task;
      this.order.pop();
    }
    return undefined;
  }

  /** Into the waiting set, and by binary search into the due order (latest first). */
  private wait(task: QueuedTask): void {
    this.waiting.set(task.name, task);
    let low = 0;
    let high = this.order.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      // Latest due first; among equals, the earlier added stays nearer the end (FIFO).
      if (this.order[mid]!.dueMs > task.dueMs) low = mid + 1;
      else high = mid;
    }
    this.order.splice(low, 0, task);
  }

  private release(name: string): void {
    this.names.set(name, this.clock.now() + NAME_REUSE_MS);
  }

  private refill(): void {
    const now = this.clock.now();
    const { maxDispatchesPerSecond, maxBurstSize } = this.config.rateLimits;
    // A clock stepped back refills nothing (and takes nothing back).
    const elapsedMs = Math.max(0, now - this.refilledAtMs);
    this.tokens = Math.min(maxBurstSize, this.tokens + (elapsedMs / 1000) * maxDispatchesPerSecond);
    this.refilledAtMs = now;
  }

  private run(task: QueuedTask): void {
    this.running.set(task.name, task);
    const now = this.clock.now();
    task.firstAttemptMs ??= now;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      // One spelling per header: fetch would join Content-Type and content-type into a list.
      ...Object.fromEntries(Object.entries(task.headers).map(([k, v]) => [k.toLowerCase(), v])),
      'X-CloudTasks-QueueName': this.id,
      'X-CloudTasks-TaskName': task.name.split('/').pop()!,
      'X-CloudTasks-TaskRetryCount': String(task.dispatchCount),
      'X-CloudTasks-TaskExecutionCount': String(task.responseCount),
      'X-CloudTasks-TaskETA': String(task.etaMs / 1000),
    };
    if (task.lastStatus !== undefined) {
      headers['X-CloudTasks-TaskPreviousResponse'] = String(task.lastStatus);
    }
    task.dispatchCount += 1;
    this.totals.dispatches += 1;
    this.dispatch(task, headers)
      .catch(() => ({ status: undefined }) as DispatchResult)
      .then((result) => this.finish(task, result))
      .finally(() => {
        this.running.delete(task.name);
        this.pump();
      });
  }

  private finish(task: QueuedTask, { status }: DispatchResult): void {
    const now = this.clock.now();
    this.executed.push(now);
    this.forgetBefore(now - 60_000);
    if (status !== undefined) task.responseCount += 1;
    if (status !== undefined && status >= 200 && status < 300) {
      this.totals.delivered += 1;
      this.release(task.name);
      return;
    }
    task.lastStatus = status;
    const { maxAttempts, maxRetrySeconds } = this.config.retryConfig;
    // Cloud Tasks gives up once both limits are reached; -1 attempts and 0 s are unlimited.
    const outOfAttempts = maxAttempts >= 0 && task.dispatchCount >= maxAttempts;
    const outOfTime = maxRetrySeconds <= 0 || now - task.firstAttemptMs! >= maxRetrySeconds * 1000;
    let dropped: string | undefined;
    if (outOfAttempts && outOfTime) {
      dropped = `gave up after ${task.dispatchCount} attempts (last: ${status ?? 'no response'})`;
    } else if (this.deleted.has(task)) {
      dropped = 'deleted while in flight';
    } else if ((this.purgeEpochs.get(task) ?? 0) < this.purges) {
      dropped = 'purged while in flight';
    }
    if (dropped) {
      this.totals.dropped += 1;
      this.release(task.name);
      this.onDrop(task, dropped);
      return;
    }
    task.dueMs = now + backoffMs(this.config.retryConfig, task.dispatchCount);
    this.wait(task);
  }

  private forgetBefore(ms: number): void {
    let drop = 0;
    while (drop < this.executed.length && this.executed[drop]! < ms) drop += 1;
    if (drop > 0) this.executed.splice(0, drop);
  }
}
