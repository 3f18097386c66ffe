import {
  type Category,
  ConfigError,
  type Flags,
  type Provider,
  type RuntimeConfig,
} from '../config';
import {
  MAX_DISPATCHES_PER_SECOND,
  MIN_DISPATCHES_PER_SECOND,
  QUEUE_HEADROOM,
} from '../queues/queue-rate';
import { requestedUntil } from '../quota/cooldown';
import { type Allocation, nextAllocation } from '../quota/epochs';
import { CostExceedsLimitError } from '../quota/errors';
import { type Decision, Gate, type GateContext } from '../quota/gate';
import { DemandRecorder, NO_OPERATION } from '../storage/write-buffer/demand-stats';
import type { WriteMeter } from './fleet-scale';
import { prng, SimClock } from './sim-clock';
import {
  type CallAmounts,
  LimitUsage,
  type LimitUtilization,
  UpstreamModel,
} from './upstream-model';

/**
 * A simulated fleet running the real Gate (core/quota/gate.ts) under simulated time: every
 * instance has its own gate, its own 5 s view of the published allocation and 1 s view of the
 * cooldowns, claims blocks and pages with create-if-absent on a shared claim table, takes
 * concurrency slots, settles and releases; a deferred call comes back at its retry time on any
 * instance (its task re-enqueued); a 429 from the upstream model starts a cooldown that the
 * instance holds at once and the others see within their cache. Deterministic for a seed.
 */

/** One call asked for the first time (a task's first attempt). */
export interface Arrival {
  atMs: number;
  provider: string;
  category: string;
  operation?: string | undefined;
  cost: number;
  bytes: number;
  requests: number;
}

/**
 * Arrivals made as the replay reaches them: the minutes that have calls, in time order, and for
 * each the streams of its calls (each stream in time order). A minute's streams are opened when
 * the simulated clock reaches the minute, and each stream has one call scheduled at a time, so
 * a replay holds the calls of the minutes under way plus the retries pending, not the range's.
 */
export interface ArrivalFeed {
  minutes: readonly number[];
  streams(minuteMs: number): Iterable<Arrival>[];
}

export interface SimOptions {
  /** The policy the gate enforces: providers, categories, flags. */
  config: RuntimeConfig;
  /** The upstreams' real limits (default: the policy's providers). */
  upstreams?: Provider[];
  fromMs: number;
  toMs: number;
  instances: number;
  seed: number;
  /** How long a granted call runs (default 200 ms). */
  callDurationMs?: number;
  /** How long an instance trusts its view of the allocation (5 s) and cooldowns (1 s). */
  viewCacheMs?: number;
  cooldownCacheMs?: number;
  /**
   * After `toMs`, calls asked in the range may still be granted (in-gate waits, re-asks, calls
   * in flight) for this long (default 120 s); what still waits then is `waitingAtEnd`.
   */
  drainMs?: number;
  /**
   * Re-asks (deferred tasks coming back) a provider's work queue dispatches per second at most:
   * Cloud Tasks holds the backlog, not the gate. Default: QUEUE_HEADROOM x the provider's
   * tightest line rate (as queue-rate.ts sizes the queue, for calls of cost 1), within Cloud
   * Tasks' 500/s; Infinity for a harness without a queue.
   */
  queueDispatchesPerSecond?: number | ((provider: Provider) => number);
  /** Counts claim creates, statistics writes and queue dispatches (fleet-scale.ts). */
  meter?: WriteMeter;
  /** Called at every simulated instant with the time (progress). */
  onProgress?: (simulatedMs: number) => void;
}

export interface CategoryOutcome {
  provider: string;
  category: string;
  asked: number;
  /** Calls that went out (a grant the upstream accepted or refused). */
  granted: number;
  grantedCost: number;
  /** Deferrals decided within the range (not those while it drains). */
  deferrals: number;
  deferralsByReason: Record<string, number>;
  /** Calls refused for good (cost beyond any share, unknown category). */
  refused: number;
  /**
   * Calls not granted (for good) nor refused when the drain after the range ended: waiting for
   * their retry time, or in the gate. asked + quota429 = granted + refused + waitingAtEnd (a
   * call the upstream refused with a 429 went out, counts as granted, and asks again).
   */
  waitingAtEnd: number;
  /** Time from a call's first ask to its grant, granted calls only (ms). */
  waitMs: { p50: number; p90: number; p99: number; max: number };
  quota429: number;
}

export interface SimResult {
  fromMs: number;
  toMs: number;
  categories: CategoryOutcome[];
  limits: LimitUtilization[];
  upstream429: Array<{ provider: string; limit: string; count: number }>;
  /** Claim documents: creates won and lost, by limit key (provider~category~limit). */
  claims: { won: number; lost: number; byKey: Record<string, { won: number; lost: number }> };
  /** Tokens claimed but never spent (stranded), from the gates' statistics. */
  tokensClaimed: number;
  /** The run's own recorded demand (what the production gate would have written). */
  recorded: DemandRecorder;
  /** Simulated instants run. */
  turns: number;
}

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

interface InstanceState {
  index: number;
  gate: Gate;
  views: Map<string, { atMs: number; allocation: Allocation }>;
  cooldownView: Map<string, { atMs: number; untilMs: number | undefined }>;
  /** Cooldowns this instance saw a 429 for: held at once. */
  held: Map<string, number>;
}

const MAX_ATTEMPTS = 1_000;
const DRAIN_MS = 120_000;

export class FleetSimulator {
  readonly clock: SimClock;
  private readonly random: () => number;
  private readonly instances: InstanceState[];
  private readonly allocations = new Map<string, Allocation>();
  private readonly providers = new Map<string, Provider>();
  private readonly categories = new Map<string, Category>();
  private readonly flags: Flags;
  private readonly upstreams = new Map<string, UpstreamModel>();
  private readonly usage = new Map<string, LimitUsage>();
  private readonly cooldowns = new Map<string, { writtenAtMs: number; untilMs: number }[]>();
  /** Claim documents by limit key and block or page id; dropped once expired (the TTL). */
  private readonly claims = new Map<
    string,
    { mode: 'whole' | 'split' | 'block'; expiresAtMs: number }
  >();
  private prunedAtMs = 0;
  private readonly claimTally = new Map<string, { won: number; lost: number }>();
  private readonly slots = new Map<string, number>();
  private readonly tallies = new Map<string, CategoryTally>();
  readonly recorded = new DemandRecorder();
  private open = 0;
  private next = 0;
  /** Calls asked and neither granted for good nor refused yet (retry pending, or in the gate). */
  private readonly unresolved = new Set<Call>();
  /** Re-asks booked per provider and second of the queue (see queueDispatchesPerSecond). */
  private readonly booked = new Map<string, Map<number, number>>();

  constructor(private readonly options: SimOptions) {
    this.clock = new SimClock(options.fromMs);
    this.random = prng(options.seed);
    this.flags = options.config.flags;
    for (const p of options.config.providers) this.providers.set(p.id, p);
    for (const c of options.config.categories) this.categories.set(c.id, c);
    for (const p of options.config.providers) {
      const { allocation } = nextAllocation(
        undefined,
        p,
        options.config.categories,
        options.fromMs,
      );
      this.allocations.set(p.id, allocation);
    }
    for (const p of options.upstreams ?? options.config.providers) {
      this.upstreams.set(p.id, new UpstreamModel(p));
      this.usage.set(p.id, new LimitUsage(this.providers.get(p.id) ?? p));
    }
    this.instances = Array.from({ length: Math.max(1, options.instances) }, (_, i) =>
      this.instance(i),
    );
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
      if (t - this.prunedAtMs >= 60_000) this.prune(t);
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
    this.ask(call);
  }

  private ask(call: Call): void {
    // Past the drain: the call stays unresolved and is counted as waiting at the end.
    if (this.clock.t >= this.options.toMs + (this.options.drainMs ?? DRAIN_MS)) return;
    call.attempts++;
    if (call.attempts > 1) call.instance++;
    const instance = this.instances[call.instance % this.instances.length]!;
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
      const provider = this.providers.get(call.provider);
      const untilMs = requestedUntil(
        now,
        answer.retryAfterSeconds,
        provider?.cooldownSeconds ?? 1800,
        provider?.maxRetryAfterSeconds,
      );
      instance.held.set(call.provider, Math.max(instance.held.get(call.provider) ?? 0, untilMs));
      const list = this.cooldowns.get(call.provider) ?? [];
      list.push({ writtenAtMs: now, untilMs });
      this.cooldowns.set(call.provider, list);
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

  /** A deferred call's task comes back at `atMs`, or later if its queue is busy then. */
  private reask(call: Call, atMs: number) {
    const rate = this.dispatchRate(call.provider);
    if (!Number.isFinite(rate)) {
      this.clock.at(atMs, () => this.ask(call));
      return;
    }
    let booked = this.booked.get(call.provider);
    if (!booked) {
      booked = new Map();
      this.booked.set(call.provider, booked);
    }
    const perSecond = Math.max(1, Math.floor(rate));
    let second = Math.floor(atMs / 1000);
    while ((booked.get(second) ?? 0) >= perSecond) second++;
    const n = booked.get(second) ?? 0;
    booked.set(second, n + 1);
    if (booked.size > 100_000) {
      for (const s of booked.keys()) if (s < Math.floor(this.clock.t / 1000) - 1) booked.delete(s);
    }
    const slotMs = second * 1000 + Math.floor((n * 1000) / perSecond);
    this.clock.at(Math.max(atMs, slotMs), () => this.ask(call));
  }

  private readonly rates = new Map<string, number>();

  private dispatchRate(providerId: string): number {
    let rate = this.rates.get(providerId);
    if (rate !== undefined) return rate;
    const provider = this.providers.get(providerId);
    const option = this.options.queueDispatchesPerSecond;
    if (typeof option === 'number') rate = option;
    else if (option && provider) rate = option(provider);
    else rate = provider ? defaultQueueRate(provider) : Number.POSITIVE_INFINITY;
    this.rates.set(providerId, rate);
    return rate;
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
    let won = 0;
    let lost = 0;
    for (const t of this.claimTally.values()) {
      won += t.won;
      lost += t.lost;
    }
    const tokensClaimed = this.instances.reduce((s, i) => s + i.gate.stats.tokensClaimed, 0);
    return {
      fromMs: this.options.fromMs,
      toMs: this.options.toMs,
      categories,
      limits,
      upstream429,
      claims: { won, lost, byKey: Object.fromEntries(this.claimTally) },
      tokensClaimed,
      recorded: this.recorded,
      turns: this.clock.turns,
    };
  }

  /** Drops claims expired a minute ago or more: no gate asks for those blocks again. */
  private prune(t: number) {
    this.prunedAtMs = t;
    for (const [id, claim] of this.claims) {
      if (claim.expiresAtMs < t - 60_000) this.claims.delete(id);
    }
  }

  private countClaim(key: string, won: boolean) {
    this.options.meter?.claim(key, this.clock.t);
    let t = this.claimTally.get(key);
    if (!t) {
      t = { won: 0, lost: 0 };
      this.claimTally.set(key, t);
    }
    if (won) t.won++;
    else t.lost++;
  }

  private instance(index: number): InstanceState {
    const state: InstanceState = {
      index,
      gate: undefined as unknown as Gate,
      views: new Map(),
      cooldownView: new Map(),
      held: new Map(),
    };
    const viewCacheMs = this.options.viewCacheMs ?? 5_000;
    const cooldownCacheMs = this.options.cooldownCacheMs ?? 1_000;
    // Instances refresh their caches at different moments.
    const phase = Math.floor(this.random() * viewCacheMs);
    state.gate = new Gate({
      now: () => this.clock.t,
      sleep: (ms) => this.clock.sleep(ms),
      random: prng(this.options.seed * 31 + index * 7 + 1),
      context: async (providerId, categoryId): Promise<GateContext> => {
        const now = this.clock.t;
        let view = state.views.get(providerId);
        if (!view || now - view.atMs >= viewCacheMs) {
          const allocation = this.allocations.get(providerId);
          if (!allocation) {
            throw new ConfigError(`providers/${providerId}`, [
              { path: 'id', message: `no provider "${providerId}"` },
            ]);
          }
          view = { atMs: view ? now : now - phase, allocation };
          state.views.set(providerId, view);
        }
        let cooldown = state.cooldownView.get(providerId);
        if (!cooldown || now - cooldown.atMs >= cooldownCacheMs) {
          const untils = (this.cooldowns.get(providerId) ?? [])
            .filter((c) => c.writtenAtMs <= now && c.untilMs > now)
            .map((c) => c.untilMs);
          cooldown = { atMs: now, untilMs: untils.length > 0 ? Math.max(...untils) : undefined };
          state.cooldownView.set(providerId, cooldown);
        }
        const held = state.held.get(providerId);
        const untilMs = Math.max(cooldown.untilMs ?? 0, held ?? 0);
        return {
          provider: this.providers.get(providerId)!,
          category: this.categories.get(categoryId),
          allocation: view.allocation,
          flags: this.flags,
          cooldownUntilMs: untilMs > 0 ? untilMs : undefined,
        };
      },
      claim: async (key, ref) => {
        const id = `${key}/${ref.id}`;
        const won = !this.claims.has(id);
        if (won) this.claims.set(id, { mode: 'block', expiresAtMs: ref.expiresAtMs });
        this.countClaim(key, won);
        return won;
      },
      claimPage: async (key, page, mode) => {
        const id = `${key}/${page.id}`;
        const existing = this.claims.get(id)?.mode;
        this.countClaim(key, !existing);
        if (existing) return existing === 'split' ? 'split' : 'taken';
        this.claims.set(id, { mode, expiresAtMs: page.expiresAtMs });
        return mode === 'whole' ? 'won' : 'split';
      },
      acquireSlot: async (providerId, cap) => {
        const used = this.slots.get(providerId) ?? 0;
        if (used >= cap) return undefined;
        this.slots.set(providerId, used + 1);
        let released = false;
        return {
          release: () => {
            if (released) return;
            released = true;
            this.slots.set(providerId, (this.slots.get(providerId) ?? 1) - 1);
          },
        };
      },
    });
    return state;
  }
}

/** A provider's work queue rate as queue-rate.ts sizes it, for calls of cost 1. */
export function defaultQueueRate(provider: Provider): number {
  const rates = provider.limits.flatMap((l) =>
    l.kind === 'tokenBucket'
      ? [l.refillPerSecond]
      : l.kind === 'operation'
        ? [l.ratePerSecond]
        : [],
  );
  if (rates.length === 0) return MAX_DISPATCHES_PER_SECOND;
  return Math.min(
    MAX_DISPATCHES_PER_SECOND,
    Math.max(MIN_DISPATCHES_PER_SECOND, QUEUE_HEADROOM * Math.min(...rates)),
  );
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
