import { isDeepStrictEqual } from 'node:util';
import type { Firestore } from 'firebase-admin/firestore';
import {
  isStalled,
  markStalled,
  pauseCollection,
  restartStalled,
  resumeCollection,
} from '../../core/pipeline/collection-lifecycle';
import {
  type Collection,
  type CollectionConfig,
  collectionSchema,
  type StartCollectionRequest,
  startCollectionRequestSchema,
} from '../../core/pipeline/collection-schema';
import { type CollectionStatusReport, statusReport } from '../../core/pipeline/collection-status';
import {
  type CollectionOutcome,
  type PhaseTransition,
  type Progress,
  recordProgress,
  type StartOutcome,
  startCollection,
} from '../../core/pipeline/collections';
import type { ShareChange } from '../../core/pipeline/share-transition';
import { effectiveShares } from '../../core/quota/allocation';
import { logger } from '../../log';
import { db as instanceDb } from '../firebase';
import { publishAfterChange } from '../quota/republish';
import { checkDeadlines } from './collection-deadlines';
import {
  COLLECTIONS_PATH,
  CollectionNotFoundError,
  existing,
  parseCollection,
  readable,
} from './collection-documents';
import { applyTransition, providerCategories } from './collection-shares';
import { loadPipelineConfig } from './pipeline-config';

export {
  COLLECTION_WARNING_RETENTION_MS,
  COLLECTION_WARNINGS,
  COLLECTIONS_PATH,
  CollectionNotFoundError,
} from './collection-documents';

/**
 * Collections in Firestore, one document `collections/{id}` holding the core's `Collection`
 * whole. Every change is one transaction on that document: read, apply the pure function,
 * write the result (nothing when it did not change). A phase transition changes the category's
 * share (freed share to the provider's other categories) in the same transaction; the
 * provider's allocation is republished after it, so the gate switches after its lead time.
 */

/**
 * Progress reports contend on one document; Firestore queues them on its lock but may abort
 * some under load, so allow more attempts than the SDK's default of 5.
 */
const TRANSACTION_ATTEMPTS = 10;

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

  /** Marks late collections and unmarks those back on track (see collection-deadlines.ts). */
  checkDeadlines(now = this.now()): Promise<{ late: string[]; onTrack: string[] }> {
    return checkDeadlines(this.db, now);
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
    const categories = await providerCategories(this.db, collection.provider);
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
          ? await applyTransition(this.db, tx, outcome.transition)
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
      result.allocationPublished = await publishAfterChange(
        this.db,
        this.now(),
        result.collection.provider,
      );
    }
    return result;
  }
}

/** The instance's repository on the default app's Firestore. */
export function collectionsRepository(options: CollectionsRepositoryOptions = {}) {
  return new CollectionsRepository(instanceDb(), options);
}
