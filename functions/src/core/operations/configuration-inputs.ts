import { z } from 'zod';
import { flagsSchema, limitSchema } from '../config';
import { type PipelineConfig, pipelineConfigSchema } from '../pipeline/config';
import { apiIdSchema, textSchema } from './input-primitives';

/** The inputs of configuration changes: provider limits, maintenance, queue purges, flags. */

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
