import type { DocumentData, Firestore, Query, Transaction } from 'firebase-admin/firestore';
import { z } from 'zod';
import { parseDocument } from '../../core/config';
import { batchingConfigSchema } from '../../core/pipeline/batching';
import {
  introducedShareProblems,
  type PhasedCollection,
  type WorkConfiguration,
} from '../../core/pipeline/category-work';
import { collectionConfigSchema, collectionSchema } from '../../core/pipeline/collection-schema';
import { shareError } from '../../core/quota/share-check';
import { PIPELINE_CONFIG_PATH } from './pipeline-config';

/**
 * Reads what decides each category's work (the collections and `config/pipeline`'s batching and
 * phases) for the share check of core/pipeline/category-work.ts, and applies it: on every load
 * of the runtime configuration (config-repository.ts) and on operators' changes.
 */

/** collections-repository's COLLECTIONS_PATH (importing it would make an import cycle). */
const COLLECTIONS = 'collections';
const COLLECTION_FIELDS = ['provider', 'category', 'status', 'phase', 'phases'] as const;

/** Only the sections of config/pipeline that decide what work asks; the rest is not read. */
const workPipelineSchema = z.object({
  batching: batchingConfigSchema.prefault({}),
  collections: collectionConfigSchema.pick({ phases: true }).prefault({}),
});

const workCollectionSchema = collectionSchema.pick({
  provider: true,
  category: true,
  status: true,
  phase: true,
  phases: true,
});

export type WorkSources = Pick<WorkConfiguration, 'batching' | 'defaultPhases' | 'collections'>;

/** The readers of a transaction, or plain reads. */
function reader(tx: Transaction | undefined) {
  return {
    doc: (path: string, db: Firestore) => (tx ? tx.get(db.doc(path)) : db.doc(path).get()),
    query: (query: Query) => (tx ? tx.get(query) : query.get()),
  };
}

/**
 * The collections (only their provider, category, status and phases) and the pipeline's
 * batching and default phases; in `tx` when given, only `provider`'s collections when given.
 * A collection document out of shape is skipped here: where collections are used it is
 * reported (collection batches, stalled detection).
 */
export async function readWorkSources(
  db: Firestore,
  options: { tx?: Transaction; provider?: string } = {},
): Promise<WorkSources> {
  const read = reader(options.tx);
  let query: Query = db.collection(COLLECTIONS);
  if (options.provider !== undefined) query = query.where('provider', '==', options.provider);
  const [pipeline, collections] = await Promise.all([
    read.doc(PIPELINE_CONFIG_PATH, db),
    read.query(query.select(...COLLECTION_FIELDS)),
  ]);
  return {
    ...parseWorkPipeline(pipeline.data()),
    collections: collections.docs.flatMap((doc): PhasedCollection[] => {
      const parsed = workCollectionSchema.safeParse(doc.data());
      return parsed.success ? [{ id: doc.id, ...parsed.data }] : [];
    }),
  };
}

/** `config/pipeline`'s batching and default phases (defaults when the document is missing). */
export function parseWorkPipeline(
  data: DocumentData | undefined,
): Pick<WorkSources, 'batching' | 'defaultPhases'> {
  const parsed = parseDocument(workPipelineSchema, PIPELINE_CONFIG_PATH, data ?? {});
  return { batching: parsed.batching, defaultPhases: parsed.collections.phases };
}

/**
 * Refuses an operator's change that would leave a category unable to carry its work, now or,
 * with `laterPhases`, at a share its collections' later phases will set: the ConfigError
 * (failed-precondition) names the category, its share field and what the work asks. Problems
 * the stored configuration already had are not this change's and do not block it.
 */
export function refuseNewShareProblems(
  before: WorkConfiguration,
  after: WorkConfiguration,
  options: { laterPhases?: boolean } = {},
): void {
  const introduced = introducedShareProblems(before, after, options);
  if (introduced.length > 0) throw shareError(introduced);
}
