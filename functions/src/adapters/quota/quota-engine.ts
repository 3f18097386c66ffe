import { randomUUID } from 'node:crypto';
import type { Firestore } from 'firebase-admin/firestore';
import { DEFAULT_MAX_RETRY_AFTER_SECONDS, requestedUntil } from '../../core/quota/cooldown';
import type { AcquireRequest, Decision } from '../../core/quota/decision';
import type { QuotaExceededError } from '../../core/quota/errors';
import { Gate } from '../../core/quota/gate';
import { MeterProjection, type MeterReading } from '../../core/quota/meters';
import { demandStatsUpdate } from '../../core/storage/write-buffer/demand-stats';
import { logger } from '../../log';
import { gateDecisions } from '../observability/metrics';
import { attachSelfQuota } from '../storage/self-quota-runtime';
import { recordUsage } from '../storage/usage-stats';
import type { WriteBuffer } from '../storage/write-buffer';
import { firestoreClaims } from './claims';
import { ContextProvider } from './context';
import { CooldownStore } from './cooldowns';
import { MeterStore } from './meters-store';
import { IDLE_CHECK_MS, IDLE_RELEASE_MS, type QuotaEngineOptions } from './quota-engine-options';
import { WindowReturns } from './returns';
import { SlotPool } from './slots';

/**
 * One instance's quota engine: the gate wired to Firestore (block claims, allocation,
 * cooldowns, concurrency slots) and the upstream meters.
 */
export class QuotaEngine {
  readonly instanceId: string;
  readonly gate: Gate;
  readonly cooldowns: CooldownStore;
  readonly meters = new MeterProjection();
  /** The projection shared with other instances through `quotaMeters/{provider}`. */
  readonly sharedMeters: MeterStore;
  readonly contexts: ContextProvider;
  readonly slots: SlotPool;
  /** Window tokens given back by idle and departing instances (`quotaReturns`). */
  readonly returns: WindowReturns;
  /** Claim documents this instance created. */
  claimWrites = 0;
  private readonly buffer: WriteBuffer | undefined;
  private readonly demandBuffer: WriteBuffer | undefined;
  private readonly now: () => number;
  private readonly idleReleaseMs: number;
  private readonly idleCheckMs: number;
  private lastIdleCheckMs: number;
  private idleTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Give-backs under way, awaited by shutdown. */
  private readonly givingBack = new Set<Promise<void>>();

  constructor(
    readonly db: Firestore,
    options: QuotaEngineOptions = {},
  ) {
    const now = options.now ?? Date.now;
    this.now = now;
    this.instanceId = options.instanceId ?? randomUUID();
    this.cooldowns = new CooldownStore(db, { now });
    this.sharedMeters = new MeterStore(db, this.meters, { now, instanceId: this.instanceId });
    this.contexts = new ContextProvider(db, this.cooldowns, this.meters, now, this.sharedMeters);
    this.slots = new SlotPool(db, this.instanceId, { now, random: options.random });
    this.buffer = options.buffer;
    this.demandBuffer = options.demandBuffer ?? options.buffer;
    if (options.selfQuota) attachSelfQuota(db, options.selfQuota, { limits: false });
    const claims = firestoreClaims(db, this.instanceId, () => {
      this.claimWrites++;
    });
    this.returns = new WindowReturns(db, this.instanceId, { now, random: options.random });
    this.idleReleaseMs = options.idleReleaseMs ?? IDLE_RELEASE_MS;
    this.idleCheckMs = options.idleCheckMs ?? IDLE_CHECK_MS;
    this.lastIdleCheckMs = now();
    if (options.idleTimer) {
      this.idleTimer = setInterval(() => this.releaseIdle(), this.idleCheckMs);
      this.idleTimer.unref();
    }
    this.gate = new Gate({
      now,
      sleep: options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
      random: options.random ?? Math.random,
      context: (provider, category, cost) => this.contexts.context(provider, category, cost),
      claim: claims.claim,
      claimPage: claims.claimPage,
      claimRun: claims.claimRun,
      acquireSlot: (provider, cap, holdMs) => this.slots.acquire(provider, cap, holdMs),
      takeReturn: (limitKey, window) => this.returns.take(limitKey, window),
    });
  }

  /**
   * `attempt`: how many times the call was deferred before (a work item's `deferrals`), so the
   * recorded demand tells first asks from re-asks (see core/storage/write-buffer/demand-stats.ts).
   */
  async acquire(request: AcquireRequest & { attempt?: number }): Promise<Decision> {
    const askedAtMs = this.now();
    if (askedAtMs - this.lastIdleCheckMs >= this.idleCheckMs) this.releaseIdle();
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
    this.recordDemand(request, decision, askedAtMs, request.attempt);
    return decision;
  }

  /**
   * Reconciles with what the upstream reported (Keepa tokensLeft/refillRate, ...) and shares it
   * with the other instances when it changes what they would decide. Resolves once shared (or
   * found not worth writing); never rejects.
   */
  observe(provider: string, reading: MeterReading): Promise<void> {
    this.meters.observe(provider, reading);
    return this.sharedMeters.share(provider, reading);
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
    // Hold it in this instance at once: the configuration read and the cooldown transaction
    // take milliseconds in which this instance's other calls would otherwise still go out.
    // Bounded like the cooldown itself, by the provider's maximum as last read (the default
    // before any read), so no Retry-After holds an instance longer than the document will.
    const retryAfter = error.retryAfterSeconds;
    if (retryAfter !== undefined && retryAfter >= 0) {
      const known = this.contexts.lastKnownProvider(error.provider);
      const max = known?.maxRetryAfterSeconds ?? DEFAULT_MAX_RETRY_AFTER_SECONDS;
      this.cooldowns.holdLocally(
        error.provider,
        requestedUntil(this.now(), retryAfter, retryAfter, max),
      );
    }
    if (category) this.record({ provider: error.provider, category }, { quota429: 1 });
    const config = await this.contexts.runtimeConfig();
    const provider = config.providers.find((p) => p.id === error.provider);
    return this.cooldowns.recordHit(
      error,
      provider?.cooldownSeconds ?? 1800,
      provider?.maxRetryAfterSeconds ?? DEFAULT_MAX_RETRY_AFTER_SECONDS,
    );
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
   * Records the decision in the per-minute demand documents (`demandStats`, read by policy
   * replay): merged through the demand buffer, so a minute's decisions of one kind of call are
   * one write per flush (every 10 s on an instance), never one per call. Keyed by the time the
   * call asked, not when the gate answered: a call that waited in the gate for its tokens asked
   * when it asked, and policy replay makes it then.
   */
  private recordDemand(
    request: AcquireRequest,
    decision: Decision,
    askedAtMs: number,
    attempt?: number,
  ): void {
    if (!this.demandBuffer) return;
    let write: ReturnType<typeof demandStatsUpdate>;
    try {
      write = demandStatsUpdate({
        provider: request.provider,
        category: request.category,
        operation: request.operation,
        at: askedAtMs,
        cost: request.cost ?? 1,
        bytes: request.bytes ?? 0,
        requests: request.requests ?? 1,
        outcome: decision.kind === 'granted' ? 'granted' : 'deferred',
        attempt,
        ...(decision.kind === 'granted'
          ? { waitedMs: decision.waitedMs }
          : { delayMs: decision.atMs - askedAtMs }),
      });
    } catch (error) {
      logger.warn({ err: error }, 'demand not recorded');
      return;
    }
    this.demandBuffer
      .merge(write.path, write.data)
      .catch((error: unknown) => logger.warn({ err: error }, 'demand not recorded'));
  }

  /**
   * The instance is going away (SIGTERM, or a test recycling it): gives back what it holds so
   * other instances can use it (concurrency slots, and the unspent tokens of its window
   * blocks), and writes what it still owes. Resolves once all of it is durable.
   */
  async shutdown(): Promise<void> {
    this.closed = true;
    clearInterval(this.idleTimer);
    this.idleTimer = undefined;
    this.giveBack(0);
    await Promise.all([this.slots.releaseAll(), ...this.givingBack]);
  }

  /**
   * Gives back the window tokens of limits idle for `idleReleaseMs` (on the timer, or lazily
   * on acquire): an instance that stopped asking strands nothing for the rest of the window.
   */
  private releaseIdle(): void {
    if (this.closed) return;
    this.lastIdleCheckMs = this.now();
    this.giveBack(this.idleReleaseMs);
  }

  /**
   * Takes the unspent tokens of window blocks out of the ledgers (all, or of limits idle for
   * `idleMs`) and writes them to `quotaReturns`. They leave the ledger before they are written,
   * so they are never spent twice; a write that fails strands them, never duplicates them.
   */
  private giveBack(idleMs: number): void {
    const released = this.gate.releaseWindowTokens(this.now(), idleMs);
    if (released.length === 0) return;
    const writing = Promise.all(
      released.map(({ limitKey, block }) =>
        this.returns.give(limitKey, block).catch((error: unknown) => {
          logger.warn(
            { err: error, limit: limitKey, block: block.id, tokens: block.end - block.start },
            'window tokens not given back',
          );
        }),
      ),
    ).then(() => undefined);
    this.givingBack.add(writing);
    void writing.finally(() => this.givingBack.delete(writing));
  }

  /** Document writes this instance made for quota accounting. */
  firestoreWrites(): number {
    return (
      this.claimWrites +
      this.cooldowns.writes +
      this.slots.writes +
      this.sharedMeters.writes +
      this.returns.writes
    );
  }
}
