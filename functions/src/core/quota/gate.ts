import { beyondShare } from './beyond-share';
import { CallAmounts, guessedBytes } from './call-amounts';
import { CLAIM_AHEAD_MS, claimAheadMs } from './claim-ahead';
import { Claimer } from './claimer';
import { type AcquireRequest, CONCURRENCY_RETRY_MS, type Decision } from './decision';
import { DemandMeter } from './demand';
import type { GateContext, GatePorts, GateStats, SlotLease } from './gate-ports';
import { Ledger, type Receipt } from './ledger';
import { type AcquireAmounts, concurrencyCap, type PlannedLimit } from './limits';
import { precheck } from './precheck';
import { readiness } from './readiness';
import { SegmentPlans } from './segment-plans';
import { Settlement } from './settlement';
import type { OwnedBlock } from './token-source';

// What a call asks and the gate answers, and what the gate asks of its adapter, are declared
// beside it (decision.ts, gate-ports.ts).

const MAX_ROUNDS = 8;
/** A call whose claims took longer than this looks at the allocation and cooldowns again. */
const CONTEXT_REFRESH_MS = 1_000;

type Planned = PlannedLimit;

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
  /** When each limit key was last asked for, to give idle instances' window tokens back. */
  private readonly lastAsked = new Map<string, number>();
  private readonly segments = new SegmentPlans();
  private readonly amounts = new CallAmounts();
  private readonly demand = new DemandMeter();
  private readonly claimer: Claimer;
  private readonly settlement: Settlement;
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
    this.settlement = new Settlement((key) => this.ledger(key), this.claimer, this.stats);
  }

  async acquire(request: AcquireRequest): Promise<Decision> {
    const decision = await this.decide(request, 0);
    if (decision.kind === 'granted') this.stats.grants++;
    else this.stats.deferrals++;
    return decision;
  }

  private async decide(request: AcquireRequest, depth: number): Promise<Decision> {
    const amounts = this.amounts.of(request);
    let context = await this.ports.context(request.provider, request.category, amounts.cost);
    let now = this.ports.now();
    let contextAt = now;
    /** Whether anything was awaited since the context was read (else it is still current). */
    let awaited = false;
    const early = precheck(context, request, now);
    if (early) return early;

    const horizonMs = request.maxWaitMs ?? context.flags.maxAwaitSeconds * 1000;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      now = this.ports.now();
      if (now - contextAt > CONTEXT_REFRESH_MS) {
        // Claims took long: plan with what is in force now, not what was when the call asked.
        context = await this.ports.context(request.provider, request.category, amounts.cost);
        contextAt = now;
        awaited = false;
        const stop = precheck(context, request, now);
        if (stop) return stop;
      }
      const limits = this.segments.planned(context, request, amounts, now);
      for (const limit of limits) {
        const max = limit.source.maxCost(now);
        if (limit.amount > max && guessedBytes(limit, request) && max >= 1) {
          // Only an estimate learned from earlier calls: reserve what the window can carry
          // and let settle charge the real size, rather than block this kind of call for good.
          limit.amount = max;
        } else if (limit.amount > max) {
          return beyondShare(context, request, amounts, limit, now);
        }
      }
      if (round === 0) {
        for (const limit of limits) {
          this.demand.record(limit.key, limit.amount, now);
          this.lastAsked.set(limit.key, now);
        }
      }
      const plan = readiness(limits, now, (key) => this.ledger(key));
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
            horizonMs,
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

  private ledger(key: string): Ledger {
    let ledger = this.ledgers.get(key);
    if (!ledger) {
      ledger = new Ledger();
      this.ledgers.set(key, ledger);
    }
    return ledger;
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
      this.settlement.payOwed(limit.key, ledger, at);
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
      this.segments.planned(fresh, request, amounts, this.ports.now());
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
        ? precheck(
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
   * Learns the call's real size, then charges what it spent above its estimate (see
   * Settlement.pay).
   */
  private async settle(
    context: GateContext,
    request: AcquireRequest,
    estimated: AcquireAmounts,
    granted: Planned[],
    grantedAtMs: number,
    actual: { cost?: number; bytes?: number; requests?: number },
  ): Promise<void> {
    this.amounts.learn(request, actual.bytes);
    const real: AcquireAmounts = {
      operation: estimated.operation,
      cost: actual.cost ?? estimated.cost,
      bytes: actual.bytes ?? estimated.bytes,
      requests: actual.requests ?? estimated.requests,
    };
    const now = this.ports.now();
    const lines = this.segments.planned(context, request, real, now);
    await this.settlement.pay(granted, lines, estimated, real, grantedAtMs, now);
  }
}
