import { randomUUID } from 'node:crypto';
import type { Firestore } from 'firebase-admin/firestore';
import type { QuotaExceededError } from '../../core/quota/errors';
import { type AcquireRequest, type Decision, Gate } from '../../core/quota/gate';
import { MeterProjection, type MeterReading } from '../../core/quota/meters';
import { firestoreClaims } from './claims';
import { ContextProvider } from './context';
import { CooldownStore } from './cooldowns';
import { SlotPool } from './slots';

export interface QuotaEngineOptions {
  instanceId?: string;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/**
 * One instance's quota engine: the gate wired to Firestore (block claims, allocation,
 * cooldowns, concurrency slots) and the upstream meters.
 */
export class QuotaEngine {
  readonly instanceId: string;
  readonly gate: Gate;
  readonly cooldowns: CooldownStore;
  readonly meters = new MeterProjection();
  readonly contexts: ContextProvider;
  readonly slots: SlotPool;
  /** Claim documents this instance created. */
  claimWrites = 0;

  constructor(
    readonly db: Firestore,
    options: QuotaEngineOptions = {},
  ) {
    const now = options.now ?? Date.now;
    this.instanceId = options.instanceId ?? randomUUID();
    this.cooldowns = new CooldownStore(db, { now });
    this.contexts = new ContextProvider(db, this.cooldowns, this.meters, now);
    this.slots = new SlotPool(db, this.instanceId, { now, random: options.random });
    const claim = firestoreClaims(db, this.instanceId, () => this.claimWrites++);
    this.gate = new Gate({
      now,
      sleep: options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
      random: options.random ?? Math.random,
      context: (provider, category) => this.contexts.context(provider, category),
      claim,
      acquireSlot: (provider, cap) => this.slots.acquire(provider, cap),
    });
  }

  async acquire(request: AcquireRequest): Promise<Decision> {
    const decision = await this.gate.acquire(request);
    // Reserve the estimate in the projection; the upstream's next report corrects it.
    if (decision.kind === 'granted') {
      this.meters.spend(request.provider, request.cost ?? 1, decision.atMs);
    }
    return decision;
  }

  /** Reconciles with what the upstream reported (Keepa tokensLeft/refillRate, ...). */
  observe(provider: string, reading: MeterReading): void {
    this.meters.observe(provider, reading);
  }

  /** A quota error from any step of any flow: start or extend the provider's cooldown. */
  async reportQuotaError(error: QuotaExceededError) {
    const config = await this.contexts.runtimeConfig();
    const provider = config.providers.find((p) => p.id === error.provider);
    return this.cooldowns.recordHit(error, provider?.cooldownSeconds ?? 1800);
  }

  /** Document writes this instance made for quota accounting. */
  firestoreWrites(): number {
    return this.claimWrites + this.cooldowns.writes + this.slots.writes;
  }
}
