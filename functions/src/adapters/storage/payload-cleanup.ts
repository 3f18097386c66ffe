import { type Firestore, Timestamp } from 'firebase-admin/firestore';
import { mapLimit } from '../../core/map-limit';
import {
  expiredBeforeMs,
  isExpired,
  PAYLOADS_COLLECTION,
  type PayloadConfig,
  payloadOfObject,
} from '../../core/storage/payloads';
import {
  GRPC_FAILED_PRECONDITION,
  GRPC_NOT_FOUND,
  grpcCode,
  payloadDocument,
  skipChanged,
} from './payload-metadata';
import { deleteObject, deleteStored } from './payload-objects';
import type { Bucket, CleanupResult, StorageFile } from './payload-store-types';

/** The clean-up of temporary payloads: expired objects first, then expired documents. */

/** Deletes run this many at a time during the clean-up. */
const CLEANUP_CONCURRENCY = 32;
const CLEANUP_PAGE = 500;

/** PayloadStore.cleanupTemporary: what it removes, and in which order, is said there. */
export async function cleanupTemporaryPayloads(
  firestore: Firestore,
  bucket: Bucket,
  config: PayloadConfig,
  nowMs: number,
  olderThanMs: number,
): Promise<CleanupResult> {
  const result: CleanupResult = { objects: 0, documents: 0 };

  let pageToken: string | undefined;
  do {
    const [files, next] = await bucket.getFiles({
      prefix: config.temporaryPrefix,
      autoPaginate: false,
      maxResults: CLEANUP_PAGE,
      ...(pageToken ? { pageToken } : {}),
    });
    const expired = files.filter((file) => {
      const created = Date.parse(file.metadata.timeCreated ?? '');
      return Number.isFinite(created) && isExpired(created, nowMs, olderThanMs);
    });
    await mapLimit(expired, CLEANUP_CONCURRENCY, (file) =>
      removeTemporaryObject(firestore, config, file, result),
    );
    pageToken = (next as { pageToken?: string } | null)?.pageToken;
  } while (pageToken);

  const before = Timestamp.fromMillis(expiredBeforeMs(nowMs, olderThanMs));
  let query = firestore
    .collection(PAYLOADS_COLLECTION)
    .where('temporaryCreatedAt', '<', before)
    .orderBy('temporaryCreatedAt')
    .limit(CLEANUP_PAGE);
  for (;;) {
    const page = await query.get();
    await mapLimit(page.docs, CLEANUP_CONCURRENCY, async (snapshot) => {
      if (await deleteStored(snapshot, bucket).catch(skipChanged)) result.documents++;
    });
    if (page.size < CLEANUP_PAGE) break;
    query = query.startAfter(page.docs.at(-1)!);
  }
  return result;
}

async function removeTemporaryObject(
  firestore: Firestore,
  config: PayloadConfig,
  file: StorageFile,
  result: CleanupResult,
): Promise<void> {
  const owner = payloadOfObject(file.name, config);
  if (owner?.temporary) {
    const snapshot = await payloadDocument(firestore, owner.id).get();
    if (snapshot.exists && snapshot.get('object') === file.name) {
      try {
        await snapshot.ref.delete({ lastUpdateTime: snapshot.updateTime! });
        result.documents++;
      } catch (error) {
        if (grpcCode(error) === GRPC_FAILED_PRECONDITION) return; // replaced: not expired
        if (grpcCode(error) !== GRPC_NOT_FOUND) throw error;
      }
    }
  }
  if (await deleteObject(file, file.metadata.generation)) result.objects++;
}
