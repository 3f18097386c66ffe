import type { DocumentReference, DocumentSnapshot } from 'firebase-admin/firestore';
import { logger } from '../../log';
import { GRPC_NOT_FOUND, grpcCode, httpStatus, metadataOf } from './payload-metadata';
import type { Bucket, StorageFile } from './payload-store-types';

/**
 * Deleting what a payload stores (its document, then its Cloud Storage object, each only if
 * unchanged), and rolling back the object of a put whose document was not written.
 */

/**
 * After a failed metadata write, deletes the object this put just created, unless the
 * document did get written (a timeout after commit) and points at it. When that cannot be
 * told (Firestore unreachable) the object is left: an orphan costs bytes, a document
 * pointing at a deleted object loses the payload. Orphans under the temporary prefix go
 * with the next clean-up; others stay until removed by hand (they are logged).
 */
export async function rollBackObject(
  ref: DocumentReference,
  file: StorageFile,
  generation: string,
) {
  try {
    const snapshot = await ref.get();
    if (snapshot.exists && snapshot.get('object') === file.name) return;
  } catch (error) {
    logger.error({ err: error, object: file.name }, 'payload metadata unknown; object left');
    return;
  }
  try {
    await file.delete({ ifGenerationMatch: generation });
  } catch (error) {
    if (httpStatus(error) === 404 || httpStatus(error) === 412) return;
    logger.error({ err: error, object: file.name }, 'orphaned payload object left behind');
  }
}

export async function deleteObject(
  file: StorageFile,
  generation?: string | number,
): Promise<boolean> {
  try {
    await file.delete(generation === undefined ? {} : { ifGenerationMatch: generation });
    return true;
  } catch (error) {
    // Gone already, or replaced by a newer generation that is not ours to delete.
    if (httpStatus(error) === 404 || httpStatus(error) === 412) return false;
    throw error;
  }
}

/**
 * Deletes a document (only if unchanged since `snapshot`), then its object if any. The order
 * keeps the invariant: at worst an object outlives its document.
 */
export async function deleteStored(snapshot: DocumentSnapshot, bucket: Bucket): Promise<boolean> {
  try {
    await snapshot.ref.delete({ lastUpdateTime: snapshot.updateTime! });
  } catch (error) {
    if (grpcCode(error) === GRPC_NOT_FOUND) return false;
    throw error; // FAILED_PRECONDITION: replaced in between; the caller may retry
  }
  const metadata = metadataOf(snapshot);
  if (metadata.location === 'storage' && metadata.object) {
    await deleteObject(bucket.file(metadata.object), metadata.generation);
  }
  return true;
}
