import { type Category, categorySchema, parseDocument } from '../../core/config';
import { type Collection, collectionSchema } from '../../core/pipeline/collection-schema';
import { logger } from '../../log';
import { CONFIG_PATHS } from '../config-repository';

/** The collections' documents: where they live, how they are read, and the error of a missing one. */

/** Warnings about collections (a deadline its ETA passes), one document per episode. */
export const COLLECTION_WARNINGS = 'collectionWarnings';
/** Late warnings are history, not state: a TTL policy on `expiresAt` drops them after this. */
export const COLLECTION_WARNING_RETENTION_MS = 90 * 24 * 60 * 60 * 1000;

export const COLLECTIONS_PATH = 'collections';

export class CollectionNotFoundError extends Error {
  constructor(readonly collection: string) {
    super(`collection ${collection} does not exist`);
    this.name = 'CollectionNotFoundError';
  }
}

export function existing(id: string, current: Collection | undefined): Collection {
  if (!current) throw new CollectionNotFoundError(id);
  return current;
}

export function readable(docs: ReadonlyArray<{ id: string; data(): unknown }>): Collection[] {
  return docs.flatMap((doc) => {
    try {
      return [parseCollection(doc.id, doc.data())];
    } catch (error) {
      logger.error({ err: error, collection: doc.id }, 'collection document unreadable: skipped');
      return [];
    }
  });
}

export function parseCollection(id: string, data: unknown): Collection {
  return parseDocument(collectionSchema, `${COLLECTIONS_PATH}/${id}`, data);
}

export function parseCategory(id: string, data: unknown): Category {
  return parseDocument(categorySchema, `${CONFIG_PATHS.categories}/${id}`, {
    id,
    ...(data as object),
  });
}
