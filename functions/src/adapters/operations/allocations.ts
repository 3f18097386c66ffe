import { isDeepStrictEqual } from 'node:util';
import { FieldValue, type Firestore, type Transaction } from 'firebase-admin/firestore';
import type { z } from 'zod';
import type { Category, Provider } from '../../core/config';
import {
  failedPrecondition,
  type PauseCategoryResult,
  type pauseCategoryInput,
  type RelatedChange,
  type SetCategoryAllocationResult,
  type setCategoryAllocationInput,
} from '../../core/operations';
import { pauseCollection, resumeCollection } from '../../core/pipeline/collection-lifecycle';
import { type Collection, collectionSchema } from '../../core/pipeline/collection-schema';
import {
  applyShareChanges,
  redistributeShare,
  type ShareChange,
} from '../../core/pipeline/share-transition';
import { logger } from '../../log';
import { COLLECTIONS_PATH } from '../pipeline/collections-repository';
import { readWorkSources, refuseNewShareProblems } from '../pipeline/work-shares';
import { publishAfterChange } from '../quota/republish';
import { writeAudit } from './audit';
import type { OperationContext } from './context';
import {
  categoryPath,
  checkProviderShares,
  readCategory,
  readProvider,
  readProviderCategories,
} from './documents';
import { syncQueuesAfterChange } from './queues';

/**
 * Category shares, overrides, pauses. Each change is one transaction that reads the provider's
 * categories, applies the change, checks that the provider's shares still fit in 100%
 * (validateRuntimeConfig) and that it leaves no category unable to carry the largest call of
 * its work (work-shares.ts), writes the changed documents and the audit entry; the provider's
 * allocation is republished after it commits.
 */

async function providerOf(db: Firestore, tx: Transaction, category: Category): Promise<Provider> {
  const provider = await readProvider(db, tx, category.provider);
  if (!provider) {
    throw failedPrecondition(
      `category "${category.id}" belongs to provider "${category.provider}", which does not exist`,
      { category: category.id, provider: category.provider },
    );
  }
  return provider;
}

/**
 * Refuses a change of the provider's categories that leaves one unable to carry the largest
 * call of its work (failed-precondition: a ConfigError naming the category and its share).
 */
async function checkWork(
  db: Firestore,
  tx: Transaction,
  provider: Provider,
  before: Category[],
  after: Category[],
): Promise<void> {
  const sources = await readWorkSources(db, { tx, provider: provider.id });
  refuseNewShareProblems(
    { providers: [provider], categories: before, ...sources },
    { providers: [provider], categories: after, ...sources },
  );
}

function shareRelated(changes: ShareChange[], except: string): RelatedChange[] {
  return changes
    .filter((c) => c.category !== except)
    .map((c) => ({
      path: categoryPath(c.category),
      before: { sharePercent: c.fromPercent },
      after: { sharePercent: c.toPercent },
    }));
}

export async function setCategoryAllocation(
  ctx: OperationContext,
  input: z.output<typeof setCategoryAllocationInput>,
): Promise<SetCategoryAllocationResult> {
  const { db } = ctx;
  const id = input.category;
  const result = await db.runTransaction(async (tx) => {
    const { category: current } = await readCategory(db, tx, id);
    const provider = await providerOf(db, tx, current);
    const siblings = (await readProviderCategories(db, tx, current.provider)).filter(
      (c) => c.id !== id,
    );
    const edited: Category = {
      ...current,
      ...(input.overridePercent !== undefined ? { overridePercent: input.overridePercent } : {}),
      ...(input.priority !== undefined ? { priority: input.priority } : {}),
      ...(input.minSharePercent !== undefined ? { minSharePercent: input.minSharePercent } : {}),
    };
    let categories = [edited, ...siblings];
    let shareChanges: ShareChange[] = [];
    if (input.sharePercent !== undefined) {
      if (input.redistribute) {
        shareChanges = redistributeShare(categories, id, input.sharePercent);
      } else if (input.sharePercent !== current.sharePercent) {
        shareChanges = [
          { category: id, fromPercent: current.sharePercent, toPercent: input.sharePercent },
        ];
      }
      categories = applyShareChanges(categories, shareChanges);
    }
    const next = categories[0]!;
    const changed = !isDeepStrictEqual(current, next) || shareChanges.length > 0;
    if (!changed) {
      return { category: current, changed, shareChanges, auditId: null };
    }
    checkProviderShares(provider, categories);
    await checkWork(db, tx, provider, [current, ...siblings], categories);

    const fields: Record<string, unknown> = {};
    for (const key of ['sharePercent', 'overridePercent', 'priority', 'minSharePercent'] as const) {
      if (next[key] !== current[key]) fields[key] = next[key];
    }
    tx.update(db.doc(categoryPath(id)), fields);
    for (const change of shareChanges) {
      if (change.category !== id) {
        tx.update(db.doc(categoryPath(change.category)), { sharePercent: change.toPercent });
      }
    }
    const auditId = writeAudit(db, tx, {
      who: ctx.actor,
      what: 'setCategoryAllocation',
      target: categoryPath(id),
      before: current,
      after: next,
      related: shareRelated(shareChanges, id),
      atMs: ctx.now(),
    });
    return { category: next, changed, shareChanges, auditId };
  });
  return withPublication(ctx, result);
}

/** Collections a category pause or resume acts on: this category's, of its provider. */
async function categoryCollections(
  db: Firestore,
  tx: Transaction,
  category: Category,
): Promise<Collection[]> {
  const snapshot = await tx.get(
    db.collection(COLLECTIONS_PATH).where('category', '==', category.id),
  );
  return snapshot.docs.flatMap((doc) => {
    const parsed = collectionSchema.safeParse(doc.data());
    if (!parsed.success) {
      logger.warn({ collection: doc.id, issues: parsed.error.issues }, 'unreadable collection');
      return [];
    }
    return parsed.data.provider === category.provider && parsed.data.id === doc.id
      ? [parsed.data]
      : [];
  });
}

/** The collections a category pause paused, kept on the category for its resume. */
function pausedByCategory(data: Record<string, unknown> | undefined): string[] {
  const value = data?.pausedCollections;
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function collectionChange(before: Collection, after: Collection): RelatedChange {
  return {
    path: `${COLLECTIONS_PATH}/${before.id}`,
    before: { status: before.status },
    after: { status: after.status },
  };
}

/**
 * Pauses a category: its share is freed to the provider's other categories (the allocation
 * treats a paused category as 0%), and its running or stalled collections are paused with it,
 * so they are neither worked on nor reported stalled. The collections it paused are remembered
 * on the category, so resuming brings back exactly those.
 */
export async function pauseCategory(
  ctx: OperationContext,
  input: z.output<typeof pauseCategoryInput>,
): Promise<PauseCategoryResult> {
  const { db } = ctx;
  const result = await db.runTransaction(async (tx) => {
    const { category: current, snapshot } = await readCategory(db, tx, input.category);
    const collections = await categoryCollections(db, tx, current);
    const now = ctx.now();
    const toPause = collections.filter((c) => c.status === 'running' || c.status === 'stalled');
    if (current.paused && toPause.length === 0) return unchanged(current);

    const paused = toPause.map((c) => ({ before: c, after: pauseCollection(c, now) }));
    const remembered = [
      ...new Set([...pausedByCategory(snapshot.data()), ...toPause.map((c) => c.id)]),
    ];
    const next: Category = { ...current, paused: true };
    tx.update(db.doc(categoryPath(current.id)), { paused: true, pausedCollections: remembered });
    return writePauseChange(
      ctx,
      tx,
      'pauseCategory',
      { before: current, after: next },
      paused,
      now,
    );
  });
  return withPublication(ctx, result);
}

/**
 * Resumes a category and the collections its pause paused (those still paused). Its share
 * counts again, so the provider's shares must fit in 100%: if other categories took the room
 * meanwhile, the resume fails with failed-precondition and nothing changes.
 */
export async function resumeCategory(
  ctx: OperationContext,
  input: z.output<typeof pauseCategoryInput>,
): Promise<PauseCategoryResult> {
  const { db } = ctx;
  const result = await db.runTransaction(async (tx) => {
    const { category: current, snapshot } = await readCategory(db, tx, input.category);
    const listed = pausedByCategory(snapshot.data());
    if (!current.paused && listed.length === 0) return unchanged(current);

    const provider = await providerOf(db, tx, current);
    const siblings = (await readProviderCategories(db, tx, current.provider)).filter(
      (c) => c.id !== current.id,
    );
    const collections = (await categoryCollections(db, tx, current)).filter((c) =>
      listed.includes(c.id),
    );
    const next: Category = { ...current, paused: false };
    checkProviderShares(provider, [next, ...siblings]);
    await checkWork(db, tx, provider, [current, ...siblings], [next, ...siblings]);

    const now = ctx.now();
    const resumed = collections
      .filter((c) => c.status === 'paused')
      .map((c) => ({ before: c, after: resumeCollection(c, now) }));
    tx.update(db.doc(categoryPath(current.id)), {
      paused: false,
      pausedCollections: FieldValue.delete(),
    });
    return writePauseChange(
      ctx,
      tx,
      'resumeCategory',
      { before: current, after: next },
      resumed,
      now,
    );
  });
  return withPublication(ctx, result);
}

/** The result of a committed category change, with its provider's allocation republished. */
async function withPublication<R extends { changed: boolean; category: Category }>(
  ctx: OperationContext,
  result: R,
): Promise<R & { allocationPublished: boolean }> {
  const allocationPublished = result.changed
    ? await publishAfterChange(ctx.db, ctx.now(), result.category.provider)
    : false;
  if (result.changed) await syncQueuesAfterChange(ctx, result.category.provider);
  return { ...result, allocationPublished };
}

/** A pause or resume's result, before the allocation is republished. */
type PauseChange = Omit<PauseCategoryResult, 'allocationPublished'>;

function unchanged(category: Category): PauseChange {
  return { category, changed: false, shareChanges: [], auditId: null, collections: [] };
}

/** A pause or resume's collection writes and audit entry, in its transaction; its result. */
function writePauseChange(
  ctx: OperationContext,
  tx: Transaction,
  what: 'pauseCategory' | 'resumeCategory',
  category: { before: Category; after: Category },
  collections: Array<{ before: Collection; after: Collection }>,
  now: number,
): PauseChange {
  for (const { after } of collections) {
    tx.set(ctx.db.collection(COLLECTIONS_PATH).doc(after.id), after);
  }
  const auditId = writeAudit(ctx.db, tx, {
    who: ctx.actor,
    what,
    target: categoryPath(category.before.id),
    before: category.before,
    after: category.after,
    related: collections.map(({ before, after }) => collectionChange(before, after)),
    atMs: now,
  });
  return {
    category: category.after,
    changed: true,
    shareChanges: [],
    auditId,
    collections: collections.map(({ after }) => after.id),
  };
}
