import type { Category, Flags, Limit, Provider } from '../config';
import type { QueuePoint, UpstreamPoint, UpstreamTotal } from '../observability/fleet-summary';
import type { CollectionStatusReport } from '../pipeline/collection-status';
import type { Collection, PhaseTransition } from '../pipeline/collections';
import type { PipelineConfig } from '../pipeline/config';
import type { ShareChange } from '../pipeline/share-transition';
import type { ReplayReport } from '../replay/replay';
import type { FirestoreOp, QuotaWindow, SelfQuotaWarning } from '../storage/self-quota';
import type { UsageCounter } from '../storage/write-buffer/usage-stats';
import type { SalesSummary } from '../upstreams/sales';
import type { Role } from './roles';

/** What each callable answers. Times are epoch milliseconds; everything is plain JSON. */

/** Every change answers with the audit entry it wrote (null when nothing changed). */
export interface Audited {
  auditId: string | null;
}

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

/** One audit log entry as stored (Timestamps as epoch ms). */
export interface AuditLogEntry {
  id: string;
  who: { uid: string; email: string | null; role: Role | string };
  /** The callable, or the scheduled change. */
  what: string;
  target: string;
  /**
   * The values before and after; one whose JSON exceeds 4,000 characters is served as
   * `{ truncated: true, bytes, preview }` (its JSON's length and first 1,000 characters).
   */
  before: unknown;
  after: unknown;
  atMs: number;
  /** How many related changes the entry stored (they are not served: an import has thousands). */
  relatedCount: number;
  reason?: string;
}

export interface ListAuditLogResult {
  /** Newest first. */
  entries: AuditLogEntry[];
  /** Pass as `startAfter` for the next page; null when this page is the last. */
  nextCursor: string | null;
}

export interface ListCollectionsResult {
  /** Ordered by id; each as getCollectionStatus reports it. */
  collections: CollectionStatusReport[];
  /** More collections matched than `limit`: the ones after the last id were left out. */
  truncated: boolean;
  /** Documents that did not parse as a collection (their ids), left out of `collections`. */
  unreadable: string[];
}

export interface StartCollectionResult extends Audited {
  collection: Collection;
  created: boolean;
  /** A stalled collection was restarted (its lost work re-issued, as restartCollection does). */
  restarted: boolean;
  /** False when the request repeated what the collection had (nothing written). */
  changed: boolean;
  transition: PhaseTransition | null;
  shareChanges: ShareChange[];
  allocationPublished: boolean;
}

export interface RestartCollectionResult extends Audited {
  collection: Collection;
  /** What the provider's batch starter handed out again (its summary), null without one. */
  reissued: unknown;
}

export interface CategoryChangeResult extends Audited {
  category: Category;
  changed: boolean;
  shareChanges: ShareChange[];
  allocationPublished: boolean;
}

export type SetCategoryAllocationResult = CategoryChangeResult;

export interface PauseCategoryResult extends CategoryChangeResult {
  /** Collections of the category paused or resumed with it. */
  collections: string[];
}

export interface StartCooldownResult extends Audited {
  provider: string;
  /** The cooldown in force after the call (a longer one running is kept). */
  cooldown: CooldownStatus;
  /** False when a cooldown already ran at least that long. */
  changed: boolean;
}

export interface SetProviderLimitsResult extends Audited {
  provider: Provider;
  created: boolean;
  changed: boolean;
  /** The new limits reach the gate from this instant (the allocation's lead). */
  effectiveFromMs: number | null;
  allocationPublished: boolean;
}

export interface ClearCooldownResult extends Audited {
  provider: string;
  cleared: boolean;
  /** The cooldown that was cleared. */
  cooldown: CooldownStatus | null;
}

/** A provider queue's state as an operation left it (error: it could not be changed). */
export interface QueueStateChange {
  queue: string;
  state: 'RUNNING' | 'PAUSED' | 'DISABLED' | 'UNKNOWN';
  error?: string;
}

export interface SetMaintenanceModeResult extends Audited {
  maintenance: boolean;
  changed: boolean;
  /** The provider queues, paused while maintenance is on (empty where none are administered). */
  queues: QueueStateChange[];
}

export interface PurgeProviderQueuesResult extends Audited {
  provider: string;
  /** Per queue, the tasks Cloud Tasks counted just before it dropped them. */
  queues: Array<{ queue: string; dropped: number; error?: string }>;
  dropped: number;
}

export interface SetFlagsResult extends Audited {
  flags: Flags;
  pipeline: PipelineConfig;
  changed: boolean;
}

/** A run's numbers, for one marketplace or all. */
export interface ValidationNumbers {
  products: number;
  passed: number;
  failed: number;
  passRate: number | null;
}

export interface ValidationRunLine extends ValidationNumbers {
  runId: string;
  startedAt: number;
  completedAt: number;
}

export interface ValidationFindingLine {
  product: string;
  marketplace: string;
  productKey: string;
  collection: string;
  rules: string[];
  findings: Array<{ rule: string; count: number }>;
  /** The re-collection the run scheduled for it. */
  fix: { id: string; result: string } | null;
}

export interface ValidationReportResult {
  /** The latest completed run (that checked the marketplace, when one is named). */
  latest: (ValidationRunLine & { marketplaces: Record<string, ValidationNumbers> }) | null;
  /** Completed runs, newest first; numbers of the marketplace when one is named. */
  history: ValidationRunLine[];
  /** Failing products of the latest run (of the marketplace when one is named). */
  findings: ValidationFindingLine[];
  /** More failing products than listed. */
  findingsTruncated: boolean;
}

export interface ValidateDataResult {
  runId: string;
  status: 'completed';
  startedAt: number;
  completedAt: number;
  products: number;
  passed: number;
  failed: number;
  passRate: number | null;
  marketplaces: Record<
    string,
    { products: number; passed: number; failed: number; passRate: number | null }
  >;
  fixes: Record<string, number>;
  /** One entry per commit the run made (see the audit log). */
  auditIds: string[];
}

export interface ForceFlushResult {
  /** Per work item: written, already-written, not-due or unknown. */
  results: Record<string, { outcome: string; reason?: string; responseCount?: number }>;
  written: number;
  auditIds: string[];
}

export interface QuotaMinute extends UsageCounters {
  minuteMs: number;
  provider: string;
  category: string;
}

export interface QuotaStatsResult {
  fromMs: number;
  toMs: number;
  /** Per provider, category and minute, oldest first. */
  minutes: QuotaMinute[];
  totals: Array<UsageCounters & { provider: string; category: string }>;
  /** True when more minutes matched than one answer holds (the oldest were left out). */
  truncated: boolean;
  /** Every instance's upstream calls and queue depths over the range (fleet statistics). */
  upstream: FleetStatsAnswer;
}

/**
 * Fleet statistics over a getQuotaStats range: read from the per-minute documents up to six
 * hours, from the hourly ones beyond (then `fromMs` is the start of the first hour), merged
 * into steps of `stepMs` so a series holds at most 250 points.
 */
export interface FleetStatsAnswer {
  source: 'minute' | 'hour';
  fromMs: number;
  stepMs: number;
  /** Per step, provider and operation, oldest first: calls by outcome, p50/p95 latency (ms). */
  points: UpstreamPoint[];
  /** Per provider and operation over the range. */
  totals: UpstreamTotal[];
  /** Per step and queue: the mean sampled depth, and the last sampled oldest age. */
  queues: QueuePoint[];
  /** Documents read (at most MAX_FLEET_DOCS). */
  documents: number;
  /** True when the range held more documents than one answer reads (the oldest were left out). */
  truncated: boolean;
}

export interface RecentWarningsResult {
  warnings: SelfQuotaWarning[];
}

export interface SetUserRoleResult extends Audited {
  uid: string;
  role: Role | null;
  previousRole: Role | null;
  changed: boolean;
  /** Custom claims reach the user's ID token at its next refresh (within the hour). */
  claims: Record<string, unknown>;
}

/** The stored real-time sales and how far the auto-sync has come. */
export interface RealtimeSalesSummaryResult {
  summary: SalesSummary;
  /** Everything before this is stored (null before the first sync). */
  syncedUntilMs: number | null;
  /**
   * True when the reach held more hourly buckets than one answer reads (25,000): the summary
   * then covers the newest whole hours only, from `summary.sinceMs` (later than asked).
   */
  truncated: boolean;
}

/**
 * A refresh never fails for quota: it answers `status: 'error'` with the window it tried and
 * the cached summary. `skipped`: the sync is running elsewhere (lease) or cooling down.
 */
export type RefreshRealtimeSalesResult = RealtimeSalesSummaryResult &
  (
    | { status: 'ok'; window: { startMs: number; endMs: number }; stored: number; failed: number }
    | {
        status: 'error';
        error: 'QuotaExceeded';
        message: string;
        window: { startMs: number; endMs: number };
        /** When calls to SP-API may resume. */
        retryAtMs: number | null;
      }
    | { status: 'skipped'; reason: 'running' | 'deferred' | 'deadline'; retryAtMs: number | null }
  );

export interface ExportBackupResult {
  /** The Cloud Storage object the backup file was written to (`gs://{bucket}/{path}`). */
  bucket: string;
  path: string;
  /** SHA-256 (hex) of the object's bytes, to check a download against. */
  sha256: string;
  /** The object's size in bytes. */
  bytes: number;
  /** The backup's own checksum (`sha256:` over its content), which an import verifies. */
  checksum: string;
  createdAt: string;
  /** The collections exported, and documents in all and per top-level collection. */
  collections: string[];
  documents: number;
  byCollection: Record<string, number>;
  /** The export's audit entry (who took which data where). */
  auditId: string;
}

export interface ImportBackupResult extends Audited {
  dryRun: boolean;
  /** Where and when the backup was taken. */
  projectId: string;
  createdAt: string;
  checksum: string;
  /** Documents in the backup, and per top-level collection. */
  documents: number;
  byCollection: Record<string, number>;
  /** Documents written (0 on a dry run). */
  written: number;
  /** One audit entry per batch written (`auditId` is the first). */
  auditIds: string[];
}

/** A replay of recorded demand under the configuration in force and a proposed one. */
export interface SimulatePolicyResult extends ReplayReport {
  /** Recorded demand documents read (at most MAX_DEMAND_DOCS). */
  documents: number;
  /** The policy as applied: which documents it changed. */
  changed: { providers: string[]; categories: string[]; flags: string[] };
}
