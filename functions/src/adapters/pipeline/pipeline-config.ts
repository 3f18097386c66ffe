import type { Firestore } from 'firebase-admin/firestore';
import { parseDocument } from '../../core/config';
import { type PipelineConfig, pipelineConfigSchema } from '../../core/pipeline/config';

export const PIPELINE_CONFIG_PATH = 'config/pipeline';

/**
 * Reads the pipeline configuration, validated on every read like the runtime configuration
 * (config-repository.ts). A missing document means the defaults.
 */
export async function loadPipelineConfig(db: Firestore): Promise<PipelineConfig> {
  const snapshot = await db.doc(PIPELINE_CONFIG_PATH).get();
  return parseDocument(pipelineConfigSchema, PIPELINE_CONFIG_PATH, snapshot.data() ?? {});
}
