import { z } from 'zod';
import { DEFAULT_PHASES, phaseScheduleSchema } from './phases';

/**
 * The collection document as stored and validated, its configuration and the request that starts
 * or updates one.
 */

const idSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,62}$/, 'lowercase id: letters, digits, - and _');
const epochMs = z.number().int().nonnegative();
const count = z.number().int().nonnegative();

export const collectionConfigSchema = z.object({
  /** Used by collections that carry no schedule of their own. */
  phases: phaseScheduleSchema.prefault(() => DEFAULT_PHASES.map((p) => ({ ...p }))),
  /** A running collection without progress for this long is stalled. */
  stalledAfterMinutes: z.number().positive().default(120),
  /** Rates and estimates look back this far (sampled, see addSample). */
  rateWindowMinutes: z.number().positive().default(360),
  /** At most one rate sample per this interval, which bounds the samples kept. */
  sampleIntervalMinutes: z.number().positive().default(15),
  /**
   * Progress reports coalesce per instance: the collection's document is written once this
   * many products were stored for a marketplace, or after `progressFlushSeconds`, not once per
   * product (progress is a count of stored products, so a late or lost report loses nothing:
   * the heartbeat counts again).
   */
  progressBatch: z.number().int().positive().max(10_000).default(3),
  progressFlushSeconds: z.number().positive().max(3_600).default(60),
  /**
   * Collected products coalesce per instance (the response buffer): stored together, in one
   * transaction and a write per page, once this many are waiting or `resultsFlushSeconds` after
   * the first; each task is answered only once its product is stored.
   */
  resultsBatch: z.number().int().positive().max(30).default(3),
  resultsFlushSeconds: z.number().positive().max(120).default(60),
});
export type CollectionConfig = z.infer<typeof collectionConfigSchema>;
export const DEFAULT_COLLECTION_CONFIG: CollectionConfig = collectionConfigSchema.parse({});

export const collectionStatuses = ['running', 'paused', 'completed', 'stalled'] as const;
export type CollectionStatus = (typeof collectionStatuses)[number];

const targetsSchema = z
  .record(idSchema, z.number().int().positive())
  .refine((targets) => Object.keys(targets).length > 0, 'at least one marketplace');

export const startCollectionRequestSchema = z.object({
  id: idSchema,
  provider: idSchema,
  category: idSchema,
  /** Products to collect per marketplace, e.g. `{ takealot: 800 }`. */
  targets: targetsSchema,
  /** A schedule for this collection only; otherwise the configured one applies. */
  phases: phaseScheduleSchema.optional(),
  /** When it should be done (null clears a deadline; absent keeps the one it has). */
  deadline: z
    .lazy(() => deadlineSchema)
    .nullable()
    .optional(),
});
export type StartCollectionRequest = z.infer<typeof startCollectionRequestSchema>;

/**
 * When a collection should be done, and whether Tollgate may raise its category's share to get
 * there (off unless asked): within `maxSharePercent`, taken from categories of the same provider
 * whose own collections are ahead of their deadlines.
 */
export const deadlineSchema = z.object({
  atMs: epochMs,
  raiseShare: z
    .object({ maxSharePercent: z.number().min(1).max(100) })
    .nullable()
    .default(null),
});
export type Deadline = z.infer<typeof deadlineSchema>;

export const phaseEntrySchema = z.object({
  phase: z.number().int().positive(),
  sharePercent: z.number().min(0).max(100),
  at: epochMs,
});
export type PhaseEntry = z.infer<typeof phaseEntrySchema>;

/** Collected counts per marketplace at one time; a marketplace missing had collected nothing. */
export const progressSampleSchema = z.object({
  at: epochMs,
  collected: z.record(z.string(), count),
});
export type ProgressSample = z.infer<typeof progressSampleSchema>;

export const collectionSchema = z.object({
  id: idSchema,
  provider: idSchema,
  category: idSchema,
  marketplaces: z
    .record(
      idSchema,
      z.object({ target: z.number().int().positive(), collected: count.default(0) }),
    )
    .refine((m) => Object.keys(m).length > 0, 'at least one marketplace'),
  phase: z.number().int().positive(),
  status: z.enum(collectionStatuses),
  startedAt: epochMs,
  /** Last change of any kind (progress report, target, status). */
  lastUpdateAt: epochMs,
  /** Last time a count went up; stalled detection measures from here. */
  lastProgressAt: epochMs,
  phaseHistory: z.array(phaseEntrySchema).min(1),
  /** A small ring of samples for recent rates (see addSample). */
  samples: z.array(progressSampleSchema).default([]),
  phases: phaseScheduleSchema.nullable().default(null),
  stalledAt: epochMs.nullable().default(null),
  restarts: count.default(0),
  deadline: deadlineSchema.nullable().default(null),
  /** Since when its ETA is past its deadline (a warning is stored once per such episode). */
  lateSince: epochMs.nullable().default(null),
  /** When Tollgate last raised its category's share to meet the deadline. */
  deadlineRaisedAt: epochMs.nullable().default(null),
});
export type Collection = z.infer<typeof collectionSchema>;
