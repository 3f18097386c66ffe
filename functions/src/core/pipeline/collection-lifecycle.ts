import { sampleOf } from './collection-samples';
import {
  type Collection,
  type CollectionConfig,
  DEFAULT_COLLECTION_CONFIG,
} from './collection-schema';

/** A collection's status changes other than progress: stalls, restarts, pauses and resumes. */

const MINUTE_MS = 60_000;

export function isStalled(collection: Collection, now: number, config: CollectionConfig): boolean {
  return (
    collection.status === 'running' &&
    now - collection.lastProgressAt >= config.stalledAfterMinutes * MINUTE_MS
  );
}

/** Marks a running collection stalled once it made no progress for the configured time. */
export function markStalled(
  collection: Collection,
  now: number,
  config: CollectionConfig = DEFAULT_COLLECTION_CONFIG,
): { collection: Collection; stalledNow: boolean } {
  if (!isStalled(collection, now, config)) return { collection, stalledNow: false };
  return {
    collection: { ...collection, status: 'stalled', stalledAt: now, lastUpdateAt: now },
    stalledNow: true,
  };
}

/**
 * Runs a stalled collection again, keeping counts, phase and history. The rate window starts
 * over, so the stall does not depress the estimate once work flows again.
 */
export function restartStalled(
  collection: Collection,
  now: number,
): { collection: Collection; restarted: boolean } {
  if (collection.status !== 'stalled') return { collection, restarted: false };
  return {
    collection: {
      ...collection,
      status: 'running',
      stalledAt: null,
      lastProgressAt: now,
      lastUpdateAt: now,
      samples: [sampleOf(collection, now)],
      restarts: collection.restarts + 1,
    },
    restarted: true,
  };
}

/** Pausing keeps everything; a completed collection stays completed. */
export function pauseCollection(collection: Collection, now: number): Collection {
  if (collection.status !== 'running' && collection.status !== 'stalled') return collection;
  return { ...collection, status: 'paused', stalledAt: null, lastUpdateAt: now };
}

/** Resumes a paused collection; the pause counts neither as a stall nor in the rate. */
export function resumeCollection(collection: Collection, now: number): Collection {
  if (collection.status !== 'paused') return collection;
  return {
    ...collection,
    status: 'running',
    lastProgressAt: now,
    lastUpdateAt: now,
    samples: [sampleOf(collection, now)],
  };
}
