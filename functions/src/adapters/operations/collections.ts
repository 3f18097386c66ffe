import { isDeepStrictEqual } from 'node:util';
import type { z } from 'zod';
import { parseDocument } from '../../core/config';
import {
  type CollectionStatusResult,
  failedPrecondition,
  type getCollectionStatusInput,
  notFound,
  type RestartCollectionResult,
  type restartCollectionInput,
  type StartCollectionResult,
  type startCollectionInput,
} from '../../core/operations';
import { restartStalled } from '../../core/pipeline/collection-lifecycle';
import { type Collection, collectionSchema } from '../../core/pipeline/collection-schema';
import {
  CollectionConflictError,
  startCollection as startInCore,
} from '../../core/pipeline/collections';
import {
  applyShareChanges,
  redistributeShare,
  type ShareChange,
} from '../../core/pipeline/share-transition';
import { logger } from '../../log';
import { rewindCollectionDiscovery } from '../pipeline/collection-batches';
import {
  COLLECTIONS_PATH,
  CollectionNotFoundError,
  CollectionsRepository,
} from '../pipeline/collections-repository';
import { loadPipelineConfig } from '../pipeline/pipeline-config';
import { readWorkSources, refuseNewShareProblems } from '../pipeline/work-shares';
import { publishAfterChange } from '../quota/republish';
import { writeAudit } from './audit';
import type { OperationContext } from './context';
import {
  categoryPath,
  checkProviderShares,
  providerPath,
  readCategory,
  readProvider,
  readProviderCategories,
} from './documents';
import { syncQueuesAfterChange } from './queues';

/**
 * Starts a collection, or adjusts the targets of the one that exists (a running collection
 * is never restarted: counts, phase and history stay). The same steps as
 * CollectionsRepository.startCollection — the core's startCollection, the phase transition's
 * share redistributed to the provider's other categories and checked against 100% — in one
 * transaction that also writes the audit entry. The provider must exist and own the category,
 * and the category's share must carry the collection's work now and in every later phase
 * (work-shares.ts).
 */
export async function startCollection(
  ctx: OperationContext,
  input: z.output<typeof startCollectionInput>,
): Promise<StartCollectionResult> {
  const { db } = ctx;
  const config = (await loadPipelineConfig(db)).collections;
  const ref = db.collection(COLLECTIONS_PATH).doc(input.id);
  const result = await db.runTransaction(async (tx) => {
    const snapshot = await tx.get(ref);
    const provider = await readProvider(db, tx, input.provider);
    if (!provider) throw notFound('provider', input.provider, providerPath(input.provider));
    const { category } = await readCategory(db, tx, input.category);
    if (category.provider !== input.provider) {
      throw failedPrecondition(
        `category "${category.id}" belongs to provider "${category.provider}", not "${input.provider}"`,
        { category: category.id, provider: category.provider },
      );
    }
    const categories = await readProviderCategories(db, tx, input.provider);
    const current: Collection | undefined = snapshot.exists
      ? parseDocument(collectionSchema, ref.path, snapshot.data())
      : undefined;
    let outcome: ReturnType<typeof startInCore>;
    try {
      outcome = startInCore(current, input, ctx.now(), config);
    } catch (error) {
      if (error instanceof CollectionConflictError) {
        throw failedPrecondition(error.message, { collection: error.collection });
      }
      throw error;
    }
    if (!outcome.changed) {
      return { ...outcome, shareChanges: [] as ShareChange[], auditId: null };
    }

    let shareChanges: ShareChange[] = [];
    if (outcome.transition) {
      shareChanges = redistributeShare(
        categories,
        outcome.transition.category,
        outcome.transition.sharePercent,
      );
      checkProviderShares(provider, applyShareChanges(categories, shareChanges));
    }
    // The category must carry the collection's work at its share now and at every later
    // phase's: a phase change is not refused when the collection gets there.
    const sources = await readWorkSources(db, { tx, provider: provider.id });
    refuseNewShareProblems(
      { providers: [provider], categories, ...sources },
      {
        providers: [provider],
        categories: applyShareChanges(categories, shareChanges),
        ...sources,
        collections: [
          ...sources.collections.filter((c) => c.id !== outcome.collection.id),
          outcome.collection,
        ],
      },
      { laterPhases: true },
    );
    if (current && isDeepStrictEqual(current, outcome.collection) && shareChanges.length === 0) {
      return { ...outcome, changed: false, shareChanges, auditId: null };
    }
    tx.set(ref, outcome.collection);
    for (const change of shareChanges) {
      tx.update(db.doc(categoryPath(change.category)), { sharePercent: change.toPercent });
    }
    const auditId = writeAudit(db, tx, {
      who: ctx.actor,
      what: 'startCollection',
      target: ref.path,
      before: current ?? null,
      after: outcome.collection,
      related: shareChanges.map((c) => ({
        path: categoryPath(c.category),
        before: { sharePercent: c.fromPercent },
        after: { sharePercent: c.toPercent },
      })),
      atMs: ctx.now(),
    });
    return { ...outcome, shareChanges, auditId };
  });
  if (result.transition) {
    const { from, to, sharePercent } = result.transition;
    logger.info(
      { collection: input.id, from, to, sharePercent, shareChanges: result.shareChanges },
      from === 0 ? 'collection started' : 'collection phase changed',
    );
  }
  const allocationPublished =
    result.shareChanges.length > 0
      ? await publishAfterChange(db, ctx.now(), input.provider)
      : false;
  // A new or changed collection changes the work its queue carries (and which shares count
  // for its rate), shares or not.
  if (result.created || result.changed || result.shareChanges.length > 0) {
    await syncQueuesAfterChange(ctx, input.provider);
  }
  const restarted = result.changed && result.restarted === true;
  if (restarted) await reissueWork(ctx, result.collection);
  return {
    collection: result.collection,
    created: result.created,
    restarted,
    changed: result.changed,
    transition: result.transition,
    shareChanges: result.shareChanges,
    allocationPublished,
    auditId: result.auditId,
  };
}

/**
 * Runs a stalled collection again (a running one too, when its work seems lost before the stall
 * shows): counts, phase and history kept, the restart counted and audited; then its lost work is
 * re-issued: the listing is discovered again from where the collected count stands (products
 * already stored are skipped) and the provider's batch starter hands out the next batch now,
 * under task ids of the new generation.
 */
export async function restartCollection(
  ctx: OperationContext,
  input: z.output<typeof restartCollectionInput>,
): Promise<RestartCollectionResult> {
  const { db } = ctx;
  const ref = db.collection(COLLECTIONS_PATH).doc(input.id);
  const result = await db.runTransaction(async (tx) => {
    const snapshot = await tx.get(ref);
    if (!snapshot.exists) throw notFound('collection', input.id, ref.path);
    const current = parseDocument(collectionSchema, ref.path, snapshot.data());
    const now = ctx.now();
    let next: Collection;
    if (current.status === 'stalled') next = restartStalled(current, now).collection;
    else if (current.status === 'running') {
      next = { ...current, restarts: current.restarts + 1, lastUpdateAt: now };
    } else {
      throw failedPrecondition(
        `collection "${input.id}" is ${current.status}: only a stalled or running one restarts${current.status === 'paused' ? ' (resume its category)' : ''}`,
        { collection: input.id, status: current.status },
      );
    }
    tx.set(ref, next);
    const auditId = writeAudit(db, tx, {
      who: ctx.actor,
      what: 'restartCollection',
      target: ref.path,
      before: current,
      after: next,
      atMs: now,
    });
    return { collection: next, auditId };
  });
  logger.info(
    { collection: input.id, restarts: result.collection.restarts },
    'collection restarted',
  );
  const reissued = await reissueWork(ctx, result.collection);
  return { collection: result.collection, reissued, auditId: result.auditId };
}

/** Re-issues a restarted collection's work (see restartCollection); its summary, or null. */
async function reissueWork(ctx: OperationContext, collection: Collection): Promise<unknown> {
  await rewindCollectionDiscovery(ctx.db, collection);
  if (!ctx.startBatch) return null;
  return (await ctx.startBatch(collection, ctx.now())) ?? null;
}

/** The status report, with the category's effective share. */
export async function getCollectionStatus(
  ctx: OperationContext,
  input: z.output<typeof getCollectionStatusInput>,
): Promise<CollectionStatusResult> {
  try {
    return await new CollectionsRepository(ctx.db, { now: ctx.now }).status(input.id);
  } catch (error) {
    if (error instanceof CollectionNotFoundError) {
      throw notFound('collection', input.id, `${COLLECTIONS_PATH}/${input.id}`);
    }
    throw error;
  }
}
