import { z } from 'zod';
import { backupScheduleConfigSchema } from '../backup/backup-schedule';
import { healthConfigSchema } from '../observability/health-config';
import { validationConfigSchema } from '../validation';
import { aggregationConfigSchema } from './aggregation';
import { auditConfigSchema } from './audits';
import { backfillConfigSchema } from './backfill';
import { batchingConfigSchema } from './batching';
import { collectionConfigSchema } from './collection-schema';
import { historicalConfigSchema } from './historical';

/**
 * The pipeline's runtime configuration (one document, e.g. `config/pipeline`); every field has
 * a default, so an empty or missing document means the defaults. The audit on/off switches are
 * flags (config/flags).
 */
export const pipelineConfigSchema = z.object({
  collections: collectionConfigSchema.prefault({}),
  backfill: backfillConfigSchema.prefault({}),
  audits: auditConfigSchema.prefault({}),
  batching: batchingConfigSchema.prefault({}),
  aggregation: aggregationConfigSchema.prefault({}),
  validation: validationConfigSchema.prefault({}),
  historical: historicalConfigSchema.prefault({}),
  health: healthConfigSchema.prefault({}),
  /** Scheduled backups of configuration and collected data (core/backup/scheduled-layout.ts). */
  backups: backupScheduleConfigSchema.prefault({}),
});
export type PipelineConfig = z.infer<typeof pipelineConfigSchema>;
