import { isDeepStrictEqual } from 'node:util';
import type { Firestore, Transaction } from 'firebase-admin/firestore';
import {
  type Category,
  ConfigError,
  categorySchema,
  flagsSchema,
  parseDocument,
  providerSchema,
  validateRuntimeConfig,
} from '../../core/config';
import { type CollectionStatusReport, statusReport } from '../../core/pipeline/collection-status';
import {
  type Collection,
  type CollectionConfig,
  type CollectionOutcome,
  collectionSchema,
  isStalled,
  markStalled,
  type PhaseTransition,
  type Progress,
  pauseCollection,
  recordProgress,
  restartStalled,
  resumeCollection,
  type StartCollectionRequest,
  type StartOutcome,
  startCollection,
  startCollectionRequestSchema,
} from '../../core/pipeline/collections';
import {
  applyShareChanges,
  redistributeShare,
  type ShareChange,
} from '../../core/pipeline/share-transition';
import { effectiveShares } from '../../core/quota/allocation';
import { logger } from '../../log';
import { CONFIG_PATHS } from '../config-repository';
import { db as instanceDb } from '../firebase';
import { republishAllocations } from '../quota/republish';
import { loadPipelineConfig } from './pipeline-config';

/**
 * Collections in Firestore, one document `collections/{id}` holding the core's `Collection`
 * whole. Every change is one transaction on that document: read, apply the pure function,
 * write the result (nothing when it did not change). A phase transition changes the category's
 * share (freed share to the provider's other categories) in the same transaction; the
 * provider's allocation is republished after it, so the gate switches after its lead time.
 */

/** Warnings about collections (a deadline its ETA passes), one document per episode. */
export const COLLECTION_WARNINGS = 'collectionWarnings';
/** Late warnings are history, not state: a TTL policy on `expiresAt` drops them after this. */
export const COLLECTION_WARNING_RETENTION_MS = 90 * 24 * 60 * 60 * 1000;

export const COLLECTIONS_PATH = 'collections';

/**
 * Progress reports contend on one document; Firestore queues them on its lock but may abort
 * some under load, so allow more attempts than the SDK's default of 5.
 */
const TRANSACTION_ATTEMPTS = 10;

export class CollectionNotFoundError extends Error {
  constructor(readonly collection: string) {
    super(`collection ${collection} does not exist`);
    this.name = 'CollectionNotFoundError';
  }
}

/** What a change did besides the collection itself. */
export interface Applied {
  /** False when the change left the document as it was (nothing written). */
  written: boolean;
  /** Category shares the phase transition changed, in the same transaction. */
  shareChanges: ShareChange[];
  /**
   * The provider's allocation was republished after the share change. False when there was
   * none, or the publication failed: the change is durable, so the error is logged rather
   * than thrown (a retried delta would count twice) and the allocation schedule catches up.
   */
  allocationPublished: boolean;
}

export interface CollectionsRepositoryOptions {
  now?: () => number;
}

type Step<T> = (current: Collection | undefined, now: number, config: CollectionConfig) => T;
type StepResult = { collection: Collection; transition?: PhaseTransition | null };

export class CollectionsRepository {
  private readonly now: () => number;

  constructor(
    private readonly db: Firestore,
    options: CollectionsRepositoryOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Starts a collection; one that exists only has its targets updated (nothing restarts). */
  startCollection(request: StartCollectionRequest): Promise<StartOutcome & Applied> {
    const parsed = startCollectionRequestSchema.parse(request);
    return this.transact(parsed.id, (current, now, config) =>
      startCollection(current, parsed, now, config),
    );
  }

  /** Progress for one marketplace: an absolute `collected` (idempotent) or an `added` delta. */
  recordProgress(id: string, progress: Progress): Promise<CollectionOutcome & Applied> {
    return this.transact(id, (current, now, config) =>
      recordProgress(existing(id, current), progress, now, config),
    );
  }

  restartStalled(id: string): Promise<{ collection: Collection; restarted: boolean } & Applied> {
    return this.transact(id, (current, now) => restartStalled(existing(id, current), now));
  }

  pause(id: string): Promise<{ collection: Collection } & Applied> {
    return this.transact(id, (current, now) => ({
      collection: pauseCollection(existing(id, current), now),
    }));
  }

  resume(id: string): Promise<{ collection: Collection } & Applied> {
    return this.transact(id, (current, now) => ({
      collection: resumeCollection(existing(id, current), now),
    }));
  }

  /**
   * Marks every running collection without progress for the configured time as stalled;
   * returns their ids. Each is re-checked in its own transaction, so progress reported since
   * the query wins; an unreadable document is logged and skipped, not fatal to the others.
   */
  async markStalled(now = this.now()): Promise<string[]> {
    const config = (await loadPipelineConfig(this.db)).collections;
    const running = await this.db
      .collection(COLLECTIONS_PATH)
      .where('status', '==', 'running')
      .get();
    const candidates = running.docs.flatMap((doc) => {
      const parsed = collectionSchema.safeParse(doc.data());
      if (parsed.success) return isStalled(parsed.data, now, config) ? [doc.id] : [];
      logger.warn({ collection: doc.id, issues: parsed.error.issues }, 'unreadable collection');
      return [];
    });
    const stalled: string[] = [];
    for (const id of candidates) {
      const { stalledNow } = await this.transact(id, (current) =>
        markStalled(existing(id, current), now, config),
      );
      if (stalledNow) stalled.push(id);
    }
    if (stalled.length > 0) logger.warn({ collections: stalled }, 'collections stalled');
    return stalled;
  }

  async get(id: string): Promise<Collection | undefined> {
    const snapshot = await this.ref(id).get();
    return snapshot.exists ? parseCollection(id, snapshot.data()) : undefined;
  }

  /**
   * Judges every running collection with a deadline: one whose ETA passes its deadline is
   * marked late (`lateSince`) and a warning stored in `collectionWarnings` (once per episode:
   * a collection that stays late writes nothing more), one back on track is unmarked. A
   * collection without a measurable rate is not judged. Returns the ids that turned late.
   */
  async checkDeadlines(now = this.now()): Promise<{ late: string[]; onTrack: string[] }> {
    const config = (await loadPipelineConfig(this.db)).collections;
    const running = await this.db
      .collection(COLLECTIONS_PATH)
      .where('status', '==', 'running')
      .get();
    const late: string[] = [];
    const onTrack: string[] = [];
    for (const doc of running.docs) {
      const parsed = collectionSchema.safeParse(doc.data());
      if (!parsed.success || !parsed.data.deadline) continue;
      const changed = await this.db.runTransaction(async (tx) => {
        const snapshot = await tx.get(doc.ref);
        const current = collectionSchema.safeParse(snapshot.data());
        if (!current.success || !current.data.deadline || current.data.status !== 'running') {
          return undefined;
        }
        const report = statusReport(current.data, now, { config });
        const verdict = report.deadline?.onTrack;
        if (verdict === false && current.data.lateSince === null) {
          tx.update(doc.ref, { lateSince: now });
          tx.create(this.db.collection(COLLECTION_WARNINGS).doc(`${doc.id}~${now}`), {
            collection: doc.id,
            provider: current.data.provider,
            category: current.data.category,
            kind: 'deadline',
            at: now,
            deadlineAtMs: current.data.deadline.atMs,
            etaAt: report.overall.etaAt,
            slackMs: report.deadline?.slackMs ?? null,
            ratePerHour: report.overall.ratePerHour,
            requiredRatePerHour: report.deadline?.requiredRatePerHour ?? null,
            expiresAt: new Date(now + COLLECTION_WARNING_RETENTION_MS),
          });
          return { late: true, report };
        }
        if (verdict === true && current.data.lateSince !== null) {
          tx.update(doc.ref, { lateSince: null });
          return { late: false, report };
        }
        return undefined;
      });
      if (!changed) continue;
      const { deadline, overall } = changed.report;
      const fields = {
        collection: doc.id,
        deadline: new Date(deadline!.atMs).toISOString(),
        eta: overall.etaAt === null ? null : new Date(overall.etaAt).toISOString(),
        ratePerHour: overall.ratePerHour,
        requiredRatePerHour: deadline!.requiredRatePerHour,
      };
      if (changed.late) {
        late.push(doc.id);
        logger.warn(fields, 'collection will miss its deadline');
      } else {
        onTrack.push(doc.id);
        logger.info(fields, 'collection back on track for its deadline');
      }
    }
    return { late, onTrack };
  }

  /**
   * Every collection that parses. A document that does not (written by hand, or by an older
   * version) is logged at ERROR and left out: one bad document must not stop the schedules that
   * walk every collection (batches, recounts, deadlines) for all the others.
   */
  async list(): Promise<Collection[]> {
    const snapshot = await this.db.collection(COLLECTIONS_PATH).get();
    return readable(snapshot.docs);
  }

  /** The running collections only: what the heartbeat looks at, never the finished history. */
  async listRunning(): Promise<Collection[]> {
    const snapshot = await this.db
      .collection(COLLECTIONS_PATH)
      .where('status', '==', 'running')
      .get();
    return readable(snapshot.docs);
  }

  /** The status report, with the category's effective share (after pauses and redistribution). */
  async status(id: string): Promise<CollectionStatusReport> {
    const [collection, config] = await Promise.all([this.get(id), loadPipelineConfig(this.db)]);
    if (!collection) throw new CollectionNotFoundError(id);
    const categories = await this.providerCategories(collection.provider);
    const share = effectiveShares(categories).find((s) => s.category === collection.category);
    return statusReport(collection, this.now(), {
      config: config.collections,
      effectiveSharePercent: share?.percent,
    });
  }

  private ref(id: string) {
    return this.db.collection(COLLECTIONS_PATH).doc(id);
  }

  /** One transaction on the collection; then the allocation, when a share changed. */
  private async transact<T extends StepResult>(id: string, step: Step<T>): Promise<T & Applied> {
    const config = (await loadPipelineConfig(this.db)).collections;
    const ref = this.ref(id);
    const result = await this.db.runTransaction(
      async (tx) => {
        const snapshot = await tx.get(ref);
        const current = snapshot.exists ? parseCollection(id, snapshot.data()) : undefined;
        const outcome = step(current, this.now(), config);
        const shareChanges = outcome.transition
          ? await this.applyTransition(tx, outcome.transition)
          : [];
        const written = !current || !isDeepStrictEqual(current, outcome.collection);
        if (written) tx.set(ref, outcome.collection);
        return { ...outcome, written, shareChanges, allocationPublished: false };
      },
      { maxAttempts: TRANSACTION_ATTEMPTS },
    );
    if (result.transition) {
      const { collection, from, to, sharePercent } = result.transition;
      logger.info(
        { collection, from, to, sharePercent, shareChanges: result.shareChanges },
        from === 0 ? 'collection started' : 'collection phase changed',
      );
    }
    if (result.shareChanges.length > 0) {
      result.allocationPublished = await this.publish(result.collection.provider);
    }
    return result;
  }

  /**
   * Sets the category's share for the new phase, redistributing what it frees to the
   * provider's other categories, and checks the provider's shares stay valid. Reads the
   * provider and its categories in the transaction, so concurrent transitions serialize.
   */
  private async applyTransition(tx: Transaction, t: PhaseTransition): Promise<ShareChange[]> {
    const providerSnapshot = await tx.get(this.db.doc(`${CONFIG_PATHS.providers}/${t.provider}`));
    const categories = (await tx.get(this.providerCategoriesQuery(t.provider))).docs.map((doc) =>
      parseCategory(doc.id, doc.data()),
    );
    if (!categories.some((c) => c.id === t.category)) {
      throw new ConfigError(`${CONFIG_PATHS.categories}/${t.category}`, [
        { path: '', message: `missing, or not a category of "${t.provider}"` },
      ]);
    }
    const changes = redistributeShare(categories, t.category, t.sharePercent);
    if (changes.length === 0) return [];
    const updated = applyShareChanges(categories, changes);
    const provider = providerSnapshot.exists
      ? [
          parseDocument(providerSchema, `${CONFIG_PATHS.providers}/${t.provider}`, {
            id: t.provider,
            ...providerSnapshot.data(),
          }),
        ]
      : [];
    validateRuntimeConfig({
      providers: provider,
      categories: updated,
      flags: flagsSchema.parse({}),
    });
    for (const change of changes) {
      tx.update(this.db.doc(`${CONFIG_PATHS.categories}/${change.category}`), {
        sharePercent: change.toPercent,
      });
    }
    return changes;
  }

  /** From a fresh read of the configuration, so it also carries any change committed since. */
  private async publish(provider: string): Promise<boolean> {
    try {
      await republishAllocations(this.db, this.now(), [provider]);
      return true;
    } catch (error) {
      logger.error({ err: error, provider }, 'allocation not republished after a share change');
      return false;
    }
  }

  private providerCategoriesQuery(provider: string) {
    return this.db.collection(CONFIG_PATHS.categories).where('provider', '==', provider);
  }

  private async providerCategories(provider: string): Promise<Category[]> {
    const snapshot = await this.providerCategoriesQuery(provider).get();
    return snapshot.docs.map((doc) => parseCategory(doc.id, doc.data()));
  }
}

/** The instance's repository on the default app's Firestore. */
export function collectionsRepository(options: CollectionsRepositoryOptions = {}) {
  return new CollectionsRepository(instanceDb(), options);
}

function existing(id: string, current: Collection | undefined): Collection {
  if (!current) throw new CollectionNotFoundError(id);
  return current;
}

function readable(docs: ReadonlyArray<{ id: string; data(): unknown }>): Collection[] {
  return docs.flatMap((doc) => {
    try {
      return [parseCollection(doc.id, doc.data())];
    } catch (error) {
      logger.error({ err: error, collection: doc.id }, 'collection document unreadable: skipped');
      return [];
    }
  });
}

function parseCollection(id: string, data: unknown): Collection {
  return parseDocument(collectionSchema, `${COLLECTIONS_PATH}/${id}`, data);
}

function parseCategory(id: string, data: unknown): Category {
  return parseDocument(categorySchema, `${CONFIG_PATHS.categories}/${id}`, {
    id,
    ...(data as object),
  });
}
