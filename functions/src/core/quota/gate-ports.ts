import type { Category, Flags, Provider } from '../config';
import type { Allocation } from './epochs';
import type { BlockRef, PageOutcome, ReturnWindow, RunClaim } from './token-source';

/** What the gate asks of its adapter (a call's context, claims, slots) and the counters it keeps. */

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
  /**
   * Create-if-absent, in one commit, all or none, of the claim document of every block and of
   * every page (whole) of a run: the ids of those already claimed (none: this instance now owns
   * them all).
   */
  claimRun(limitKey: string, run: RunClaim): Promise<string[]>;
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
