import { z } from 'zod';
import { taskId } from '../queues/task-envelope';

/**
 * One unit of collection work carried by a task: which collection it serves, what kind of work
 * it is, and the key that makes it unique, so a redelivered or re-enqueued item has the same
 * identity and its handler can be idempotent.
 */
export const workItemSchema = z.object({
  collection: z.string().min(1),
  kind: z.string().min(1),
  /** Unique within (collection, kind): an ASIN batch, a report window, a product id. */
  key: z.string().min(1),
  provider: z.string().min(1),
  category: z.string().min(1),
  operation: z.string().optional(),
  /** Estimated quota cost; the handler settles the actual cost. */
  cost: z.number().positive().default(1),
  /** HTTP requests the item is expected to make (windows that count requests); default 1. */
  requests: z.number().int().positive().optional(),
  payload: z.unknown().optional(),
  /** How many times the item was deferred so far. */
  deferrals: z.number().int().nonnegative().default(0),
});
export type WorkItem = z.infer<typeof workItemSchema>;

/** The task id of an item: deterministic, so enqueueing it twice enqueues it once. */
export function workItemTaskId(item: WorkItem): string {
  return taskId(item.collection, item.kind, item.key);
}

/**
 * The task id of a deferral to `atMs`: distinct from the original (whose id Cloud Tasks keeps
 * taken for a while) and from other deferrals, yet the same if the same deferral is enqueued
 * twice (a handler retried after it enqueued but before it acknowledged).
 */
export function deferredTaskId(item: WorkItem, atMs: number): string {
  return taskId(item.collection, item.kind, item.key, `d${item.deferrals + 1}`, String(atMs));
}

export function deferred(item: WorkItem): WorkItem {
  return { ...item, deferrals: item.deferrals + 1 };
}

/** The task-queue function that carries a provider's work items. */
export function workQueueName(provider: string): string {
  return `${provider}Work`;
}

/**
 * The providers whose work goes through a work queue (entry/pipeline/work-queues.ts): Keepa's deal
 * scans and re-collections, the proxy's listing pages and price histories. SP-API has none:
 * its one kind of work, the vendor real-time sales, is the `realtimeSalesSync` auto-sync, and no
 * work item names it, so a queue for it would be a function bound to its secrets with nothing
 * to run.
 */
export const WORK_QUEUE_PROVIDERS = ['keepa', 'smartproxy'] as const;
export type WorkQueueProvider = (typeof WORK_QUEUE_PROVIDERS)[number];
