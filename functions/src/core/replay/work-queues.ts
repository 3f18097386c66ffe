import type { Category, Provider } from '../config';
import {
  MAX_CONCURRENT_DISPATCHES,
  MAX_DISPATCHES_PER_SECOND,
  queueBurst,
  queueRateFor,
} from '../queues/queue-rate';
import type { SimClock } from './sim-clock';
import type { SimOptions } from './sim-types';

/**
 * The providers' work queues in a fleet simulation, as Cloud Tasks runs one: a task (a work
 * item's first ask, or a deferred call coming back) waits until it is due, then for a token of
 * the queue's bucket (refilled at its dispatch rate, holding at most its burst); due tasks go
 * earliest first (ties in the order they came). So a call due in a busy second comes back later,
 * first asks and re-asks share the rate, and a queue idle for a while lets a burst through.
 */
export class WorkQueues {
  private readonly queues = new Map<string, TaskQueue | null>();

  constructor(
    private readonly clock: SimClock,
    private readonly providers: ReadonlyMap<string, Provider>,
    private readonly categories: readonly Category[],
    private readonly options: Pick<SimOptions, 'queueDispatchesPerSecond'>,
  ) {}

  /**
   * A call the queue dispatched now, ahead of the tasks waiting (a recorded first ask: its time
   * is when its queue dispatched it, and tasks that came due after it was enqueued waited behind
   * it): it takes a token, into debt if there is none, so they wait the longer; true. Down to
   * one burst of debt: past that (a proposed policy whose queue is slower than the recorded
   * one), false, and the call waits its turn like any task (add).
   */
  takeToken(providerId: string): boolean {
    return this.queueOf(providerId)?.take() ?? true;
  }

  /**
   * A first ask that could not take a token: it waits its turn, and until it has gone, later
   * first asks wait behind it too rather than overtake it (takeToken says no).
   */
  addFirstAsk(providerId: string, atMs: number, ask: () => void): void {
    const queue = this.queueOf(providerId);
    if (queue) queue.add(atMs, ask, true);
    else this.clock.at(atMs, ask);
  }

  /** A call's task, due at `atMs`: `ask` runs when its queue dispatches it. */
  add(providerId: string, atMs: number, ask: () => void): void {
    const queue = this.queueOf(providerId);
    if (queue) queue.add(atMs, ask);
    else this.clock.at(atMs, ask);
  }

  private queueOf(providerId: string): TaskQueue | null {
    let queue = this.queues.get(providerId);
    if (queue !== undefined) return queue;
    const provider = this.providers.get(providerId);
    const option = this.options.queueDispatchesPerSecond;
    let rate: number;
    if (typeof option === 'number') rate = option;
    else if (option && provider) rate = option(provider);
    else rate = provider ? defaultQueueRate(provider, this.categories) : Number.POSITIVE_INFINITY;
    if (!(rate > 0)) throw new RangeError(`work queue of ${providerId}: not a rate: ${rate}/s`);
    queue = Number.isFinite(rate) ? new TaskQueue(this.clock, rate, queueBurst(rate)) : null;
    this.queues.set(providerId, queue);
    return queue;
  }
}

interface Task {
  dueMs: number;
  seq: number;
  run: () => void;
}

/** One queue: a min-heap of waiting tasks (by due time, then order) and a token bucket. */
class TaskQueue {
  private readonly waiting: Task[] = [];
  private seq = 0;
  /** First asks that could not take a token and wait in the queue (see take). */
  private firstAsksWaiting = 0;
  private tokens: number;
  private refilledAtMs: number;
  /** When the next pump is set for, if one is. */
  private wakeAtMs: number | undefined;

  constructor(
    private readonly clock: SimClock,
    private readonly rate: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
    this.refilledAtMs = clock.t;
  }

  add(dueMs: number, run: () => void, firstAsk = false): void {
    if (firstAsk) {
      this.firstAsksWaiting++;
      const ask = run;
      run = () => {
        this.firstAsksWaiting--;
        ask();
      };
    }
    this.push({ dueMs, seq: this.seq++, run });
    this.pump();
  }

  take(): boolean {
    this.refill();
    if (this.firstAsksWaiting > 0 || this.tokens - 1 < -this.burst) return false;
    this.tokens -= 1;
    this.pump();
    return true;
  }

  private refill(): void {
    const now = this.clock.t;
    this.tokens = Math.min(
      this.burst,
      this.tokens + ((now - this.refilledAtMs) / 1000) * this.rate,
    );
    this.refilledAtMs = now;
  }

  /** Dispatches what may go now, then sets a pump for the next due task or token. */
  private pump(): void {
    const now = this.clock.t;
    this.refill();
    let next = this.waiting[0];
    // A token refilled to within float error of whole counts as whole (12.5/s: 0.08 per ms).
    while (next && next.dueMs <= now && this.tokens >= 1 - 1e-9) {
      this.tokens -= 1;
      this.pop();
      // Dispatched now, as a timer of this instant: not inside the caller's turn.
      this.clock.at(now, next.run);
      next = this.waiting[0];
    }
    if (!next) return;
    const wake =
      next.dueMs > now
        ? next.dueMs
        : now + Math.max(1, Math.ceil(((1 - this.tokens) / this.rate) * 1000 - 1e-6));
    if (this.wakeAtMs !== undefined && this.wakeAtMs > now && this.wakeAtMs <= wake) return;
    this.wakeAtMs = wake;
    this.clock.at(wake, () => {
      if (this.wakeAtMs === wake) this.wakeAtMs = undefined;
      this.pump();
    });
  }

  private push(task: Task): void {
    const h = this.waiting;
    h.push(task);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!earlier(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): void {
    const h = this.waiting;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && earlier(h[l]!, h[m]!)) m = l;
      if (r < h.length && earlier(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

function earlier(a: Task, b: Task): boolean {
  return a.dueMs < b.dueMs || (a.dueMs === b.dueMs && a.seq < b.seq);
}

/** A work queue's bounds where nothing else sets them: Cloud Tasks' own limits. */
const DEPLOYED = {
  maxDispatchesPerSecond: MAX_DISPATCHES_PER_SECOND,
  maxConcurrentDispatches: MAX_CONCURRENT_DISPATCHES,
};

/**
 * A provider's work queue rate for calls of cost 1 in every category (queue-rate.ts), where
 * the work its collections do is not known; the 500/s of Cloud Tasks where no limit bounds
 * every call (production falls back to the queue's deploy-time rate).
 */
export function defaultQueueRate(provider: Provider, categories: readonly Category[]): number {
  return queueRateFor(provider, categories, [{ work: 'a call of cost 1', cost: 1 }], DEPLOYED)
    .maxDispatchesPerSecond;
}
