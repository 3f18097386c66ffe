import type { QueuePoint, UpstreamPoint, UpstreamTotal } from '../observability/fleet-summary';
import type { ReplayReport } from '../replay/replay';
import type { SelfQuotaWarning } from '../storage/self-quota';
import type { SalesSummary } from '../upstreams/sales';
import type { UsageCounters } from './status-results';

/**
 * What the callables over collected data answer: validation, flushes, quota and fleet
 * statistics, warnings, real-time sales, backup exports and policy replays.
 */

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

/** A replay of recorded demand under the configuration in force and a proposed one. */
export interface SimulatePolicyResult extends ReplayReport {
  /** Recorded demand documents read (at most MAX_DEMAND_DOCS). */
  documents: number;
  /** The policy as applied: which documents it changed. */
  changed: { providers: string[]; categories: string[]; flags: string[] };
}
