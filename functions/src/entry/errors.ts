import { HttpsError } from 'firebase-functions/v2/https';
import { ConfigError } from '../core/config';
import { logger } from '../log';

/** Maps domain errors to callable errors; anything unexpected is logged and kept opaque. */
export function toHttpsError(error: unknown): HttpsError {
  if (error instanceof HttpsError) return error;
  if (error instanceof ConfigError) {
    return new HttpsError('failed-precondition', error.message, {
      document: error.document,
      issues: error.issues,
    });
  }
  logger.error({ err: error }, 'unexpected error in callable');
  return new HttpsError('internal', 'internal error');
}
