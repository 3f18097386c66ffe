import { ConfigError } from '../config';
import { requestedUntil } from '../quota/cooldown';
import type { Decision } from '../quota/decision';
import { CostExceedsLimitError } from '../quota/errors';
import { DemandRecorder, NO_OPERATION } from '../storage/write-buffer/demand-stats';
import type { SimClock } from './sim-clock';
import { type InstanceState, SimFleet } from './sim-fleet';
import type { Arrival, ArrivalFeed, CategoryOutcome, SimOptions, SimResult } from './sim-types';
import { type CallAmounts, LimitUsage, UpstreamModel } from './upstream-model';
import { WorkQueues } from './work-queues';

/**
 * A simulated fleet running the real Gate (core/quota/gate.ts) under simulated time: every
 * instance has its own gate, its own 5 s view of the published allocation and 1 s view of the
 * cooldowns, claims blocks and pages with create-if-absent on a shared claim table, takes
 * concurrency slots, settles and releases; a deferred call comes back at its retry time on any
 * instance (its task re-enqueued); a 429 from the upstream model starts a cooldown that the
 * instance holds at once and the others see within their cache. Deterministic for a seed. Here:
 * the calls, their re-asks and tallies; the instances and what they share are a SimFleet it holds.
 */

interface Call extends Arrival {
  firstAskMs: number;
  attempts: number;
  /** The instance that asked last: a re-ask goes to the next one, as a queue dispatches. */
  instance: number;
}

interface CategoryTally {
  outcome: Omit<CategoryOutcome, 'waitMs'>;
  waits: number[];
}

const MAX_ATTEMPTS = 1_000;
const DRAIN_MS = 120_000;

export class FleetSimulator {
  /** The simulated instances, their clock and what they share. */
  private readonly fleet: SimFleet;
  readonly clock: SimClock;
  private readonly upstreams = new Map<string, UpstreamModel>();
  private readonly usage = new Map<string, LimitUsage>();
  private readonly tallies = new Map<string, CategoryTally>();
  readonly recorded = new DemandRecorder();
  private open = 0;
  private next = 0;
  /** Calls asked and neither granted for good nor refused yet (retry pending, or in the gate). */
  private readonly unresolved = new Set<Call>();
  private readonly queues: WorkQueues;

  constructor(private readonly options: SimOptions) {
    this.fleet = new SimFleet(options);
    this.clock = this.fleet.clock;
    this.queues = new WorkQueues(
      this.clock,
      this.fleet.providers,
      options.config.categories,
      options,
    );
    for (const p of options.upstreams ?? options.config.providers) {
      this.upstreams.set(p.id, new UpstreamModel(p));
      this.usage.set(p.id, new LimitUsage(this.fleet.providers.get(p.id) ?? p));
    }
  }

  /**
   * Runs the arrivals and returns what happened: a feed (made minute by minute as the clock
   * reaches it), or calls given at once (sorted by time or not; small runs and tests). Calls
   * outside the range, or at a time that is not a number, are not asked.
   */
  async run(arrivals: Iterable<Arrival> | ArrivalFeed): Promise<SimResult> {
    if ('streams' in arrivals) this.feed(arrivals, 0);
    else {
      for (const a of arrivals) {
        if (this.inRange(a)) this.clock.at(a.atMs, () => this.arrive(a));
      }
    }
    const end = this.options.toMs + (this.options.drainMs ?? DRAIN_MS);
    const progress = this.options.onProgress;
    await this.clock.runUntil(end, (t) => {
      this.fleet.pruneIfDue(t);
      progress?.(t);
    });
    // What neither went out nor was refused is still waiting: for its retry, or in the gate.
    for (const call of this.unresolved) this.tally(call).outcome.waitingAtEnd++;
    this.unresolved.clear();
    return this.result();
  }

  private inRange(a: Arrival): boolean {
    return a.atMs >= this.options.fromMs && a.atMs < this.options.toMs;
  }

  /** Opens minute `i`'s streams when the clock reaches it, and books minute i + 1. */
  private feed(feed: ArrivalFeed, i: number): void {
    const minuteMs = feed.minutes[i];
    if (minuteMs === undefined) return;
    if (!Number.isFinite(minuteMs) || minuteMs >= this.options.toMs) return;
    this.clock.at(minuteMs, () => {
      for (const stream of feed.streams(minuteMs)) this.pull(stream[Symbol.iterator]());
      this.feed(feed, i + 1);
    });
  }

  /** Schedules a stream's next call in the range (and, when it is asked, the one after). */
  private pull(stream: Iterator<Arrival>): void {
    for (;;) {
      const next = stream.next();
      if (next.done) return;
      const a = next.value;
      if (!this.inRange(a)) {
        if (a.atMs >= this.options.toMs) return;
        continue;
      }
      this.clock.at(a.atMs, () => {
        this.arrive(a);
        this.pull(stream);
      });
      return;
    }
  }

  private arrive(a: Arrival): void {
    const call: Call = { ...a, firstAskMs: a.atMs, attempts: 0, instance: this.next++ };
    this.tally(call).outcome.asked++;
    this.unresolved.add(call);
    // A work item's first ask comes through the provider's queue too, sharing its rate with the
    // re-asks: an arrival waits its turn in the queue; a recorded first ask was dispatched at its
    // time (the record has when the gate was asked), so it goes then and takes its token, unless
    // the queue is a burst in debt (slower than the one recorded): then it waits its turn too.
    const mode = this.options.firstAsks ?? 'queued';
    if (mode === 'unqueued' || (mode === 'dispatched' && this.queues.takeToken(call.provider))) {
      this.ask(call);
    } else if (mode === 'dispatched') {
      this.queues.addFirstAsk(call.provider, call.atMs, () => this.ask(call));
    } else this.queues.add(call.provider, call.atMs, () => this.ask(call));
  }

  private ask(call: Call): void {
    // Past the drain: the call stays unresolved and is counted as waiting at the end.
    if (this.clock.t >= this.options.toMs + (this.options.drainMs ?? DRAIN_MS)) return;
    call.attempts++;
    if (call.attempts > 1) call.instance++;
    const instance = this.fleet.instanceFor(call.instance);
    const askedAt = this.clock.t;
    this.options.meter?.dispatch(call.provider, askedAt);
    this.open++;
    instance.gate
      .acquire({
        provider: call.provider,
        category: call.category,
        ...(call.operation ? { operation: call.operation } : {}),
        cost: call.cost,
        bytes: call.bytes,
        requests: call.requests,
      })
      .then(
        (decision) => this.decided(instance, call, askedAt, decision),
        (error: unknown) => {
          const t = this.tally(call);
          if (error instanceof CostExceedsLimitError || error instanceof ConfigError) {
            t.outcome.refused++;
            this.unresolved.delete(call);
          } else throw error;
        },
      )
      .finally(() => this.open--);
  }

  private decided(instance: InstanceState, call: Call, askedAt: number, decision: Decision) {
    const t = this.tally(call);
    const now = this.clock.t;
    this.options.meter?.decision(
      instance.index,
      call.provider,
      call.category,
      call.operation ?? NO_OPERATION,
      now,
    );
    if (this.options.record !== false) this.recordDecision(call, askedAt, decision);
    if (decision.kind === 'retryAt') {
      // Deferrals are of the range, like utilization: those while it drains are not counted.
      if (askedAt < this.options.toMs) {
        t.outcome.deferrals++;
        t.outcome.deferralsByReason[decision.reason] =
          (t.outcome.deferralsByReason[decision.reason] ?? 0) + 1;
      }
      if (call.attempts >= MAX_ATTEMPTS) {
        t.outcome.refused++;
        this.unresolved.delete(call);
        return;
      }
      this.reask(call, Math.max(decision.atMs, now + 1));
      return;
    }
    const upstream = this.upstreams.get(call.provider);
    const amounts: CallAmounts = call;
    const answer = upstream ? upstream.call(now, amounts) : { ok: true };
    t.outcome.granted++;
    t.outcome.grantedCost += call.cost;
    t.waits.push(now - call.firstAskMs);
    if (!answer.ok) {
      // The upstream said 429: the instance holds a cooldown at once, writes it for the others,
      // and the call's task comes back after it.
      t.outcome.quota429++;
      const provider = this.fleet.providers.get(call.provider);
      const untilMs = requestedUntil(
        now,
        answer.retryAfterSeconds,
        provider?.cooldownSeconds ?? 1800,
        provider?.maxRetryAfterSeconds,
      );
      instance.held.set(call.provider, Math.max(instance.held.get(call.provider) ?? 0, untilMs));
      this.fleet.writeCooldown(call.provider, now, untilMs);
      decision.release();
      this.reask(call, untilMs);
      return;
    }
    this.unresolved.delete(call);
    if (now < this.options.toMs) {
      // Utilization is of the range: calls that go out while it drains are not counted.
      this.usage.get(call.provider)?.count(amounts);
      this.usage.get(call.provider)?.inFlight(upstream?.inFlight ?? 0);
    }
    this.clock.at(now + (this.options.callDurationMs ?? 200), () => {
      upstream?.end();
      void decision.settle({}).finally(() => decision.release());
    });
  }

  /** The decision as the production gate records demand (demand-stats.ts). */
  private recordDecision(call: Call, askedAt: number, decision: Decision) {
    this.recorded.record({
      provider: call.provider,
      category: call.category,
      operation: call.operation,
      at: askedAt,
      cost: call.cost,
      bytes: call.bytes,
      requests: call.requests,
      attempt: call.attempts - 1,
      outcome: decision.kind === 'granted' ? 'granted' : 'deferred',
      ...(decision.kind === 'granted'
        ? { waitedMs: decision.waitedMs }
        : { delayMs: decision.atMs - askedAt }),
    });
  }

  /** A deferred call's task comes back at `atMs`, or later if its queue is busy then. */
  private reask(call: Call, atMs: number) {
    this.queues.add(call.provider, atMs, () => this.ask(call));
  }

  private tally(call: Arrival): CategoryTally {
    const key = `${call.provider}~${call.category}`;
    let t = this.tallies.get(key);
    if (!t) {
      t = {
        outcome: {
          provider: call.provider,
          category: call.category,
          asked: 0,
          granted: 0,
          grantedCost: 0,
          deferrals: 0,
          deferralsByReason: {},
          refused: 0,
          waitingAtEnd: 0,
          quota429: 0,
        },
        waits: [],
      };
      this.tallies.set(key, t);
    }
    return t;
  }

  private result(): SimResult {
    const categories = [...this.tallies.values()]
      .map(({ outcome, waits }) => ({ ...outcome, waitMs: percentiles(waits) }))
      .sort((a, b) => a.provider.localeCompare(b.provider) || a.category.localeCompare(b.category));
    const limits = [...this.usage.values()].flatMap((u) =>
      u.report(this.options.fromMs, this.options.toMs),
    );
    const upstream429 = [...this.upstreams.values()].flatMap((u) =>
      [...u.refusals].map(([limit, count]) => ({ provider: u.provider.id, limit, count })),
    );
    return {
      fromMs: this.options.fromMs,
      toMs: this.options.toMs,
      categories,
      limits,
      upstream429,
      claims: this.fleet.claimCounts(),
      tokensClaimed: this.fleet.tokensClaimed(),
      recorded: this.recorded,
      turns: this.clock.turns,
    };
  }
}

export function percentiles(values: number[]): {
  p50: number;
  p90: number;
  p99: number;
  max: number;
} {
  if (values.length === 0) return { p50: 0, p90: 0, p99: 0, max: 0 };
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[sorted.length - 1]! };
}
