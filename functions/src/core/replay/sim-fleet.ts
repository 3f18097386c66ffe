import { type Category, ConfigError, type Flags, type Provider } from '../config';
import { type Allocation, nextAllocation } from '../quota/epochs';
import { Gate } from '../quota/gate';
import type { GateContext } from '../quota/gate-ports';
import { prng, SimClock } from './sim-clock';
import type { SimOptions, SimResult } from './sim-types';

/**
 * The fleet of a simulation: the simulated instances, each with its own Gate and cached views,
 * and the claim table, slots, allocations and cooldowns they share (simulator.ts drives them).
 */

export interface InstanceState {
  index: number;
  gate: Gate;
  views: Map<string, { atMs: number; allocation: Allocation }>;
  cooldownView: Map<string, { atMs: number; untilMs: number | undefined }>;
  /** Cooldowns this instance saw a 429 for: held at once. */
  held: Map<string, number>;
}

/**
 * The simulated instances and what they share: each instance runs its own real Gate with its own
 * cached views of the published allocation and of the cooldowns, and claims on one claim table
 * (create-if-absent, dropped once expired) and one set of concurrency slots. FleetSimulator
 * (simulator.ts) holds one and runs the calls on it: `clock`, `providers`, `instanceFor` (the
 * instance a call's n-th ask goes to), `writeCooldown`, `pruneIfDue`, `claimCounts` and
 * `tokensClaimed`.
 */
export class SimFleet {
  readonly clock: SimClock;
  private readonly random: () => number;
  private readonly instances: InstanceState[];
  private readonly allocations = new Map<string, Allocation>();
  private readonly providerMap = new Map<string, Provider>();
  private readonly categories = new Map<string, Category>();
  private readonly flags: Flags;
  private readonly cooldowns = new Map<string, { writtenAtMs: number; untilMs: number }[]>();
  /** Claim documents by limit key and block or page id; dropped once expired (the TTL). */
  private readonly claims = new Map<
    string,
    { mode: 'whole' | 'split' | 'block'; expiresAtMs: number }
  >();
  private prunedAtMs = 0;
  private readonly claimTally = new Map<string, { won: number; lost: number }>();
  private readonly slots = new Map<string, number>();

  constructor(private readonly options: SimOptions) {
    this.clock = new SimClock(options.fromMs);
    this.random = prng(options.seed);
    this.flags = options.config.flags;
    for (const p of options.config.providers) this.providerMap.set(p.id, p);
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
    this.instances = Array.from({ length: Math.max(1, options.instances) }, (_, i) =>
      this.startInstance(i),
    );
  }

  /** The providers of the configuration, by id. */
  get providers(): ReadonlyMap<string, Provider> {
    return this.providerMap;
  }

  /** The instance the n-th ask goes to (asks go round the instances). */
  instanceFor(n: number): InstanceState {
    return this.instances[n % this.instances.length]!;
  }

  /** A cooldown written for the other instances at `writtenAtMs`, until `untilMs`. */
  writeCooldown(providerId: string, writtenAtMs: number, untilMs: number): void {
    const list = this.cooldowns.get(providerId) ?? [];
    list.push({ writtenAtMs, untilMs });
    this.cooldowns.set(providerId, list);
  }

  /** Prunes the claim table when a minute has passed since it last did. */
  pruneIfDue(t: number): void {
    if (t - this.prunedAtMs >= 60_000) this.prune(t);
  }

  /** Claims won and lost, in all and by limit key. */
  claimCounts(): SimResult['claims'] {
    let won = 0;
    let lost = 0;
    for (const t of this.claimTally.values()) {
      won += t.won;
      lost += t.lost;
    }
    return { won, lost, byKey: Object.fromEntries(this.claimTally) };
  }

  /** Tokens claimed by all the instances' gates. */
  tokensClaimed(): number {
    return this.instances.reduce((s, i) => s + i.gate.stats.tokensClaimed, 0);
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

  private startInstance(index: number): InstanceState {
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
          provider: this.providerMap.get(providerId)!,
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
      claimRun: async (key, run) => {
        const all = [...run.pages, ...run.blocks];
        const taken = all.filter((ref) => this.claims.has(`${key}/${ref.id}`)).map((r) => r.id);
        for (const ref of all) {
          this.countClaim(key, taken.length === 0);
          if (taken.length > 0) continue;
          const mode = run.pages.includes(ref) ? 'whole' : 'block';
          this.claims.set(`${key}/${ref.id}`, { mode, expiresAtMs: ref.expiresAtMs });
        }
        return taken;
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
