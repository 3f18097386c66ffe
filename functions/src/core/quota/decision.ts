/**
 * What a call asks the gate for, and what the gate answers: a grant, or an instant to retry at
 * and why.
 */

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

// How far ahead a call stopped by maintenance, a pause or a full concurrency cap retries.
export const MAINTENANCE_RETRY_MS = 5 * 60_000;
export const PAUSED_RETRY_MS = 5 * 60_000;
export const CONCURRENCY_RETRY_MS = 1_000;
