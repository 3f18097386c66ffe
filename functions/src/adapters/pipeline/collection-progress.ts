import type { Firestore } from 'firebase-admin/firestore';
import { CollectionsRepository } from './collections-repository';
import { storedCount } from './product-count';

/**
 * Reports a collection's progress for one marketplace as the number of products it has stored
 * (a count query, not a counter): a redelivered task, a re-run batch or two handlers racing can
 * only ever report the true count, and the collection keeps the highest it has seen. Phase
 * transitions follow from it.
 */
export async function recordStoredCount(
  db: Firestore,
  collection: string,
  marketplace: string,
): Promise<number> {
  const collected = await storedCount(db, collection, marketplace);
  // The repository logs a phase change, with the share changes it made.
  await new CollectionsRepository(db).recordProgress(collection, { marketplace, collected });
  return collected;
}

/**
 * Counts again what every running collection stored, per marketplace, and records a count the
 * collection has not seen (a progress report a buffer held when its instance went away): one
 * count query per marketplace, a write only where the count moved. The heartbeat runs it.
 */
export async function recountRunningCollections(db: Firestore): Promise<string[]> {
  const moved: string[] = [];
  for (const collection of await new CollectionsRepository(db).listRunning()) {
    for (const [marketplace, { collected }] of Object.entries(collection.marketplaces)) {
      if ((await storedCount(db, collection.id, marketplace)) <= collected) continue;
      await recordStoredCount(db, collection.id, marketplace);
      moved.push(`${collection.id}/${marketplace}`);
    }
  }
  return moved;
}
