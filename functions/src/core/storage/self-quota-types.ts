/**
 * What the self-quota monitor (self-quota.ts) counts and against what: Firestore operations and
 * windows, the limits and settings, and the warnings and status it reports.
 */

export type FirestoreOp = 'read' | 'write' | 'delete';
export type QuotaWindow = 'second' | 'minute';

export const FIRESTORE_OPS: readonly FirestoreOp[] = ['read', 'write', 'delete'];
export const WINDOWS: readonly QuotaWindow[] = ['second', 'minute'];

export interface OpLimits {
  perSecond: number;
  perMinute: number;
}

export interface SelfQuotaConfig {
  limits: Record<FirestoreOp, OpLimits>;
  /** Usage ratio at which a warning is recorded. */
  warnRatio: number;
  /** Usage ratio above which callers are throttled. */
  softRatio: number;
  maxMultiplier: number;
  /** Multiplier growth per second over the soft limit (and decay per second under it). */
  growthFactor: number;
  /**
   * The part of the soft limit heavy background work may use before it is paced, in (0, 1]
   * (`categories/firestore-pipeline` sets it).
   */
  backgroundShare: number;
  /** At most one warning per op and window in this time. */
  warningCooldownMs: number;
  /** Warnings kept in memory for `recent()`. */
  keepWarnings: number;
}

export type SelfQuotaOptions = Partial<Omit<SelfQuotaConfig, 'limits'>> & {
  limits?: Partial<Record<FirestoreOp, Partial<OpLimits>>>;
};

export interface SelfQuotaWarning {
  atMs: number;
  op: FirestoreOp;
  window: QuotaWindow;
  usage: number;
  limit: number;
  /** usage / limit in percent, one decimal. */
  percent: number;
}

export interface SelfQuotaStatus {
  multiplier: number;
  throttled: boolean;
  /** The multiplier heavy background work is paced with (1 = not paced). */
  backgroundMultiplier: number;
  backgroundShare: number;
  usage: Record<
    FirestoreOp,
    Record<QuotaWindow, { usage: number; limit: number; percent: number }>
  >;
}
