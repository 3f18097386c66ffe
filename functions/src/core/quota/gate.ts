import type { Category, Flags, Provider } from '../config';
import { isPaused } from './allocation';
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
  settle(actual: { cost?: number; bytes?: number }): void;
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
/** An instance takes a whole page when its demand would spend it within this time. */
const WHOLE_PAGE_WITHIN_MS = 1_000;
/** Instances racing for the oldest blocks spread over this many of them. */
const CLAIM_SPREAD = 4;
/** Spend rate is measured over windows of this length. */
const RATE_WINDOW_MS = 1_000;

/**
 * The gate: answers "granted" or "retry at T" for a call to a provider on behalf of a
 * category. Tokens come from blocks this instance claimed (create-if-absent documents), so a
 * grant costs a Firestore write only once per block. Waits within the bound are awaited with
 * the tokens already reserved; longer ones are returned so the caller re-enqueues its task.
 */
export class Gate {
  private readonly ledgers = new Map<string, Ledger>();
  private readonly claiming = new Map<string, Promise<boolean>>();
  /** Cost charged after the fact that no owned token could cover yet. */
  private readonly debt = new Map<string, number>();
  /** Pages known to be split (their blocks are claimable) or taken, until they expire. */
  private readonly pages = new Map<string, { mode: 'split' | 'taken'; expiresAtMs: number }>();
  /** Tokens asked for per limit key in the current and the previous rate window. */
  private readonly spending = new Map<
    string,
    { windowStartMs: number; current: number; previous: number }
  >();
  /** Counters for metrics: claims won and lost, tokens claimed, grants and deferrals. */
  readonly stats = {
    claimsWon: 0,
    claimsLost: 0,
    tokensClaimed: 0,
    wholePages: 0,
    grants: 0,
    deferrals: 0,
  };

  constructor(private readonly ports: GatePorts) {}

  async acquire(request: AcquireRequest): Promise<Decision> {
    const decision = await this.decide(request);
    if (decision.kind === 'granted') this.stats.grants++;
    else this.stats.deferrals++;
    return decision;
  }

  private async decide(request: AcquireRequest): Promise<Decision> {
    const cost = request.cost ?? 1;
    const bytes = request.bytes ?? 0;
    const context = await this.ports.context(request.provider, request.category);
    let now = this.ports.now();
    const early = this.precheck(context, request, now);
    if (early) return early;

    const horizonMs = request.maxWaitMs ?? context.flags.maxAwaitSeconds * 1000;
    const amounts = { operation: request.operation, cost, bytes };
    for (let round = 0; round < MAX_ROUNDS; round++) {
      now = this.ports.now();
      const limits = planLimits(context.provider, request.category, context.shares, amounts, now)
        .map((limit) => ({ ...limit, amount: limit.amount + (this.debt.get(limit.key) ?? 0) }))
        .filter((limit) => limit.amount > 0);
      for (const limit of limits) {
        const max = limit.source.maxCost(now);
        if (limit.amount > max) {
          throw new CostExceedsLimitError(request.provider, limit.label, limit.amount, max);
        }
      }
      if (round === 0) for (const limit of limits) this.recordDemand(limit.key, limit.amount, now);
      const plan = this.plan(limits, now);
      if (plan.missing.length === 0 && plan.readyAtMs > now && round < MAX_ROUNDS - 1) {
        // Owned tokens come later, but unclaimed blocks may have tokens now: claim before waiting.
        const waiting = limits.filter(
          (l) => (this.ledger(l.key).readyAt(l.amount, now) ?? now) > now,
        );
        const progress = await Promise.all(waiting.map((l) => this.claimFor(l, now, 0)));
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
        plan.missing.map((limit) => this.claimFor(limit, now, horizonMs)),
      );
      if (!progress.some(Boolean)) {
        const limit = plan.missing[0]!;
        return {
          kind: 'retryAt',
          atMs: this.nextClaimableMs(limit, now, horizonMs),
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
      throw new Error(`unknown category "${request.category}" for provider "${request.provider}"`);
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
    limits: PlannedLimit[],
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
      this.debt.delete(limit.key);
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
    actual: { cost?: number; bytes?: number },
  ) {
    const now = this.ports.now();
    const estimated = {
      operation: request.operation,
      cost: request.cost ?? 1,
      bytes: request.bytes ?? 0,
    };
    const real = {
      operation: request.operation,
      cost: actual.cost ?? estimated.cost,
      bytes: actual.bytes ?? estimated.bytes,
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

  /** Claims blocks until the limit's amount is covered within the horizon; one at a time per key. */
  private claimFor(limit: PlannedLimit, now: number, horizonMs: number): Promise<boolean> {
    const running = this.claiming.get(limit.key);
    if (running) return running;
    const promise = this.claimBlocks(limit, now, horizonMs).finally(() =>
      this.claiming.delete(limit.key),
    );
    this.claiming.set(limit.key, promise);
    return promise;
  }

  private async claimBlocks(limit: PlannedLimit, now: number, horizonMs: number): Promise<boolean> {
    const ledger = this.ledger(limit.key);
    const all = ledger.claimable(limit.source, now, horizonMs, this.pageTaken(limit, now));
    // Skip blocks this instance would let expire, but never all of those spendable now: the
    // newest one always stays a candidate, so a starved instance cannot talk itself out of work.
    const newestNow = all.filter((ref) => this.firstMintMs(limit, ref) <= now).at(-1);
    const candidates = all.filter(
      (ref) => ref === newestNow || this.canSpendInTime(limit, ref, now),
    );
    let claimedAny = false;
    while (candidates.length > 0) {
      const ready = ledger.readyAt(limit.amount, now);
      if (ready === now) break;
      // Blocks with tokens now come first; only once those are gone is waiting acceptable.
      const spendableNow = candidates.filter((ref) => this.firstMintMs(limit, ref) <= now).length;
      if (spendableNow === 0 && ready !== undefined && ready - now <= horizonMs) break;
      // Oldest first (they expire first), at random among the oldest few so that instances
      // running out together spread over different blocks instead of racing for one.
      const pick = Math.floor(
        this.ports.random() * Math.min(CLAIM_SPREAD, Math.max(1, spendableNow)),
      );
      const [ref] = candidates.splice(pick, 1);
      if (!ref) break;
      const won = await this.claimBlockOrPage(limit, ref, now);
      if (won) {
        ledger.add(won, limit.source);
        claimedAny = true;
        this.stats.claimsWon++;
        this.stats.tokensClaimed += won.end - won.start;
        if (won !== ref) this.dropPageBlocks(candidates, won);
      } else {
        this.stats.claimsLost++;
        if (this.pages.get(this.pageKey(limit, ref))?.mode === 'taken') {
          this.dropPageBlocks(candidates, ref.page!);
        }
      }
    }
    return claimedAny;
  }

  /**
   * Claims a block, through its page: an instance whose demand would spend the whole page soon
   * takes it with one write; otherwise the page is split and only the block is taken. A page is
   * claimed once, in one mode, so whole and split claims can never overlap.
   */
  private async claimBlockOrPage(
    limit: PlannedLimit,
    ref: BlockRef,
    now: number,
  ): Promise<BlockRef | undefined> {
    const ledger = this.ledger(limit.key);
    const page = ref.page;
    if (page) {
      const key = this.pageKey(limit, ref);
      for (const [k, v] of this.pages) if (v.expiresAtMs <= now) this.pages.delete(k);
      let mode = this.pages.get(key)?.mode;
      if (mode === undefined) {
        const whole = this.wantsWholePage(limit, page, now);
        const outcome = await this.ports.claimPage(limit.key, page, whole ? 'whole' : 'split');
        if (outcome === 'won') {
          this.stats.wholePages++;
          this.pages.set(key, { mode: 'taken', expiresAtMs: page.expiresAtMs });
          return page;
        }
        mode = outcome === 'split' ? 'split' : 'taken';
        this.pages.set(key, { mode, expiresAtMs: page.expiresAtMs });
      }
      if (mode === 'taken') {
        ledger.markTaken(ref.id, ref.expiresAtMs);
        return undefined;
      }
    }
    if (await this.ports.claim(limit.key, ref)) return ref;
    ledger.markTaken(ref.id, ref.expiresAtMs);
    return undefined;
  }

  /** Blocks of pages owned whole (by anyone, this instance included) are not claimable. */
  private pageTaken(limit: PlannedLimit, now: number): (ref: BlockRef) => boolean {
    return (ref) => {
      const page = this.pages.get(this.pageKey(limit, ref));
      return page !== undefined && page.mode === 'taken' && page.expiresAtMs > now;
    };
  }

  private pageKey(limit: PlannedLimit, ref: BlockRef): string {
    return `${limit.key}/${ref.page?.id ?? ref.id}`;
  }

  /** A whole page is worth one write when this instance would spend it soon, before it expires. */
  private wantsWholePage(limit: PlannedLimit, page: BlockRef, now: number): boolean {
    const rate = this.spendRate(limit.key, now);
    const tokens = page.end - page.start;
    if ((rate * WHOLE_PAGE_WITHIN_MS) / 1000 < tokens) return false;
    // Spent in order at that rate, the page's last token must still be valid when reached.
    const lastExpiry = limit.source.expiryMs({ ...page, cursor: page.start }, page.end - 1);
    return lastExpiry - now >= (tokens / rate) * 1000;
  }

  /** Forgets candidate blocks inside a page that is now owned whole or known taken. */
  private dropPageBlocks(candidates: BlockRef[], page: BlockRef): void {
    for (let i = candidates.length - 1; i >= 0; i--) {
      const ref = candidates[i]!;
      if (ref.page?.id === page.id) candidates.splice(i, 1);
    }
  }

  /**
   * Whether this instance, at the rate it has been asking, can use a block's tokens before
   * they expire. Claiming one it cannot would strand tokens another instance could have used.
   */
  private canSpendInTime(limit: PlannedLimit, ref: BlockRef, now: number): boolean {
    const rate = this.spendRate(limit.key, now);
    if (rate <= 0) return true;
    const lifeMs = this.expiryOfFirstMs(limit, ref) - Math.max(now, this.firstMintMs(limit, ref));
    return lifeMs >= ((ref.end - ref.start) / rate) * 1000;
  }

  private expiryOfFirstMs(limit: PlannedLimit, ref: BlockRef): number {
    if (ref.validUntilMs !== undefined) return ref.validUntilMs;
    return limit.source.expiryMs({ ...ref, cursor: ref.start }, ref.start);
  }

  /** Demand, not grants: a starved instance must still see that it needs tokens. */
  private recordDemand(key: string, amount: number, atMs: number): void {
    const window = this.rollWindow(key, atMs);
    window.current += amount;
  }

  /** Tokens per second over the last full window (or the current one, if busier). */
  private spendRate(key: string, atMs: number): number {
    const window = this.rollWindow(key, atMs);
    const elapsed = Math.max(1, atMs - window.windowStartMs);
    return (
      Math.max(window.previous, (window.current * RATE_WINDOW_MS) / elapsed) *
      (1000 / RATE_WINDOW_MS)
    );
  }

  private rollWindow(key: string, atMs: number) {
    let window = this.spending.get(key);
    if (!window) {
      window = { windowStartMs: atMs, current: 0, previous: 0 };
      this.spending.set(key, window);
    }
    while (atMs - window.windowStartMs >= RATE_WINDOW_MS) {
      window.previous = atMs - window.windowStartMs >= 2 * RATE_WINDOW_MS ? 0 : window.current;
      window.current = 0;
      window.windowStartMs +=
        RATE_WINDOW_MS * Math.floor((atMs - window.windowStartMs) / RATE_WINDOW_MS);
    }
    return window;
  }

  private firstMintMs(limit: PlannedLimit, ref: BlockRef): number {
    return ref.validFromMs ?? limit.source.mintMs({ ...ref, cursor: ref.start }, ref.start);
  }

  /** When a block not yet known to be taken first becomes spendable, beyond the horizon. */
  private nextClaimableMs(limit: PlannedLimit, now: number, horizonMs: number): number {
    const ledger = this.ledger(limit.key);
    for (const reach of [
      horizonMs * 2 + 1_000,
      horizonMs * 10 + 60_000,
      3_600_000,
      32 * 86_400_000,
    ]) {
      const refs = ledger.claimable(limit.source, now, reach, this.pageTaken(limit, now));
      if (refs.length > 0) {
        return Math.max(now + 1, Math.min(...refs.map((ref) => this.firstMintMs(limit, ref))));
      }
    }
    return now + horizonMs + 1_000;
  }
}
