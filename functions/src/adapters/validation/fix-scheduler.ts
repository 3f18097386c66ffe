// Re-collection of failing products: each fix becomes a work item of the product's collection,
// enqueued on its provider's queue (the collection's owner is read once per run).
import type { Firestore } from 'firebase-admin/firestore';
import { collectionSchema } from '../../core/pipeline/collection-schema';
import { workItemSchema, workItemTaskId, workQueueName } from '../../core/pipeline/work-items';
import { type FixWorkItem, fixId } from '../../core/validation';
import { logger } from '../../log';
import { COLLECTIONS_PATH } from '../pipeline/collections-repository';
import type { StoredProduct } from '../pipeline/product-documents';
import type { Enqueue, EnqueueResult } from '../queues/task-queue';

/** The task-queue function that does a provider's work. */
export const queueFor = workQueueName;

export type FixResult = EnqueueResult | 'unschedulable' | 'failed';

export interface Scheduled {
  result: FixResult;
  queue: string | null;
  taskId: string | null;
}

/**
 * Enqueues a fix as a work item of the product's collection, on its provider's queue. The
 * collection documents are read once per run. An enqueue that fails is logged and counted, not
 * thrown: the other fixes still go out, and a rerun of the slot retries it under the same id.
 */
export function fixScheduler(db: Firestore, enqueue: Enqueue, slot: string) {
  const owners = new Map<string, Promise<{ provider: string; category: string } | undefined>>();
  const ownerOf = (collection: string) => {
    let owner = owners.get(collection);
    if (!owner) {
      owner = readOwner(db, collection);
      owners.set(collection, owner);
    }
    return owner;
  };

  return async (fix: FixWorkItem, product: StoredProduct): Promise<Scheduled> => {
    const owner = product.collection ? await ownerOf(product.collection) : undefined;
    if (!owner) {
      logger.warn(
        { product: product.id, collection: product.collection },
        'no collection to re-collect a failing product with',
      );
      return { result: 'unschedulable', queue: null, taskId: null };
    }
    const { id: _runFixId, kind, ...payload } = fix;
    const item = workItemSchema.parse({
      collection: product.collection,
      kind,
      // Named by the slot, not the run: one re-collection per product per slot.
      key: fixId(slot, fix.marketplace, fix.productKey),
      provider: owner.provider,
      category: owner.category,
      // What the collector needs to fetch the product again, and why.
      payload,
    });
    const queue = queueFor(owner.provider);
    const taskId = workItemTaskId(item);
    try {
      return { result: await enqueue(queue, item, { id: taskId }), queue, taskId };
    } catch (error) {
      logger.error({ err: error, product: product.id, queue, taskId }, 'fix not enqueued');
      return { result: 'failed', queue, taskId };
    }
  };
}

const ownerSchema = collectionSchema.pick({ provider: true, category: true });

async function readOwner(db: Firestore, collection: string) {
  const snapshot = await db.collection(COLLECTIONS_PATH).doc(collection).get();
  if (!snapshot.exists) return undefined;
  const parsed = ownerSchema.safeParse(snapshot.data());
  if (parsed.success) return parsed.data;
  logger.warn({ collection, issues: parsed.error.issues }, 'unreadable collection');
  return undefined;
}
