import { randomUUID } from 'node:crypto';
import type { Firestore } from 'firebase-admin/firestore';
import type { QuotaExceededError } from '../../core/quota/errors';
import { type AcquireRequest, type Decision, Gate } from '../../core/quota/gate';
import { MeterProjection, type MeterReading } from '../../core/quota/meters';
import type { SelfQuotaMonitor } from '../../core/self-quota';
import { logger } from '../../log';
import { db as instanceDb } from '../firebase';
import { firestoreOps, gateDecisions } from '../metrics';
import { instanceSelfQuota } from '../self-quota-store';
import { instanceWriteBuffer, recordUsage, type WriteBuffer } from '../write-buffer';
import { firestoreClaims } from './claims';
import { ContextProvider } from './context';
import { CooldownStore } from './cooldowns';
import { SlotPool } from './slots';

export interface QuotaEngineOptions {
  instanceId?: string;
  /** Per-minute usage statistics go through this group-commit buffer, when given. */
  buffer?: WriteBuffer;
  /** Counts the engine's own Firestore writes against the self-quota, when given. */
  selfQuota?: SelfQuotaMonitor;
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
  private readonly buffer: WriteBuffer | undefined;
  private readonly now: () => number;

  constructor(
    readonly db: Firestore,
    options: QuotaEngineOptions = {},
  ) {
    const now = options.now ?? Date.now;
    this.now = now;
    this.instanceId = options.instanceId ?? randomUUID();
    this.cooldowns = new CooldownStore(db, { now });
    this.contexts = new ContextProvider(db, this.cooldowns, this.meters, now);
    this.slots = new SlotPool(db, this.instanceId, { now, random: options.random });
    this.buffer = options.buffer;
    const claims = firestoreClaims(db, this.instanceId, () => {
      this.claimWrites++;
      options.selfQuota?.record('write', 1);
      firestoreOps.inc({ op: 'write' });
    });
    this.gate = new Gate({
      now,
      sleep: options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
      random: options.random ?? Math.random,
      context: (provider, category) => this.contexts.context(provider, category),
      claim: claims.claim,
      claimPage: claims.claimPage,
      acquireSlot: (provider, cap) => this.slots.acquire(provider, cap),
    });
  }

  async acquire(request: AcquireRequest): Promise<Decision> {
    const decision = await this.gate.acquire(request);
    gateDecisions.inc({
      provider: request.provider,
      category: request.category,
      decision: decision.kind === 'granted' ? 'granted' : 'deferred',
    });
    // Reserve the estimate in the projection; the upstream's next report corrects it.
    if (decision.kind === 'granted') {
      this.meters.spend(request.provider, request.cost ?? 1, decision.atMs);
    }
    this.record(request, decision.kind === 'granted' ? { granted: 1 } : { deferred: 1 });
    return decision;
  }

  /** Reconciles with what the upstream reported (Keepa tokensLeft/refillRate, ...). */
  observe(provider: string, reading: MeterReading): void {
    this.meters.observe(provider, reading);
  }

  /**
   * Records a rate the upstream announced (SP-API x-amzn-RateLimit-Limit). When it is below the
   * configured rate the configuration overstates the quota: warn, so an operator lowers it.
   */
  async observeRateLimit(provider: string, operation: string, header: string | null | undefined) {
    const rate = Number(header);
    if (!header || !Number.isFinite(rate) || rate <= 0) return;
    const previous = this.meters.observeRate(provider, operation, rate, this.now());
    if (previous?.ratePerSecond === rate) return;
    const config = await this.contexts.runtimeConfig();
    const limit = config.providers
      .find((p) => p.id === provider)
      ?.limits.find((l) => l.kind === 'operation' && l.operation === operation);
    if (limit?.kind === 'operation' && limit.ratePerSecond > rate) {
      logger.warn(
        { provider, operation, configured: limit.ratePerSecond, reported: rate },
        'upstream reports a lower rate limit than configured',
      );
    }
  }

  /** A quota error from any step of any flow: start or extend the provider's cooldown. */
  async reportQuotaError(error: QuotaExceededError, category?: string) {
    if (category) this.record({ provider: error.provider, category }, { quota429: 1 });
    const config = await this.contexts.runtimeConfig();
    const provider = config.providers.find((p) => p.id === error.provider);
    return this.cooldowns.recordHit(error, provider?.cooldownSeconds ?? 1800);
  }

  /** Counts a call outcome in the per-minute statistics; never holds the caller up. */
  private record(
    request: { provider: string; category: string },
    counts: { granted?: number; deferred?: number; quota429?: number },
  ): void {
    if (!this.buffer) return;
    recordUsage(this.buffer, {
      provider: request.provider,
      category: request.category,
      at: this.now(),
      ...counts,
    }).catch((error: unknown) => logger.warn({ err: error }, 'usage statistics not recorded'));
  }

  /**
   * The instance is going away (SIGTERM, or a test recycling it): gives back what it holds so
   * other instances can use it, and writes what it still owes.
   */
  async shutdown(): Promise<void> {
    await this.slots.releaseAll();
  }

  /** Document writes this instance made for quota accounting. */
  firestoreWrites(): number {
    return this.claimWrites + this.cooldowns.writes + this.slots.writes;
  }
}

let shared: QuotaEngine | undefined;

/** The instance's engine: default app, usage statistics and self-quota through its buffer. */
export function instanceQuotaEngine(): QuotaEngine {
  shared ??= new QuotaEngine(instanceDb(), {
    buffer: instanceWriteBuffer(),
    selfQuota: instanceSelfQuota(),
  });
  return shared;
}
