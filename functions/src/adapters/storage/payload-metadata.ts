import type {
  DocumentReference,
  DocumentSnapshot,
  Firestore,
  Timestamp,
} from 'firebase-admin/firestore';
import {
  assertPayloadId,
  PAYLOADS_COLLECTION,
  type PayloadMetadata,
} from '../../core/storage/payloads';

/**
 * A payload's metadata document (where it is, and its fields as metadata), and the error codes
 * the store tells apart: Firestore's gRPC codes and Cloud Storage's HTTP statuses.
 */

export const GRPC_NOT_FOUND = 5;
export const GRPC_ALREADY_EXISTS = 6;
export const GRPC_FAILED_PRECONDITION = 9;

export function metadataOf(snapshot: DocumentSnapshot): PayloadMetadata {
  return metadataFromFields(snapshot.id, snapshot.data() ?? {});
}

export function metadataFromFields(id: string, d: Record<string, unknown>): PayloadMetadata {
  if (d.location !== 'inline' && d.location !== 'storage') {
    throw new Error(`payloads/${id}: unknown location ${JSON.stringify(d.location)}`);
  }
  return {
    id,
    location: d.location,
    bytes: d.bytes as number,
    contentType: d.contentType as string,
    createdAtMs: (d.createdAt as Timestamp).toMillis(),
    temporary: d.temporary === true,
    ...(typeof d.object === 'string' ? { object: d.object } : {}),
    ...(typeof d.generation === 'string' ? { generation: d.generation } : {}),
  };
}

/** A clean-up skips a document that changed since it was read. */
export function skipChanged(error: unknown): false {
  if (grpcCode(error) === GRPC_FAILED_PRECONDITION) return false;
  throw error;
}

export function grpcCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** The HTTP status of a Cloud Storage error (JSON API or resumable upload path). */
export function httpStatus(error: unknown): number | undefined {
  const e = error as { code?: unknown; status?: unknown; response?: { status?: unknown } };
  for (const v of [e?.code, e?.status, e?.response?.status]) if (typeof v === 'number') return v;
  return undefined;
}

/** The metadata document of payload `id`; throws for an id that is not a payload id. */
export function payloadDocument(firestore: Firestore, id: string): DocumentReference {
  assertPayloadId(id);
  return firestore.collection(PAYLOADS_COLLECTION).doc(id);
}
