import { type Category, ConfigError, type Flags, type Provider } from '../config';
import { isPaused } from './allocation';
import { Claimer } from './claimer';
import { DemandMeter } from './demand';
import type { Allocation } from './epochs';
import { CostExceedsLimitError } from './errors';
import { Ledger, type Receipt } from './ledger';
import {
  type AcquireAmounts,
  amountOf,
  concurrencyCap,
  maxGrantable,
  type PlannedLimit,
  planHolds,
  planLimits,
  planSegment,
  type SegmentPlan,
  segmentAt,
  withAmounts,
} from './limits';
import { type TokenLine, validSpan } from './token-line';
import type { BlockRef, OwnedBlock, PageOutcome, ReturnWindow, TokenSource } from './token-source';
import { windowAt } from './windows';

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
  /**
   * Charges the difference when the actual cost, bytes or requests were higher than the
   * estimate, with claimed tokens (durable), in the window the call was granted in.
   */
  settle(actual: { cost?: number; bytes?: number; requests?: number }): Promise<void>;
}

export interface RetryAt {
  kind: 'retryAt';
  atMs: number;
  reason: RetryReason;
  detail?: string;
  /**
   * Set when the call asks a limit more than the category's share can ever grant one call
   * now: what it asked of that limit and the most the share carries. A caller that can make
   * its call smaller (a batch) shrinks it to fit rather than wait for a larger share.
   */
  shareCarries?: { asked: number; max: number };
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
  /** How long the call may run (its task's deadline): a concurrency slot is held that long. */
  holdMs?: number;
}

/** What the gate needs to know about a provider and category; the adapter caches it. */
export interface GateContext {
  /** The provider as configured (concurrency cap, cooldown default). */
  provider: Provider;
  category: Category | undefined;
  /** The published allocation: shares and limits with the instants they take effect. */
  allocation: Allocation;
  flags: Flags;
  cooldownUntilMs: number | undefined;
  /** From upstream meters: no call before this (the projected balance is in deficit). */
  meterBlockedUntilMs?: number;
}

// Declared beside the blocks they are about; claimer.ts needs them without importing the gate.
export type { PageOutcome, ReturnWindow } from './token-source';

export interface SlotLease {
  release(): void;
}

export interface GatePorts {
  now(): number;
  sleep(ms: number): Promise<void>;
  random(): number;
  /** `cost`: what the call will spend, for the upstream meter's projected balance. */
  context(provider: string, category: string, cost: number): Promise<GateContext>;
  /** Create-if-absent of the block's claim document: true when this instance now owns it. */
  claim(limitKey: string, ref: BlockRef): Promise<boolean>;
  /**
   * Create-if-absent of a page's document in the given mode: 'won' (this instance owns the whole
   * page), 'split' (the page is, or now is, claimed block by block) or 'taken' (someone owns it).
   */
  claimPage(limitKey: string, page: BlockRef, mode: 'whole' | 'split'): Promise<PageOutcome>;
  /** A concurrency slot for the provider held up to `holdMs`, or undefined when all are in use. */
  acquireSlot?(provider: string, cap: number, holdMs?: number): Promise<SlotLease | undefined>;
  /**
   * Takes, for good, one range of the window's tokens that another instance gave back (see
   * {@link Gate.releaseWindowTokens}): never the same range to two instances. A block valid
   * for the window (validFromMs/validUntilMs), or undefined when none is left. Asked only when
   * the window's regular blocks are exhausted; optional (no give-back without it).
   */
  takeReturn?(limitKey: string, window: ReturnWindow): Promise<BlockRef | undefined>;
}

/** A fixed window whose returned tokens are asked for: [startMs, endMs). */
export const MAINTENANCE_RETRY_MS = 5 * 60_000;
export const PAUSED_RETRY_MS = 5 * 60_000;
export const CONCURRENCY_RETRY_MS = 1_000;
const MAX_ROUNDS = 8;
/** A call whose claims took longer than this looks at the allocation and cooldowns again. */
const CONTEXT_REFRESH_MS = 1_000;
/**
 * How far ahead of the mint an instance without tokens claims for an ordinary call. A call that
 * waits long for tokens far ahead is demand taken from the instances that hold tokens now,
 * which then expire unspent (20 s bench runs: 0.94 of C + r·T claiming a second ahead,
 * 0.97 claiming 0.1 s ahead). Calls too large for that claim as far ahead as their cost needs.
 */
const CLAIM_AHEAD_MS = 100;
/** Weight of each settled size in the learned estimate of a kind of call's bytes. */
const ESTIMATE_WEIGHT = 0.2;

type Planned = PlannedLimit;

/** Counters for metrics and tests. */
export interface GateStats {
  claimsWon: number;
  claimsLost: number;
  tokensClaimed: number;
  wholePages: number;
  grants: number;
  deferrals: number;
  /** Extra cost settled after its window had closed, or beyond anything claimable: overspent. */
  unpaid: number;
}

/**
 * The gate: answers "granted" or "retry at T" for a call to a provider on behalf of a
 * category. Tokens come from blocks this instance claimed (create-if-absent documents), so a
 * grant costs a Firestore write only once per block. Waits within the bound are awaited with
 * the tokens already reserved, and everything that can stop a call (cooldown, maintenance,
 * pause, the upstream meter, the concurrency cap) is checked again after the wait; longer
 * waits are returned so the caller re-enqueues its task.
 */
export class Gate {
  private readonly ledgers = new Map<string, Ledger>();
  /** Settled cost no claim could pay yet; paid by this instance's next grants. */
  private readonly debt = new Map<string, number>();
  /** Learned bytes per kind of call (provider, category, operation), from settled sizes. */
  private readonly bytesEstimates = new Map<string, number>();
  /** Token lines by limit key and origin (see sharedLine). */
  private readonly lines = new Map<
    string,
    { key: string; line: TokenLine; source: TokenSource; segmentStartMs: number }
  >();
  /** When each limit key was last asked for, to give idle instances' window tokens back. */
  private readonly lastAsked = new Map<string, number>();
  /** Segment plans by allocation (a new object at every refresh) and kind of call. */
  private readonly segmentPlans = new WeakMap<Allocation, Map<string, SegmentPlan>>();
  private readonly demand = new DemandMeter();
  private readonly claimer: Claimer;
  readonly stats: GateStats = {
    claimsWon: 0,
    claimsLost: 0,
    tokensClaimed: 0,
    wholePages: 0,
    grants: 0,
    deferrals: 0,
    unpaid: 0,
  };

  constructor(private readonly ports: GatePorts) {
    this.claimer = new Claimer(ports, (key) => this.ledger(key), this.demand, this.stats);
  }

  async acquire(request: AcquireRequest): Promise<Decision> {
    const decision = await this.decide(request, 0);
    if (decision.kind === 'granted') this.stats.grants++;
    else this.stats.deferrals++;
    return decision;
  }

  /**
   * What a call will spend. Bytes not given are estimated from what this kind of call settled
   * before, and never less than 1: a window measuring bytes is always checked before a call.
   */
  private amounts(request: AcquireRequest): AcquireAmounts {
    const learned = this.bytesEstimates.get(kindOfCall(request));
    return {
      operation: request.operation,
      cost: request.cost ?? 1,
      bytes: Math.max(1, Math.ceil(request.bytes ?? learned ?? 1)),
      requests: request.requests ?? 1,
    };
  }

  private async decide(request: AcquireRequest, depth: number): Promise<Decision> {
    const amounts = this.amounts(request);
    let context = await this.ports.context(request.provider, request.category, amounts.cost);
    let now = this.ports.now();
    let contextAt = now;
    /** Whether anything was awaited since the context was read (else it is still current). */
    let awaited = false;
    const early = this.precheck(context, request, now);
    if (early) return early;

    const horizonMs = request.maxWaitMs ?? context.flags.maxAwaitSeconds * 1000;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      now = this.ports.now();
      if (now - contextAt > CONTEXT_REFRESH_MS) {
        // Claims took long: plan with what is in force now, not what was when the call asked.
        context = await this.ports.context(request.provider, request.category, amounts.cost);
        contextAt = now;
        awaited = false;
        const stop = this.precheck(context, request, now);
        if (stop) return stop;
      }
      const limits = this.planned(context, request, amounts, now);
      for (const limit of limits) {
        const max = limit.source.maxCost(now);
        if (limit.amount > max && guessedBytes(limit, request) && max >= 1) {
          // Only an estimate learned from earlier calls: reserve what the window can carry
          // and let settle charge the real size, rather than block this kind of call for good.
          limit.amount = max;
        } else if (limit.amount > max) {
          return this.beyondShare(context, request, amounts, limit, now);
        }
      }
      if (round === 0) {
        for (const limit of limits) {
          this.demand.record(limit.key, limit.amount, now);
          this.lastAsked.set(limit.key, now);
        }
      }
      const plan = this.plan(limits, now);
      if (plan.missing.length === 0 && plan.readyAtMs > now && round < MAX_ROUNDS - 1) {
        // Owned tokens come later, but unclaimed blocks may have tokens now: claim before waiting.
        const waiting = limits.filter(
          (l) => (this.ledger(l.key).readyAt(l.amount, now) ?? now) > now,
        );
        const progress = await Promise.all(waiting.map((l) => this.claimer.claimFor(l, now, 0)));
        awaited = true;
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
        return this.grant(context, limits, plan.readyAtMs, request, amounts, depth, awaited);
      }
      const progress = await Promise.all(
        plan.missing.map((limit) =>
          this.claimer.claimFor(
            limit,
            now,
            Math.max(Math.min(horizonMs, CLAIM_AHEAD_MS), claimAheadMs(limit)),
          ),
        ),
      );
      awaited = true;
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

  private planned(
    context: GateContext,
    request: AcquireRequest,
    amounts: AcquireAmounts,
    atMs: number,
  ): Planned[] {
    const plan = this.segmentPlan(context.allocation, request, atMs);
    return plan ? withAmounts(plan.limits, amounts).filter((limit) => limit.amount > 0) : [];
  }

  /**
   * The category's limits for the segment in force, planned once per allocation and segment
   * (building token sources on every call was most of a grant's cost) and bound to this
   * instance's shared lines.
   */
  private segmentPlan(
    allocation: Allocation,
    request: AcquireRequest,
    atMs: number,
  ): SegmentPlan | undefined {
    let plans = this.segmentPlans.get(allocation);
    if (!plans) {
      plans = new Map();
      this.segmentPlans.set(allocation, plans);
    }
    const id = kindOfCall(request);
    const cached = plans.get(id);
    if (cached && planHolds(cached, atMs)) return cached;
    const plan = planSegment(
      allocation,
      request.provider,
      request.category,
      request.operation,
      atMs,
    );
    if (!plan) return undefined;
    const bound = { ...plan, limits: plan.limits.map((limit) => this.sharedLine(limit, atMs)) };
    plans.set(id, bound);
    return bound;
  }

  /**
   * One line object per limit and segment in this instance, shared by every block claimed from
   * it. Blocks outlive the view they were claimed under: a block claimed ahead, before a change
   * was published, must stop minting where the change starts. So when a newer segment is
   * planned, every older line of the limit is ended no later than the newer segment's start.
   */
  private sharedLine(limit: PlannedLimit, atMs: number): PlannedLimit {
    if (!limit.line) return limit;
    const { line, segmentStartMs } = limit.line;
    const id = `${limit.key}|${line.originMs ?? 0}`;
    let entry = this.lines.get(id);
    if (!entry) {
      entry = { key: limit.key, line, source: limit.source, segmentStartMs };
      this.lines.set(id, entry);
    } else if (line.endMs !== undefined && !(entry.line.endMs! <= line.endMs)) {
      entry.line.endMs = line.endMs;
    }
    for (const [otherId, other] of this.lines) {
      if (other.key !== limit.key || other === entry) continue;
      if (other.segmentStartMs < segmentStartMs && !(other.line.endMs! <= segmentStartMs)) {
        other.line.endMs = segmentStartMs;
      }
      // Forget lines whose last token has expired.
      if (other.line.endMs !== undefined && atMs > other.line.endMs + lineValidityMs(other.line)) {
        this.lines.delete(otherId);
      }
    }
    return { ...limit, source: entry.source };
  }

  /**
   * A call whose cost the category's share cannot carry now. Refused only when no share could
   * ever carry it; otherwise it waits for the pending change or the next window that can, or,
   * with none known, for an operator to raise the share.
   */
  private beyondShare(
    context: GateContext,
    request: AcquireRequest,
    amounts: AcquireAmounts,
    limit: Planned,
    now: number,
  ): RetryAt {
    const later: number[] = [];
    const segment = segmentAt(context.allocation, request.category, now);
    if (segment?.endMs !== undefined) later.push(segment.endMs);
    const margin = segment?.limits.safetyMarginMs ?? 0;
    if (limit.limit.kind === 'window')
      later.push(windowAt(limit.limit.unit, now).endMs + margin / 2);
    for (const atMs of later.sort((a, b) => a - b)) {
      const then = planLimits(
        context.allocation,
        request.provider,
        request.category,
        amounts,
        atMs,
      );
      const same = then.find((l) => l.key === limit.key);
      if (!same || same.amount <= same.source.maxCost(atMs)) {
        return {
          kind: 'retryAt',
          atMs,
          reason: limit.reason,
          detail: `${limit.label}: share changes`,
        };
      }
    }
    // The most any share could carry: of this limit as in force now or as published to come.
    const key = limit.key.slice(limit.key.lastIndexOf('~') + 1);
    const everMax = Math.max(
      0,
      ...context.allocation.limits
        .filter((epoch) => epoch.startMs >= (segment?.limits.startMs ?? 0))
        .flatMap((epoch) => {
          const index = epoch.keys.indexOf(key);
          const max =
            index >= 0 ? maxGrantable(epoch.limits[index]!, 100, epoch.safetyMarginMs) : 0;
          return max === undefined ? [] : [max];
        }),
    );
    if (limit.amount > everMax) {
      throw new CostExceedsLimitError(request.provider, limit.label, limit.amount, everMax);
    }
    const max = limit.source.maxCost(now);
    return {
      kind: 'retryAt',
      atMs: now + PAUSED_RETRY_MS,
      reason: limit.reason,
      detail: `${limit.label}: the category's share carries at most ${max} of ${limit.amount}`,
      shareCarries: { asked: limit.amount, max },
    };
  }

  /** Tokens this instance holds for a limit key (for diagnostics and tests). */
  held(limitKey: string, atMs: number): number {
    return this.ledgers.get(limitKey)?.available(atMs) ?? 0;
  }

  /**
   * Takes back the unspent window tokens of limits not asked for in `idleMs` (0: all), so the
   * caller can give them to other instances; this instance no longer spends them.
   */
  releaseWindowTokens(atMs: number, idleMs = 0): Array<{ limitKey: string; block: OwnedBlock }> {
    const released: Array<{ limitKey: string; block: OwnedBlock }> = [];
    for (const [limitKey, ledger] of this.ledgers) {
      if (idleMs > 0 && atMs - (this.lastAsked.get(limitKey) ?? 0) < idleMs) continue;
      for (const block of ledger.release(atMs, (b) => b.validFromMs !== undefined)) {
        released.push({ limitKey, block });
      }
    }
    return released;
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
    if (isPaused(context.category)) {
      return { kind: 'retryAt', atMs: now + PAUSED_RETRY_MS, reason: 'paused' };
    }
    const segment = segmentAt(context.allocation, request.category, now);
    if (!segment || segment.percent <= 0) {
      // Paused in the allocation (or not yet in it): back when a published share starts.
      const atMs = segment?.endMs ?? now + PAUSED_RETRY_MS;
      return { kind: 'retryAt', atMs: Math.min(atMs, now + PAUSED_RETRY_MS), reason: 'paused' };
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
    limits: Planned[],
    readyAtMs: number,
    request: AcquireRequest,
    amounts: AcquireAmounts,
    depth: number,
    awaited: boolean,
  ): Promise<Decision> {
    // Synchronous from here to the last take: no other call in this instance interleaves.
    const at = Math.max(readyAtMs, this.ports.now());
    if (!limits.every((l) => this.ledger(l.key).available(at) >= l.amount)) {
      if (depth >= MAX_ROUNDS) {
        return { kind: 'retryAt', atMs: at + 1, reason: 'tokens', detail: 'contention' };
      }
      return this.decide(request, depth + 1);
    }
    const receipts: Array<{ ledger: Ledger; receipt: Receipt }> = [];
    for (const limit of limits) {
      const ledger = this.ledger(limit.key);
      receipts.push({ ledger, receipt: ledger.take(limit.amount, at)! });
      // Owed settlement rides along as far as the tokens at hand carry it, taken in the same
      // synchronous step, so two grants can never both pay the same debt.
      const owed = this.debt.get(limit.key) ?? 0;
      const paid = Math.min(owed, ledger.available(at));
      if (paid > 0) ledger.take(paid, at);
      if (owed - paid > 0) this.debt.set(limit.key, owed - paid);
      else this.debt.delete(limit.key);
    }
    const refund = () => {
      for (const { ledger, receipt } of receipts) ledger.refund(receipt);
    };
    const waitMs = at - this.ports.now();
    if (waitMs > 0) {
      await this.ports.sleep(waitMs);
      // A change published during a long wait may end the line these tokens came from before
      // they were minted: plan again (which ends old lines) and spend only what still exists.
      const fresh = await this.ports.context(request.provider, request.category, amounts.cost);
      this.planned(fresh, request, amounts, this.ports.now());
      const gone = receipts.some(({ receipt }) =>
        receipt.some(
          ({ holding, from, to }) =>
            holding.source.spendable({ ...holding.block, cursor: from }, at).end < to,
        ),
      );
      if (gone) {
        refund();
        if (depth >= MAX_ROUNDS) {
          return { kind: 'retryAt', atMs: this.ports.now() + 1_000, reason: 'tokens' };
        }
        return this.decide(request, depth + 1);
      }
    }
    // The slot is taken only now, just before the call, never held through a wait.
    const cap = concurrencyCap(context.provider.limits);
    let slot: SlotLease | undefined;
    if (cap !== undefined && this.ports.acquireSlot) {
      slot = await this.ports.acquireSlot(request.provider, cap, request.holdMs);
      if (!slot) {
        refund();
        return {
          kind: 'retryAt',
          atMs: this.ports.now() + CONCURRENCY_RETRY_MS,
          reason: 'concurrency',
        };
      }
    }
    // Much can happen while waiting for tokens, claims or a slot: a 429 elsewhere, maintenance,
    // a pause, a meter deficit. Look again (from the caches) right before the call goes out,
    // unless nothing was awaited since the context was read: then it is what the caches hold.
    const stop =
      awaited || waitMs > 0 || slot
        ? this.precheck(
            await this.ports.context(request.provider, request.category, amounts.cost),
            request,
            this.ports.now(),
          )
        : undefined;
    if (stop) {
      slot?.release();
      refund();
      return stop;
    }
    let released = false;
    let settled = false;
    return {
      kind: 'granted',
      atMs: at,
      waitedMs: Math.max(0, waitMs),
      release: () => {
        if (released) return;
        released = true;
        slot?.release();
      },
      settle: async (actual) => {
        if (settled) return;
        settled = true;
        await this.settle(context, request, amounts, limits, at, actual);
      },
    };
  }

  /**
   * Charges what a call spent above its estimate. Lines pay from owned tokens, minted or not,
   * claiming more if needed: claimed tokens are spent by nobody else, so the payment holds even
   * if this instance dies. Windows pay in the window the call was granted in, never the next;
   * once that window has closed, what was not paid is counted as overspent.
   */
  private async settle(
    context: GateContext,
    request: AcquireRequest,
    estimated: AcquireAmounts,
    granted: Planned[],
    grantedAtMs: number,
    actual: { cost?: number; bytes?: number; requests?: number },
  ): Promise<void> {
    if (actual.bytes !== undefined && Number.isFinite(actual.bytes) && actual.bytes >= 0) {
      const key = kindOfCall(request);
      const before = this.bytesEstimates.get(key);
      this.bytesEstimates.set(
        key,
        before === undefined ? actual.bytes : before + ESTIMATE_WEIGHT * (actual.bytes - before),
      );
    }
    const real: AcquireAmounts = {
      operation: estimated.operation,
      cost: actual.cost ?? estimated.cost,
      bytes: actual.bytes ?? estimated.bytes,
      requests: actual.requests ?? estimated.requests,
    };
    const now = this.ports.now();
    const lines = this.planned(context, request, real, now);
    await Promise.all(
      granted.map(async (limit) => {
        const extra = amountOf(limit.limit, real) - amountOf(limit.limit, estimated);
        if (extra <= 0) return;
        if (limit.limit.kind === 'window') {
          await this.payWindow(limit, grantedAtMs, extra, now);
        } else {
          await this.payLine(lines.find((l) => l.key === limit.key) ?? limit, extra, now);
        }
      }),
    );
  }

  private async payWindow(limit: Planned, grantedAtMs: number, extra: number, now: number) {
    const inWindow = (block: OwnedBlock) => (block.validFromMs ?? 0) <= grantedAtMs;
    const ledger = this.ledger(limit.key);
    if (limit.limit.kind !== 'window' || now >= windowAt(limit.limit.unit, grantedAtMs).endMs) {
      this.stats.unpaid += extra;
      return;
    }
    let unpaid = ledger.burn(extra, grantedAtMs, inWindow);
    if (unpaid > 0) {
      await this.claimer.claimUnspent(limit, grantedAtMs, unpaid, 0, inWindow);
      unpaid = ledger.burn(unpaid, grantedAtMs, inWindow);
    }
    // The window's allowance is gone: the upstream saw more than the estimate said.
    this.stats.unpaid += unpaid;
  }

  private async payLine(limit: Planned, extra: number, now: number) {
    const ledger = this.ledger(limit.key);
    let unpaid = ledger.burn(extra, now);
    if (unpaid > 0) {
      await this.claimer.claimUnspent(
        limit,
        now,
        unpaid,
        claimAheadMs({ ...limit, amount: unpaid }),
      );
      unpaid = ledger.burn(unpaid, now);
    }
    if (unpaid > 0) this.debt.set(limit.key, (this.debt.get(limit.key) ?? 0) + unpaid);
  }
}

/** Whether a limit's amount is bytes the caller did not give (a learned estimate). */
function guessedBytes(limit: PlannedLimit, request: AcquireRequest): boolean {
  return (
    request.bytes === undefined && limit.limit.kind === 'window' && limit.limit.measure === 'bytes'
  );
}

/** A kind of call: its provider, category and operation. */
function kindOfCall(request: AcquireRequest): string {
  return `${request.provider}~${request.category}~${request.operation ?? ''}`;
}

/** How long a line's tokens stay valid after they are minted. */
function lineValidityMs(line: TokenLine): number {
  return line.ratePerSecond > 0 ? (validSpan(line) * 1000) / line.ratePerSecond : 0;
}

/**
 * How far ahead to claim for a call: a large call claims the tokens it needs before they are
 * minted, so that instances asking at once each collect a run of their own instead of all
 * holding a part of it until it expires (a livelock for costs near the bucket's size).
 */
function claimAheadMs(limit: Planned): number {
  if (!limit.ratePerSecond) return 0;
  return Math.ceil((limit.amount * 1000) / limit.ratePerSecond);
}
