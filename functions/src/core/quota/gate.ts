import { type Category, ConfigError, type Flags, type Provider } from '../config';
import { isPaused } from './allocation';
import { Claimer } from './claimer';
import { DemandMeter } from './demand';
import { CostExceedsLimitError } from './errors';
import { Ledger } from './ledger';
import { type CategoryShares, concurrencyCap, type PlannedLimit, planLimits } from './limits';
import type { BlockRef } from './token-source';

export type RetryReason =
  | 'cooldown'
  | 'tokens'
  | 'window'
  | 'concurrency'
  | 'paused'
  | 'maintenance';

export interface Granted {
  kind: 'granted';
  /** The instant the call's tokens were reserved for; the call may go out from then on. */
  atMs: number;
  /** How long the gate waited for tokens it had reserved (under the wait bound). */
  waitedMs: number;
  /** Frees the concurrency slot; call once the upstream call is over. */
  release(): void;
  /** Charges the difference when the actual cost was higher than the estimate. */
  settle(actual: { cost?: number; bytes?: number; requests?: number }): void;
}

export interface RetryAt {
  kind: 'retryAt';
  atMs: number;
  reason: RetryReason;
  detail?: string;
}

export type Decision = Granted | RetryAt;

export interface AcquireRequest {
  provider: string;
  category: string;
  operation?: string;
  /** Weight of the call (Keepa tokens...). Default 1. */
  cost?: number;
  /** Expected bytes, for traffic windows. Default 0. */
  bytes?: number;
  /** HTTP requests the call makes, for windows that count requests. Default 1. */
  requests?: number;
  /** Overrides flags.maxAwaitSeconds: the longest this caller will wait in process. */
  maxWaitMs?: number;
}

/** What the gate needs to know about a provider and category; the adapter caches it. */
export interface GateContext {
  provider: Provider;
  category: Category | undefined;
  shares: CategoryShares;
  flags: Flags;
  cooldownUntilMs: number | undefined;
  /** From upstream meters: no call before this (the projected balance is in deficit). */
  meterBlockedUntilMs?: number;
}

export type PageOutcome = 'won' | 'split' | 'taken';

export interface SlotLease {
  release(): void;
}

export interface GatePorts {
  now(): number;
  sleep(ms: number): Promise<void>;
  random(): number;
  context(provider: string, category: string): Promise<GateContext>;
  /** Create-if-absent of the block's claim document: true when this instance now owns it. */
  claim(limitKey: string, ref: BlockRef): Promise<boolean>;
  /**
   * Create-if-absent of a page's document in the given mode: 'won' (this instance owns the whole
   * page), 'split' (the page is, or now is, claimed block by block) or 'taken' (someone owns it).
   */
  claimPage(limitKey: string, page: BlockRef, mode: 'whole' | 'split'): Promise<PageOutcome>;
  /** A concurrency slot for the provider, or undefined when all `cap` are in use. */
  acquireSlot?(provider: string, cap: number): Promise<SlotLease | undefined>;
}

export const MAINTENANCE_RETRY_MS = 5 * 60_000;
export const PAUSED_RETRY_MS = 5 * 60_000;
export const CONCURRENCY_RETRY_MS = 1_000;
const MAX_ROUNDS = 8;

/**
 * The gate: answers "granted" or "retry at T" for a call to a provider on behalf of a
 * category. Tokens come from blocks this instance claimed (create-if-absent documents), so a
 * grant costs a Firestore write only once per block. Waits within the bound are awaited with
 * the tokens already reserved; longer ones are returned so the caller re-enqueues its task.
 */
export class Gate {
  private readonly ledgers = new Map<string, Ledger>();
  /** Cost charged after the fact that no owned token could cover yet. */
  private readonly debt = new Map<string, number>();
  private readonly demand = new DemandMeter();
  private readonly claimer: Claimer;
  /** Counters for metrics: claims won and lost, tokens claimed, grants and deferrals. */
  readonly stats = {
    claimsWon: 0,
    claimsLost: 0,
    tokensClaimed: 0,
    wholePages: 0,
    grants: 0,
    deferrals: 0,
  };

  constructor(private readonly ports: GatePorts) {
    this.claimer = new Claimer(ports, (key) => this.ledger(key), this.demand, this.stats);
  }

  async acquire(request: AcquireRequest): Promise<Decision> {
    const decision = await this.decide(request);
    if (decision.kind === 'granted') this.stats.grants++;
    else this.stats.deferrals++;
    return decision;
  }

  private async decide(request: AcquireRequest): Promise<Decision> {
    const cost = request.cost ?? 1;
    const bytes = request.bytes ?? 0;
    const requests = request.requests ?? 1;
    const context = await this.ports.context(request.provider, request.category);
    let now = this.ports.now();
    const early = this.precheck(context, request, now);
    if (early) return early;

    const horizonMs = request.maxWaitMs ?? context.flags.maxAwaitSeconds * 1000;
    const amounts = { operation: request.operation, cost, bytes, requests };
    for (let round = 0; round < MAX_ROUNDS; round++) {
      now = this.ports.now();
      const limits = planLimits(context.provider, request.category, context.shares, amounts, now)
        .map((limit) => {
          const max = limit.source.maxCost(now);
          if (limit.amount > max) {
            throw new CostExceedsLimitError(request.provider, limit.label, limit.amount, max);
          }
          // Unpaid settlement debt rides along as far as one grant can carry it; the rest
          // stays owed and is paid by the grants after it.
          const debt = Math.min(this.debt.get(limit.key) ?? 0, max - limit.amount);
          return { ...limit, amount: limit.amount + debt, debt };
        })
        .filter((limit) => limit.amount > 0);
      if (round === 0) for (const limit of limits) this.demand.record(limit.key, limit.amount, now);
      const plan = this.plan(limits, now);
      if (plan.missing.length === 0 && plan.readyAtMs > now && round < MAX_ROUNDS - 1) {
        // Owned tokens come later, but unclaimed blocks may have tokens now: claim before waiting.
        const waiting = limits.filter(
          (l) => (this.ledger(l.key).readyAt(l.amount, now) ?? now) > now,
        );
        const progress = await Promise.all(waiting.map((l) => this.claimer.claimFor(l, now, 0)));
        if (progress.some(Boolean)) continue;
      }
      if (plan.missing.length === 0) {
        if (plan.readyAtMs - now > horizonMs) {
          return {
            kind: 'retryAt',
            atMs: plan.readyAtMs,
            reason: plan.limiting?.reason ?? 'tokens',
            detail: plan.limiting?.label,
          };
        }
        return this.grant(context, limits, plan.readyAtMs, request);
      }
      const progress = await Promise.all(
        plan.missing.map((limit) => this.claimer.claimFor(limit, now, horizonMs)),
      );
      if (!progress.some(Boolean)) {
        const limit = plan.missing[0]!;
        return {
          kind: 'retryAt',
          atMs: this.claimer.nextClaimableMs(limit, now, horizonMs),
          reason: limit.reason,
          detail: limit.label,
        };
      }
    }
    return {
      kind: 'retryAt',
      atMs: this.ports.now() + 1_000,
      reason: 'tokens',
      detail: 'contention',
    };
  }

  /** Tokens this instance holds for a limit key (for diagnostics and tests). */
  held(limitKey: string, atMs: number): number {
    return this.ledgers.get(limitKey)?.available(atMs) ?? 0;
  }

  private precheck(
    context: GateContext,
    request: AcquireRequest,
    now: number,
  ): RetryAt | undefined {
    if (context.flags.maintenance) {
      return { kind: 'retryAt', atMs: now + MAINTENANCE_RETRY_MS, reason: 'maintenance' };
    }
    if (!context.category || context.category.provider !== request.provider) {
      throw new ConfigError(`categories/${request.category}`, [
        {
          path: 'provider',
          message: `no category "${request.category}" of provider "${request.provider}"`,
        },
      ]);
    }
    if (
      isPaused(context.category) ||
      (context.shares.current.percent <= 0 && now >= context.shares.current.startMs)
    ) {
      return { kind: 'retryAt', atMs: now + PAUSED_RETRY_MS, reason: 'paused' };
    }
    if (context.cooldownUntilMs !== undefined && context.cooldownUntilMs > now) {
      return { kind: 'retryAt', atMs: context.cooldownUntilMs, reason: 'cooldown' };
    }
    if (context.meterBlockedUntilMs !== undefined && context.meterBlockedUntilMs > now) {
      return {
        kind: 'retryAt',
        atMs: context.meterBlockedUntilMs,
        reason: 'tokens',
        detail: 'upstream balance in deficit',
      };
    }
    return undefined;
  }

  private ledger(key: string): Ledger {
    let ledger = this.ledgers.get(key);
    if (!ledger) {
      ledger = new Ledger();
      this.ledgers.set(key, ledger);
    }
    return ledger;
  }

  /** When every limit can supply its amount at once with owned tokens, or which cannot. */
  private plan(limits: Array<PlannedLimit>, now: number) {
    const missing: PlannedLimit[] = [];
    let readyAtMs = now;
    let limiting: PlannedLimit | undefined;
    for (const limit of limits) {
      const at = this.ledger(limit.key).readyAt(limit.amount, now);
      if (at === undefined) missing.push(limit);
      else if (at > readyAtMs) {
        readyAtMs = at;
        limiting = limit;
      }
    }
    if (missing.length > 0) return { missing, readyAtMs, limiting };
    // Tokens may expire while waiting for another limit: settle on a time all can meet.
    for (let i = 0; i < 8; i++) {
      const short = limits.filter((l) => this.ledger(l.key).available(readyAtMs) < l.amount);
      if (short.length === 0) return { missing, readyAtMs, limiting };
      for (const limit of short) {
        const at = this.ledger(limit.key).readyAt(limit.amount, readyAtMs);
        if (at === undefined) return { missing: [limit], readyAtMs, limiting };
        if (at > readyAtMs) {
          readyAtMs = at;
          limiting = limit;
        }
      }
    }
    return { missing: limits, readyAtMs, limiting };
  }

  private async grant(
    context: GateContext,
    limits: Array<PlannedLimit & { debt: number }>,
    readyAtMs: number,
    request: AcquireRequest,
  ): Promise<Decision> {
    const cap = concurrencyCap(context.provider);
    let slot: SlotLease | undefined;
    if (cap !== undefined && this.ports.acquireSlot) {
      slot = await this.ports.acquireSlot(request.provider, cap);
      if (!slot) {
        return {
          kind: 'retryAt',
          atMs: this.ports.now() + CONCURRENCY_RETRY_MS,
          reason: 'concurrency',
        };
      }
    }
    // Synchronous from here to the last take: no other call in this instance interleaves.
    const at = Math.max(readyAtMs, this.ports.now());
    if (!limits.every((l) => this.ledger(l.key).available(at) >= l.amount)) {
      slot?.release();
      return this.decide(request);
    }
    for (const limit of limits) {
      this.ledger(limit.key).take(limit.amount, at);
      const owed = (this.debt.get(limit.key) ?? 0) - limit.debt;
      if (owed > 0) this.debt.set(limit.key, owed);
      else this.debt.delete(limit.key);
    }
    const waitMs = at - this.ports.now();
    if (waitMs > 0) await this.ports.sleep(waitMs);
    let released = false;
    return {
      kind: 'granted',
      atMs: at,
      waitedMs: Math.max(0, waitMs),
      release: () => {
        if (released) return;
        released = true;
        slot?.release();
      },
      settle: (actual) => this.settle(context, request, actual),
    };
  }

  private settle(
    context: GateContext,
    request: AcquireRequest,
    actual: { cost?: number; bytes?: number; requests?: number },
  ) {
    const now = this.ports.now();
    const estimated = {
      operation: request.operation,
      cost: request.cost ?? 1,
      bytes: request.bytes ?? 0,
      requests: request.requests ?? 1,
    };
    const real = {
      operation: request.operation,
      cost: actual.cost ?? estimated.cost,
      bytes: actual.bytes ?? estimated.bytes,
      requests: actual.requests ?? estimated.requests,
    };
    const before = planLimits(context.provider, request.category, context.shares, estimated, now);
    const after = planLimits(context.provider, request.category, context.shares, real, now);
    after.forEach((limit, i) => {
      const extra = limit.amount - (before[i]?.amount ?? 0);
      if (extra <= 0) return;
      const unpaid = this.ledger(limit.key).takeUpTo(extra, now);
      if (unpaid > 0) this.debt.set(limit.key, (this.debt.get(limit.key) ?? 0) + unpaid);
    });
  }
}
