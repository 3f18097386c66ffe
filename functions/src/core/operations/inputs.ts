import { z } from 'zod';
import { collectionStatuses } from '../pipeline/collection-schema';
import { phaseScheduleSchema, phaseSchema } from '../pipeline/phases';
import { apiIdSchema, documentIdSchema, epochMs, percent, textSchema } from './input-primitives';
import { roleSchema } from './roles';

/**
 * The input of every callable: strict objects (an unknown key is an error, never silently
 * dropped), bounded numbers and strings, so whatever passes can be written as it is.
 */

// The pieces inputs are built of (input-primitives.ts) are part of the API as well; the inputs
// of configuration changes and of the callables over collected data are in
// configuration-inputs.ts and data-inputs.ts.
export {
  apiIdSchema,
  documentIdSchema,
  MAX_EPOCH_MS,
  textSchema,
} from './input-primitives';

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

export const setUserRoleInput = z.strictObject({
  /** A Firebase Auth uid. */
  uid: textSchema(128).min(1),
  /** The user's only role from now on; null removes it. */
  role: roleSchema.nullable(),
});
