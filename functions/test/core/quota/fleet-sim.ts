import {
  type Category,
  ConfigError,
  categorySchema,
  flagsSchema,
  type Limit,
  type Provider,
  providerSchema,
} from '../../../src/core/config';
import type { AcquireRequest, Decision, Granted } from '../../../src/core/quota/decision';
import { type Allocation, nextAllocation } from '../../../src/core/quota/epochs';
import { CostExceedsLimitError } from '../../../src/core/quota/errors';
import { Gate } from '../../../src/core/quota/gate';
import type { GateContext } from '../../../src/core/quota/gate-ports';
import { prng } from '../../../src/core/replay/sim-clock';

/**
 * A simulated fleet for the quota engine's property tests: instances running the real Gate,
 * each with its own clock (skewed against true time) and its own cached view of the published
 * allocation and cooldowns (up to 5 s and 1 s old), sharing create-if-absent claims and
 * concurrency slots; an operator publishing share changes and limit edits through the real
 * publication code; 429s starting cooldowns; instances crashing and being replaced. Time is
 * virtual: timers fire in order and nothing waits for real.
 */

/** Virtual time: timers fire in order; between them every pending promise runs to rest. */
export class VirtualClock {
  t: number;
  private timers: Array<{ at: number; seq: number; fire: () => void }> = [];
  private seq = 0;
  /** Port calls in progress (they take no virtual time). */
  working = 0;
  /** Timer rounds run so far (diagnostics). */
  spins = 0;

  constructor(startMs: number) {
    this.t = startMs;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.timers.push({ at: this.t + Math.max(0, ms), seq: this.seq++, fire: resolve });
    });
  }

  /** Runs every timer due up to `target`, in order, then sets the time to `target`. */
  async runUntil(target: number): Promise<void> {
    for (let spins = 0; ; spins++) {
      this.spins++;
      // Work in progress (a claim awaiting its document) takes no virtual time: let it finish
      // before deciding that nothing is due, or time would jump under it.
      for (let turns = 0; this.working > 0 && turns < 10_000; turns++) await rest();
      if (spins > 100_000)
        throw new Error(`virtual time stuck at ${this.t}: ${this.timers.length} timers`);
      await rest();
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers[0];
      if (!next || next.at > target) break;
      this.timers.shift();
      this.t = Math.max(this.t, next.at);
      next.fire();
    }
    this.t = Math.max(this.t, target);
    await rest();
  }

  pending(): number {
    return this.timers.length;
  }

  /**
   * Runs timers while `busy()` (bounded: a simulation that never comes to rest is a failure).
   * Work in progress between timers (a claim awaiting its document) may set new ones.
   */
  async drain(busy: () => boolean, maxMs = 3_600_000): Promise<void> {
    const limit = this.t + maxMs;
    for (let idle = 0; idle < 1_000 && (busy() || this.timers.length > 0); ) {
      if (this.timers.length === 0) {
        idle++;
        await rest();
        continue;
      }
      idle = 0;
      const next = Math.min(...this.timers.map((t) => t.at));
      if (next > limit) throw new Error(`timers still pending ${next - this.t} ms ahead`);
      await this.runUntil(next);
    }
    if (busy()) throw new Error('the fleet never came to rest');
  }
}

function rest(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

// A deterministic PRNG (mulberry32) for the instances' own random choices: the replay's.
export { prng } from '../../../src/core/replay/sim-clock';

export interface CallRecord {
  /** True time the call went out. */
  atMs: number;
  instance: number;
  category: string;
  operation?: string;
  estimate: { cost: number; bytes: number; requests: number };
  actual: { cost: number; bytes: number; requests: number };
}

export interface CooldownRecord {
  writtenAtMs: number;
  untilMs: number;
}

export interface Published {
  atMs: number;
  provider: Provider;
  allocation: Allocation;
}

interface Instance {
  index: number;
  offsetMs: number;
  generation: number;
  gate: Gate;
  view?: { atMs: number; published: Published; categories: Category[] };
  cooldown?: { atMs: number; untilMs: number | undefined };
  /** Phase of the 5 s cache: instances refresh at different moments. */
  cacheMs: number;
}

export interface FleetOptions {
  startMs: number;
  provider: Provider;
  categories: Category[];
  instances: number;
  /** Each instance's clock offset against true time. */
  offsetsMs: number[];
  seed: number;
  /** How long an instance trusts its view of the allocation (5 s in production). */
  viewCacheMs?: number;
  /** How long an instance trusts its view of the cooldown (1 s in production). */
  cooldownCacheMs?: number;
  /** Sees every decision of every gate (the demand a production gate would record). */
  onDecision?: (
    request: AcquireRequest,
    decision: Decision,
    askedAtMs: number,
    retriesLeft: number,
  ) => void;
}

/** The fleet: instances, the shared documents, and a log of everything that went out. */
export class Fleet {
  readonly clock: VirtualClock;
  readonly calls: CallRecord[] = [];
  readonly cooldowns: CooldownRecord[] = [];
  readonly published: Published[] = [];
  readonly refused: Array<{
    request: AcquireRequest;
    error: CostExceedsLimitError;
    atMs: number;
    published: Published;
  }> = [];
  readonly errors: unknown[] = [];
  readonly retries: Array<{
    atMs: number;
    retryAtMs: number;
    reason: string;
    instance: number;
    category?: string;
  }> = [];
  unknownCategory = 0;
  settling = 0;
  /** Asks whose gate has not answered yet. */
  open = 0;
  inFlight = 0;
  maxInFlight = 0;
  unpaid = 0;
  private readonly claims = new Map<string, 'whole' | 'split' | 'block'>();
  private readonly instances: Instance[];
  private categories: Category[];
  private slotsInUse = 0;
  private readonly random: () => number;

  constructor(private readonly options: FleetOptions) {
    this.clock = new VirtualClock(options.startMs);
    this.categories = options.categories;
    this.random = prng(options.seed);
    this.publish(options.provider, options.categories, 0);
    this.instances = Array.from({ length: options.instances }, (_, index) => {
      const instance: Instance = {
        index,
        offsetMs: options.offsetsMs[index % options.offsetsMs.length] ?? 0,
        generation: 0,
        cacheMs: Math.floor(this.random() * (options.viewCacheMs ?? 5_000)),
        gate: undefined as unknown as Gate,
      };
      instance.gate = this.gateFor(instance);
      return instance;
    });
  }

  get current(): Published {
    return this.published.at(-1)!;
  }

  /** Publishes shares and limits as the allocation update would, on a skewed instance's clock. */
  publish(provider: Provider, categories: Category[], offsetMs: number): Published {
    this.categories = categories;
    const previous = this.published.at(-1)?.allocation;
    const { allocation } = nextAllocation(previous, provider, categories, this.clock.t + offsetMs);
    const published = { atMs: this.clock.t, provider, allocation };
    this.published.push(published);
    return published;
  }

  /** A 429 seen by `instance`: the cooldown document says until its clock + Retry-After. */
  startCooldown(instance: number, retryAfterMs: number): void {
    const i = this.instances[instance % this.instances.length]!;
    const untilMs = this.clock.t + i.offsetMs + retryAfterMs;
    this.cooldowns.push({ writtenAtMs: this.clock.t, untilMs });
  }

  /** The instance dies (its held tokens and calls in progress with it) and a new one starts. */
  crash(instance: number): void {
    const i = this.instances[instance % this.instances.length]!;
    i.generation++;
    i.view = undefined;
    i.cooldown = undefined;
    i.gate = this.gateFor(i);
  }

  /**
   * Asks the gate for a call; a grant goes out at once, runs `durationMs`, then settles the
   * actual amounts and releases its slot. Not awaited: calls overlap in virtual time.
   */
  ask(
    instance: number,
    request: AcquireRequest,
    call: { durationMs: number; actual: { cost: number; bytes: number; requests: number } },
    retries = 0,
  ): Promise<void> {
    const i = this.instances[instance % this.instances.length]!;
    const generation = i.generation;
    const gate = i.gate;
    const askedAtMs = this.clock.t;
    this.open++;
    return gate
      .acquire(request)
      .finally(() => this.open--)
      .then(
        async (decision) => {
          this.options.onDecision?.(request, decision, askedAtMs, retries);
          if (i.generation !== generation) {
            if (decision.kind === 'granted') decision.release();
            return;
          }
          if (decision.kind === 'retryAt') {
            const retryAtMs = decision.atMs - i.offsetMs;
            this.retries.push({
              atMs: this.clock.t,
              retryAtMs,
              reason: `${decision.reason} ${decision.detail ?? ''}`,
              instance,
              category: request.category,
            });
            if (retries <= 0) return;
            // Re-enqueued, like a task: it comes back at the time given, on any instance.
            this.open++;
            await this.clock.sleep(Math.min(Math.max(1, retryAtMs - this.clock.t), 60_000));
            this.open--;
            return this.ask(instance + 1, request, call, retries - 1);
          }
          await this.run(i, generation, request, decision, call);
        },
        (error: unknown) => {
          if (error instanceof CostExceedsLimitError) {
            this.refused.push({ request, error, atMs: this.clock.t, published: this.current });
          } else if (
            error instanceof ConfigError &&
            error.document === `categories/${request.category}`
          ) {
            this.unknownCategory++; // a category the instance's view does not have (yet, or any more)
          } else this.errors.push(error);
        },
      );
  }

  /** Like ask, but returns when the call has finished or the gate said when to retry. */
  async askAndWait(
    instance: number,
    request: AcquireRequest,
    call: { durationMs: number; actual: { cost: number; bytes: number; requests: number } },
  ): Promise<number | undefined> {
    const before = this.retries.length;
    await this.ask(instance, request, call);
    return this.retries.length > before ? this.retries.at(-1)!.retryAtMs : undefined;
  }

  private async run(
    i: Instance,
    generation: number,
    request: AcquireRequest,
    decision: Granted,
    call: { durationMs: number; actual: { cost: number; bytes: number; requests: number } },
  ) {
    const estimate = {
      cost: request.cost ?? 1,
      bytes: request.bytes ?? 0,
      requests: request.requests ?? 1,
    };
    this.calls.push({
      atMs: this.clock.t,
      instance: i.index,
      category: request.category,
      operation: request.operation,
      estimate,
      actual: call.actual,
    });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await this.clock.sleep(call.durationMs);
    this.inFlight--;
    if (i.generation === generation) {
      this.settling++;
      await decision.settle(call.actual);
      this.settling--;
      decision.release();
    } else {
      decision.release(); // the lease outlives nobody here: a dead instance's call has ended
    }
  }

  /** Runs until every ask has been answered and every call has ended. */
  settle(): Promise<void> {
    return this.clock.drain(() => this.open > 0 || this.inFlight > 0 || this.settling > 0);
  }

  totalUnpaid(): number {
    return this.instances.reduce((sum, i) => sum + i.gate.stats.unpaid, this.unpaid);
  }

  private gateFor(instance: Instance): Gate {
    if (instance.gate) this.unpaid += instance.gate.stats.unpaid;
    const random = prng(this.options.seed * 31 + instance.index * 7 + instance.generation);
    return new Gate({
      now: () => this.clock.t + instance.offsetMs,
      sleep: (ms) => {
        if (!Number.isFinite(ms)) this.errors.push(new Error(`gate slept ${ms} ms`));
        return this.clock.sleep(ms);
      },
      random,
      context: async (_provider, category) => this.context(instance, category),
      claim: async (key, ref) => {
        this.clock.working++;
        await rest();
        this.clock.working--;
        const id = `${key}/${ref.id}`;
        if (this.claims.has(id)) return false;
        this.claims.set(id, 'block');
        return true;
      },
      claimRun: async (key, run) => {
        this.clock.working++;
        await rest();
        this.clock.working--;
        const all = [...run.pages, ...run.blocks];
        const taken = all.filter((ref) => this.claims.has(`${key}/${ref.id}`)).map((r) => r.id);
        if (taken.length > 0) return taken;
        for (const ref of run.blocks) this.claims.set(`${key}/${ref.id}`, 'block');
        for (const ref of run.pages) this.claims.set(`${key}/${ref.id}`, 'whole');
        return [];
      },
      claimPage: async (key, page, mode) => {
        this.clock.working++;
        await rest();
        this.clock.working--;
        const id = `${key}/${page.id}`;
        const existing = this.claims.get(id);
        if (existing) return existing === 'split' ? 'split' : 'taken';
        this.claims.set(id, mode);
        return mode === 'whole' ? 'won' : 'split';
      },
      acquireSlot: async (_provider, cap) => {
        this.clock.working++;
        await rest();
        this.clock.working--;
        if (this.slotsInUse >= cap) return undefined;
        this.slotsInUse++;
        let released = false;
        return {
          release: () => {
            if (released) return;
            released = true;
            this.slotsInUse--;
          },
        };
      },
    });
  }

  private context(instance: Instance, categoryId: string): GateContext {
    const now = this.clock.t;
    const viewCacheMs = this.options.viewCacheMs ?? 5_000;
    if (!instance.view || now - instance.view.atMs >= viewCacheMs - instance.cacheMs) {
      instance.view = { atMs: now, published: this.current, categories: this.categories };
      instance.cacheMs = 0;
    }
    const cooldownCacheMs = this.options.cooldownCacheMs ?? 1_000;
    if (!instance.cooldown || now - instance.cooldown.atMs >= cooldownCacheMs) {
      const untils = this.cooldowns.filter((c) => c.writtenAtMs <= now).map((c) => c.untilMs);
      instance.cooldown = {
        atMs: now,
        untilMs: untils.length > 0 ? Math.max(...untils) : undefined,
      };
    }
    const { published, categories } = instance.view;
    return {
      provider: published.provider,
      category: categories.find((c) => c.id === categoryId),
      allocation: published.allocation,
      flags: flagsSchema.parse({}),
      cooldownUntilMs: instance.cooldown.untilMs,
    };
  }
}

export function provider(limits: Limit[] | Array<Record<string, unknown>>, safetyMarginMs: number) {
  return providerSchema.parse({ id: 'p', limits, safetyMarginMs });
}

export function categories(shares: Record<string, number>): Category[] {
  return Object.entries(shares).map(([id, sharePercent]) =>
    categorySchema.parse({ id, provider: 'p', sharePercent }),
  );
}
