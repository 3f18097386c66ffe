import { z } from 'zod';
import { BACKUP_ID, BACKUP_PROJECT_ID } from '../backup/backup-schedule';
import { EXPORTABLE_COLLECTIONS, SCHEDULED_BACKUP_COLLECTIONS } from '../backup/backup-scope';
import { salesMarketplaceIdSchema } from '../upstreams/sales';
import { apiIdSchema, documentIdSchema, epochMs } from './input-primitives';

/**
 * The inputs of the callables over collected data: validation, flushes, quota statistics,
 * warnings, real-time sales, backups and policy replays.
 */

export const validateDataInput = z.strictObject({
  /** One marketplace only (every marketplace with products by default). */
  marketplace: apiIdSchema.optional(),
});

export const getValidationReportInput = z.strictObject({
  /** One marketplace's results (every marketplace by default). */
  marketplace: apiIdSchema.optional(),
  /** Completed runs listed, newest first (default 10, at most 30). */
  history: z.number().int().min(1).max(30).optional(),
  /** Failing products of the latest run listed (default 20, at most 100). */
  findings: z.number().int().min(0).max(100).optional(),
});

export const forceFlushInput = z.strictObject({
  /** The work items to write now; all pending ones when absent. */
  workItemIds: z.array(documentIdSchema).min(1).max(500).optional(),
});

/** The longest getQuotaStats range: the 30 days the per-minute statistics are kept. */
export const MAX_QUOTA_STATS_MINUTES = 30 * 24 * 60;

export const getQuotaStatsInput = z.strictObject({
  provider: apiIdSchema.optional(),
  category: apiIdSchema.optional(),
  /** How many recent minutes (default 60, at most the 30 days kept: 43,200). */
  minutes: z.number().int().min(1).max(MAX_QUOTA_STATS_MINUTES).optional(),
});

export const getRecentWarningsInput = z.strictObject({
  limit: z.number().int().min(1).max(200).optional(),
  sinceMs: epochMs.optional(),
});

export const getRealtimeSalesSummaryInput = z.strictObject({
  /** How far back the summary reaches (default 24 hours, at most 90 days). */
  sinceHours: z.number().positive().max(2_160).optional(),
  /**
   * One marketplace (its money figures are in one currency); all stored ones otherwise. The
   * repository's own schema: an id it would refuse is invalid input, not stored data.
   */
  marketplaceId: salesMarketplaceIdSchema.optional(),
  /** Best sellers listed (default 10). */
  top: z.number().int().min(1).max(100).optional(),
});

/** The longest window one refresh fetches (a week: 28 report chunks per marketplace). */
export const MAX_REFRESH_WINDOW_HOURS = 7 * 24;

/** A window a refresh fetches: the last 3 or 24 hours, or explicit instants (epoch ms). */
export const refreshWindowSchema = z.union([
  z.enum(['last_3h', 'last_24h']),
  z
    .strictObject({ startMs: epochMs, endMs: epochMs })
    .refine((w) => w.endMs > w.startMs, { message: 'endMs must be after startMs', path: ['endMs'] })
    .refine((w) => w.endMs - w.startMs <= MAX_REFRESH_WINDOW_HOURS * 3_600_000, {
      message: `at most ${MAX_REFRESH_WINDOW_HOURS} hours`,
      path: ['endMs'],
    }),
]);
export type RefreshWindow = z.infer<typeof refreshWindowSchema>;

export const refreshRealtimeSalesInput = z
  .strictObject({
    /**
     * Fetch this window now, whatever the sync already holds (an upstream restatement, a gap),
     * and answer its summary. Without it the refresh runs the sync's due work.
     */
    window: refreshWindowSchema.optional(),
    /** The summary answered with the refresh reaches this far back (default 24 hours). */
    sinceHours: z.number().positive().max(2_160).optional(),
  })
  .refine((i) => i.window === undefined || i.sinceHours === undefined, {
    message: 'give a window or sinceHours, not both',
    path: ['sinceHours'],
  });

export const exportBackupInput = z.strictObject({
  /**
   * Top-level collections to export: only the backed-up ones (core/backup/backup-scope.ts); the audit
   * log for admins only. Default: every restorable collection (not the audit log).
   */
  collections: z
    .array(z.enum(EXPORTABLE_COLLECTIONS))
    .min(1)
    .max(EXPORTABLE_COLLECTIONS.length)
    .refine((c) => new Set(c).size === c.length, 'each collection at most once')
    .optional(),
});

export const importBackupInput = z
  .strictObject({
    /** The backup file's text, exactly as exported (its checksum is verified first). */
    backup: z.string().min(1).max(9_000_000).optional(),
    /**
     * Or a scheduled backup's id (`20260110T030000123Z-0123456789ab`, its folder under the backup
     * bucket's `scheduled/{project}/`): restored from Cloud Storage page by page, with collected
     * data.
     */
    scheduled: z.string().regex(BACKUP_ID, 'a scheduled backup id').optional(),
    /** With `scheduled`: the project whose backup it is (default: this one, e.g. a new one's). */
    project: z.string().regex(BACKUP_PROJECT_ID, 'a project id').optional(),
    /** With `scheduled`: only these collections (default: all the backup holds). */
    collections: z
      .array(z.enum(SCHEDULED_BACKUP_COLLECTIONS))
      .min(1)
      .max(SCHEDULED_BACKUP_COLLECTIONS.length)
      .refine((c) => new Set(c).size === c.length, 'each collection at most once')
      .optional(),
    /** With `scheduled`: resume at this page (1-based), as a restore stopped by its deadline says. */
    fromPage: z.number().int().min(1).max(1_000_000).optional(),
    /** Verify and count only. */
    dryRun: z.boolean().optional(),
  })
  .refine((i) => (i.backup === undefined) !== (i.scheduled === undefined), {
    message: 'give a backup file or a scheduled backup id, not both',
    path: ['backup'],
  })
  .refine(
    (i) =>
      i.scheduled !== undefined ||
      (i.project === undefined && i.collections === undefined && i.fromPage === undefined),
    {
      message: 'project, collections and fromPage are for a scheduled backup',
      path: ['scheduled'],
    },
  );

/** The longest range one simulatePolicy replays: a day (the callable's deadline bounds it). */
export const MAX_SIMULATE_RANGE_MS = 24 * 3_600_000;

/** A configuration document of a policy: fields over the current document of the same id. */
const policyDocument = z
  .record(z.string().max(100), z.unknown())
  .refine((doc) => typeof doc.id === 'string' && doc.id.length > 0, {
    message: 'each document names its id',
    path: ['id'],
  });

export const simulatePolicyInput = z
  .strictObject({
    /** The recorded range to replay (epoch ms): at most a day within the 30 days kept. */
    from: epochMs,
    to: epochMs,
    /** The configuration documents that would change (whole or partial, matched by id). */
    policy: z.strictObject({
      providers: z.array(policyDocument).max(20).optional(),
      categories: z.array(policyDocument).max(500).optional(),
      flags: z.record(z.string().max(100), z.unknown()).optional(),
    }),
    /** Only this provider's demand (default: all recorded in the range). */
    provider: apiIdSchema.optional(),
    /** Simulated instances (default 10). */
    instances: z.number().int().min(1).max(100).optional(),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .optional(),
    /**
     * Work queue: the provider's, at its dispatch rate, carrying first asks and deferred calls
     * (`provider-rate`, the default), or none, deferred calls back at their retry time (`none`:
     * callers without a queue).
     */
    queue: z.enum(['provider-rate', 'none']).optional(),
  })
  .refine((i) => i.to > i.from, { message: 'must be after from', path: ['to'] })
  .refine((i) => i.to - i.from <= MAX_SIMULATE_RANGE_MS, {
    message: 'a range of at most 24 hours',
    path: ['to'],
  });
