import type { Flags, Limit } from '../config';
import type { CollectionStatusReport } from '../pipeline/collection-status';
import type { FirestoreOp, QuotaWindow } from '../storage/self-quota';
import type { UsageCounter } from '../storage/write-buffer/usage-stats';

/** What the status callables answer: getStatus, getCollectionStatus, listCollections. */

export type UsageCounters = Record<UsageCounter, number>;

export interface CooldownStatus {
  provider: string;
  untilMs: number;
  startedAtMs: number;
  remainingMs: number;
  lastOperation: string;
  hits: number;
}

export interface ProviderStatus {
  id: string;
  displayName: string;
  limits: Limit[];
  cooldownSeconds: number;
  /** The active cooldown, if any. */
  cooldown: CooldownStatus | null;
  /**
   * Limits published but not yet used by the gate (an edit takes effect a lead time after its
   * publication), soonest first; empty when the gate uses the configured limits.
   */
  pendingLimits: Array<{ effectiveAtMs: number; limits: Limit[] }>;
  /** Each window limit's use in its current window, as far as the statistics tell. */
  windows: WindowUsageStatus[];
  /** The upstream's own meter as last shared by an instance (Keepa), null when none is stored. */
  meter: MeterStatus | null;
}

/**
 * A window limit's use so far in the window in progress, from the per-minute usage statistics
 * (`usageStats`: calls granted per provider, category and minute, all instances).
 */
export interface WindowUsageStatus {
  /** The limit's index in the provider's `limits`. */
  limitIndex: number;
  unit: 'second' | 'minute' | 'hour' | 'day' | 'month';
  measure: 'cost' | 'requests' | 'bytes';
  limit: number;
  windowStartMs: number;
  /** When the window resets. */
  windowEndMs: number;
  /**
   * Calls granted since the window began (every category), or null where per-minute statistics
   * cannot tell cheaply: second windows (finer than a minute), day and month windows (more
   * minutes than a status answer reads), or more documents than its bound.
   */
  grantedCalls: number | null;
  /**
   * The window's use in its own measure: the granted calls for a `requests` window (one call, one
   * request); null for `cost` and `bytes` windows (the statistics count calls, not their cost or
   * bytes) and wherever grantedCalls is null.
   */
  used: number | null;
  /** Why grantedCalls is null ('finer-than-a-minute' | 'too-long' | 'truncated'), else null. */
  unknownBecause: 'finer-than-a-minute' | 'too-long' | 'truncated' | null;
}

/**
 * The shared upstream meter (`quotaMeters/{provider}`): the newest balance an instance saw
 * the upstream report, written when it changes what other instances would decide (not on every
 * call). `projectedBalance` refills it to now at its rate, capped at capacity; spending since
 * the reading is in the instances' memory only and not in it.
 */
export interface MeterStatus {
  balance: number;
  readingAtMs: number;
  ratePerSecond: number;
  capacity: number;
  projectedBalance: number;
  /** When a deficit is refilled (balance back to 0), null when the projection shows none. */
  deficitEndsAtMs: number | null;
}

export interface CategoryStatus {
  id: string;
  provider: string;
  /** The configured share: the override when pinned, else the share. */
  sharePercent: number;
  priority: number;
  /** Paused: the stored flag, or the configured share at or below the minimum. */
  paused: boolean;
  /** The stored `paused` flag alone (what the 100% rule of shares looks at). */
  pausedFlag: boolean;
  configuredSharePercent: number;
  overridePercent: number | null;
  minSharePercent: number;
  /** After pauses and redistribution, what the category may use now. */
  effectiveSharePercent: number;
  /** What the gate uses: the published allocation's current epoch (null before the first). */
  publishedSharePercent: number | null;
  /** The share the gate uses right now: the published epoch in force (null before the first). */
  gateSharePercent: number | null;
  /** Published shares not in force yet, soonest first: each takes effect at `effectiveAtMs`. */
  pendingShares: Array<{ percent: number; effectiveAtMs: number }>;
  /** Summed over the last `windowMinutes` minutes of usage statistics. */
  usage: UsageCounters & { windowMinutes: number };
}

/**
 * The Firestore self-quota as the instance that answered sees it: each instance counts its own
 * reads, writes and deletes against the limits of `providers/firestore` (defaults when absent or
 * invalid); the warnings are those every instance stored.
 */
export interface FirestoreSelfQuotaStatus {
  usage: Record<
    FirestoreOp,
    Record<QuotaWindow, { usage: number; limit: number; percent: number }>
  >;
  /** The delay multiplier of the write buffer (1: not throttled). */
  multiplier: number;
  /** The multiplier heavy work (ingest, validation, backups) is paced with. */
  pipelineMultiplier: number;
  /** The part of the soft limit heavy work may use (`categories/firestore-pipeline`), percent. */
  pipelineSharePercent: number;
  /** True while the buffer or heavy work is slowed down. */
  throttling: boolean;
  limitsSource: 'provider' | 'default';
  /** Warnings stored by all instances since `recentWarningsSinceMs` (the last hour). */
  recentWarnings: number;
  recentWarningsSinceMs: number;
}

export interface StatusResult {
  projectId: string;
  version: string;
  nowMs: number;
  maintenance: boolean;
  flags: Flags;
  providers: ProviderStatus[];
  categories: CategoryStatus[];
  /** The active cooldowns, soonest end first. */
  cooldowns: CooldownStatus[];
  /** Null when the answering instance's Firestore is not counted (never when deployed). */
  firestore: FirestoreSelfQuotaStatus | null;
  /**
   * True when the usage window held more per-minute documents than one answer reads (5,000):
   * the categories' `usage` then leave out the newest minutes.
   */
  usageTruncated: boolean;
  /**
   * The scheduler's heartbeat (`system/heartbeat`, every 5 minutes): its last beat and how many
   * there were; nulls before the first.
   */
  heartbeat: { lastBeatMs: number | null; beats: number | null };
}

export type CollectionStatusResult = CollectionStatusReport;

export interface ListCollectionsResult {
  /** Ordered by id; each as getCollectionStatus reports it. */
  collections: CollectionStatusReport[];
  /** More collections matched than `limit`: the ones after the last id were left out. */
  truncated: boolean;
  /** Documents that did not parse as a collection (their ids), left out of `collections`. */
  unreadable: string[];
}
