// The health check's thresholds (`config/pipeline` field `health`), their defaults, and a reading
// of them that falls back to the defaults rather than break the check.
import { z } from 'zod';
import { formatPath } from '../config';

/** Thresholds, from `config/pipeline` field `health` (every field optional). */
export const healthConfigSchema = z.object({
  /** Share of a provider's recent calls answered "quota exceeded" above which it is degraded. */
  maxErrorRate: z.number().min(0).max(1).default(0.1),
  /** Fewer calls than this in the window: the rate is reported, not judged. */
  minCalls: z.number().int().min(1).default(20),
  /** The window the error rate is measured over, in whole minutes. */
  errorWindowMinutes: z.number().int().min(1).max(60).default(5),
  /** Pending items in any one queue above which it is degraded; null: no limit. */
  maxBacklog: z.number().int().positive().nullable().default(100_000),
  /** Age of a queue's oldest pending item above which it is degraded; null: no limit. */
  maxBacklogAgeMinutes: z
    .number()
    .positive()
    .nullable()
    .default(24 * 60),
});
export type HealthConfig = z.infer<typeof healthConfigSchema>;

export const DEFAULT_HEALTH_CONFIG: HealthConfig = healthConfigSchema.parse({});

/** Reads the thresholds; an invalid value never breaks the health check: defaults, and why. */
export function parseHealthConfig(raw: unknown): { config: HealthConfig; problem?: string } {
  const result = healthConfigSchema.safeParse(raw ?? {});
  if (result.success) return { config: result.data };
  return {
    config: DEFAULT_HEALTH_CONFIG,
    problem: `invalid config/pipeline health (defaults used): ${result.error.issues
      .map((i) => `${formatPath(i.path) || '(root)'}: ${i.message}`)
      .join('; ')}`,
  };
}
