import { type FunctionsErrorCode, HttpsError } from 'firebase-functions/v2/https';
import { ZodError } from 'zod';
import { CollectionNotFoundError } from '../adapters/pipeline/collections-repository';
import { BackupError } from '../core/backup/backup-file';
import { ConfigError } from '../core/config';
import { ApiError, fieldIssues } from '../core/operations';
import { CollectionConflictError } from '../core/pipeline/collections';
import { FirestoreLimitError } from '../core/storage/firestore-limits';
import { logger } from '../log';

/** gRPC status codes Firestore reports that a caller can act on (retry, back off). */
const GRPC_CODES: Record<number, FunctionsErrorCode> = {
  4: 'deadline-exceeded',
  8: 'resource-exhausted',
  10: 'aborted',
  14: 'unavailable',
};
/**
 * gRPC INVALID_ARGUMENT: Firestore refused what a write held (a name, a path, a size the
 * checks before it missed). Inputs are parsed first, so it comes from what the caller sent:
 * a client error, never `internal`; logged as a gap in the checks.
 */
const GRPC_INVALID_ARGUMENT = 3;

/** Maps domain errors to callable errors; anything unexpected is logged and kept opaque. */
export function toHttpsError(error: unknown): HttpsError {
  if (error instanceof HttpsError) return error;
  if (error instanceof ApiError) return new HttpsError(error.code, error.message, error.details);
  if (error instanceof BackupError) {
    // The file was refused before anything was written.
    return new HttpsError('invalid-argument', error.message, {
      kind: error.kind,
      issues: error.issues,
    });
  }
  if (error instanceof ConfigError) {
    return new HttpsError('failed-precondition', error.message, {
      document: error.document,
      issues: error.issues,
    });
  }
  if (error instanceof CollectionNotFoundError) {
    return new HttpsError('not-found', error.message, { kind: 'collection', id: error.collection });
  }
  if (error instanceof CollectionConflictError) {
    return new HttpsError('failed-precondition', error.message, { collection: error.collection });
  }
  if (error instanceof ZodError) {
    // Inputs are parsed before any operation runs, so this is a stored document out of shape.
    logger.warn({ issues: error.issues }, 'stored data failed validation');
    return new HttpsError('failed-precondition', 'stored data is not in the expected shape', {
      issues: fieldIssues(error),
    });
  }
  if (error instanceof FirestoreLimitError) {
    // A write production would refuse, caught before it was sent: from the caller's data.
    return new HttpsError('invalid-argument', error.message, {
      document: error.document,
      issues: error.issues.map((i) => ({ path: i.field.join('.'), message: i.message })),
    });
  }
  const grpc = (error as { code?: unknown } | null)?.code;
  if (grpc === GRPC_INVALID_ARGUMENT) {
    logger.warn({ err: error }, 'Firestore refused a write as invalid: a check is missing');
    return new HttpsError('invalid-argument', 'Firestore refused the request as invalid');
  }
  if (typeof grpc === 'number' && Object.hasOwn(GRPC_CODES, grpc)) {
    logger.warn({ err: error }, 'Firestore refused a callable');
    return new HttpsError(GRPC_CODES[grpc]!, 'try again later');
  }
  logger.error({ err: error }, 'unexpected error in callable');
  return new HttpsError('internal', 'internal error');
}
