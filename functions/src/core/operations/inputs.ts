import { z } from 'zod';
import { BACKUP_ID, BACKUP_PROJECT_ID } from '../backup/backup-schedule';
import { EXPORTABLE_COLLECTIONS, SCHEDULED_BACKUP_COLLECTIONS } from '../backup/backup-scope';
import { flagsSchema, limitSchema } from '../config';
import { idSchema } from '../ids';
import { collectionStatuses } from '../pipeline/collections';
import { type PipelineConfig, pipelineConfigSchema } from '../pipeline/config';
import { phaseScheduleSchema, phaseSchema } from '../pipeline/phases';
import { salesMarketplaceIdSchema } from '../upstreams/sales';
import { roleSchema } from './roles';

/**
 * The input of every callable: strict objects (an unknown key is an error, never silently
 * dropped), bounded numbers and strings, so whatever passes can be written as it is.
 */

/**
 * Names every plain object inherits (`constructor`, `toString`...): as ids they would read a
 * prototype member wherever ids key a plain object (targets, marketplaces, emulators' stores).
 */
function inherited(s: string): boolean {
  return s in Object.prototype;
}

/** Provider, category, collection and marketplace ids (as core/config.ts stores them). */
export const apiIdSchema = idSchema;

const percent = z.number().min(0).max(100);

/** Latest millisecond a Firestore Timestamp holds (9999-12-31T23:59:59.999Z). */
export const MAX_EPOCH_MS = 253_402_300_799_999;
const epochMs = z.number().int().min(0).max(MAX_EPOCH_MS);

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Text Firestore and JSON can carry: valid UTF-16 (no lone surrogates), bounded. */
export function textSchema(max: number) {
  return z
    .string()
    .max(max)
    .refine((s) => !LONE_SURROGATE.test(s), 'must be valid Unicode text');
}

/** TextEncoder rather than Buffer: browsers (the typed client) have it too. */
const utf8 = new TextEncoder();

/** A Firestore document id: no '/', not '.' or '..', not `__x__`, at most 1,500 bytes. */
export const documentIdSchema = textSchema(500)
  .min(1)
  .refine(
    (s) =>
      !s.includes('/') &&
      s !== '.' &&
      s !== '..' &&
      !/^__.*__$/.test(s) &&
      !inherited(s) &&
      utf8.encode(s).length <= 1500,
    'not usable as a document id',
  );

/** No input: `{}` (a missing payload counts as `{}`). */
export const emptyInput = z.strictObject({});

export const getStatusInput = z.strictObject({
  /** Usage per category is summed over this many recent minutes (default 5). */
  usageWindowMinutes: z.number().int().min(1).max(60).optional(),
});

export const getCollectionStatusInput = z.strictObject({ id: apiIdSchema });

/** The audit log, newest first, a page at a time (admins: it holds every change's before/after). */
export const listAuditLogInput = z.strictObject({
  /** Entries per page (default 50, at most 200). */
  limit: z.number().int().min(1).max(200).optional(),
  /** The id of the last entry of the previous page (its `nextCursor`). */
  startAfter: documentIdSchema.optional(),
  /** Only entries about this document (`categories/deals`, `users/{uid}`), exactly. */
  target: textSchema(1_500).min(1).optional(),
  /** Only entries of this callable or scheduled change (`pauseCategory`, `followDeadlines`). */
  what: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9]{0,62}$/, 'a callable name')
    .optional(),
});

/** Every collection (or those of one status), by id, with its status report. */
export const listCollectionsInput = z.strictObject({
  status: z.enum(collectionStatuses).optional(),
  /** Collections per answer (default 100, at most 200); `truncated` says when there were more. */
  limit: z.number().int().min(1).max(200).optional(),
});

/** A stalled (or running) collection to run again, its lost work re-issued. */
export const restartCollectionInput = z.strictObject({ id: apiIdSchema });

/** A phase schedule with strict phases (the core's schema checks the order). */
const phasesInput = z
  .array(z.strictObject(phaseSchema.shape))
  .min(1)
  .max(20)
  .pipe(phaseScheduleSchema);

export const startCollectionInput = z.strictObject({
  id: apiIdSchema,
  provider: apiIdSchema,
  category: apiIdSchema,
  /** Products to collect per marketplace, e.g. `{ takealot: 800 }`. */
  targets: z
    .record(apiIdSchema, z.number().int().positive().max(1_000_000_000))
    .refine((t) => Object.keys(t).length > 0, 'at least one marketplace')
    .refine((t) => Object.keys(t).length <= 100, 'at most 100 marketplaces'),
  /** A schedule for this collection only; otherwise the configured one applies. */
  phases: phasesInput.optional(),
  /**
   * When it should be done (epoch ms); `raiseShare` lets Tollgate raise the category's share
   * up to `maxSharePercent` when the ETA passes it (off by default, audited). Null clears it.
   */
  deadline: z
    .strictObject({
      atMs: epochMs,
      raiseShare: z
        .strictObject({ maxSharePercent: percent.min(1) })
        .nullable()
        .default(null),
    })
    .nullable()
    .optional(),
});

export const setCategoryAllocationInput = z
  .strictObject({
    category: apiIdSchema,
    sharePercent: percent.optional(),
    /** Pins the share; null clears the pin. */
    overridePercent: percent.nullable().optional(),
    priority: z.number().int().min(-1_000_000).max(1_000_000).optional(),
    minSharePercent: percent.optional(),
    /**
     * Lowering the share hands the freed share to the provider's other active categories; a
     * raise takes only unassigned share (capped by it). Default false: the share is set as
     * given, and the provider's shares must still fit in 100%.
     */
    redistribute: z.boolean().optional(),
  })
  .refine(
    (i) =>
      i.sharePercent !== undefined ||
      i.overridePercent !== undefined ||
      i.priority !== undefined ||
      i.minSharePercent !== undefined,
    'nothing to change: give sharePercent, overridePercent, priority or minSharePercent',
  );

export const categoryInput = z.strictObject({ category: apiIdSchema });
export const pauseCategoryInput = categoryInput;
export const resumeCategoryInput = categoryInput;

export const clearCooldownInput = z.strictObject({ provider: apiIdSchema });

/** Starts (or lengthens) a provider's cooldown by hand: no call to it until it ends. */
export const startCooldownInput = z.strictObject({
  provider: apiIdSchema,
  /** How long from now (at most 30 days, as any cooldown). */
  seconds: z
    .number()
    .int()
    .min(1)
    .max(30 * 86_400),
  /** Why, for the audit log and the cooldown's history. */
  reason: textSchema(500).min(1),
});

/** Setting and endpoint names as the upstreams use them (`domainId`, `marketplaceIds`, `lwa`). */
const settingName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_]{0,62}$/, 'a name: a letter, then letters, digits or _');

const settingValue = z.union([
  textSchema(2_000),
  z.number().finite(),
  z.boolean(),
  z.array(textSchema(200)).max(100),
]);

/**
 * A provider's limits and settings, each field optional (given ones replace the stored ones;
 * `baseUrl: null` removes it). The merged document is validated as the configuration is, and
 * a provider that does not exist yet is created (it needs limits).
 */
export const setProviderLimitsInput = z
  .strictObject({
    provider: apiIdSchema,
    displayName: textSchema(200).optional(),
    limits: z.array(limitSchema).min(1).max(20).optional(),
    cooldownSeconds: z.number().positive().optional(),
    maxRetryAfterSeconds: z.number().positive().optional(),
    safetyMarginMs: z.number().nonnegative().max(60_000).optional(),
    baseUrl: textSchema(2_000).nullable().optional(),
    endpoints: z.record(settingName, textSchema(2_000)).optional(),
    settings: z.record(settingName, settingValue).optional(),
  })
  .refine((i) => Object.keys(i).some((k) => k !== 'provider'), 'nothing to change');

export const setMaintenanceModeInput = z.strictObject({
  enabled: z.boolean(),
  /** Kept in the audit log. */
  reason: textSchema(500).optional(),
});

export const purgeProviderQueuesInput = z.strictObject({
  provider: apiIdSchema,
  /** Kept in the audit log: purging drops work that was never done. */
  reason: textSchema(500).min(1),
});

/** Every flag except maintenance (setMaintenanceMode), each optional. */
export const flagsPatchSchema = z.strictObject(
  flagsSchema.omit({ maintenance: true }).partial().shape,
);
export type FlagsPatch = z.input<typeof flagsPatchSchema>;

/** Per section of the pipeline configuration, the fields to change. */
export type PipelinePatch = { [K in keyof PipelineConfig]?: Partial<PipelineConfig[K]> };

function unwrapDefaults(schema: z.ZodType): z.ZodType {
  let inner = schema;
  while (inner instanceof z.ZodPrefault || inner instanceof z.ZodDefault) {
    inner = inner.unwrap() as z.ZodType;
  }
  return inner;
}

/**
 * Derived from the pipeline schema, so a section added there can be set here too: each
 * section a strict object of optional fields. A field holding an object (a phase schedule,
 * per-marketplace overrides) is replaced as a whole.
 */
export const pipelinePatchSchema = z.strictObject(
  Object.fromEntries(
    Object.entries(pipelineConfigSchema.shape).map(([section, schema]) => {
      const inner = unwrapDefaults(schema as z.ZodType);
      // Each field optional, as .partial() would make them; a section's own refinements (across
      // its fields) are checked where the patch is merged (setFlags parses the whole result).
      const patch =
        inner instanceof z.ZodObject
          ? z.strictObject(
              Object.fromEntries(
                Object.entries(inner.shape as Record<string, z.ZodType>).map(([k, v]) => [
                  k,
                  v.optional(),
                ]),
              ),
            )
          : inner;
      return [section, patch.optional()];
    }),
  ),
) as unknown as z.ZodType<PipelinePatch, PipelinePatch>;

export const setFlagsInput = z
  .strictObject({ flags: flagsPatchSchema.optional(), pipeline: pipelinePatchSchema.optional() })
  .refine((i) => i.flags !== undefined || i.pipeline !== undefined, 'nothing to change');

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

export const setUserRoleInput = z.strictObject({
  /** A Firebase Auth uid. */
  uid: textSchema(128).min(1),
  /** The user's only role from now on; null removes it. */
  role: roleSchema.nullable(),
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
     * How deferred calls come back: through the provider's work queue at its dispatch rate
     * (`provider-rate`, the default), or at their retry time (`none`: callers without a queue).
     */
    queue: z.enum(['provider-rate', 'none']).optional(),
  })
  .refine((i) => i.to > i.from, { message: 'must be after from', path: ['to'] })
  .refine((i) => i.to - i.from <= MAX_SIMULATE_RANGE_MS, {
    message: 'a range of at most 24 hours',
    path: ['to'],
  });
