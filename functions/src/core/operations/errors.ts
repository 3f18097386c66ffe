import type { z } from 'zod';
import { formatPath } from '../config';

/**
 * Errors the API reports to its callers, by the callable error code the entry layer maps them
 * to. Operations throw these for conditions a caller can act on; anything else is a bug.
 */
export type ApiErrorCode =
  | 'invalid-argument'
  | 'not-found'
  | 'failed-precondition'
  | 'permission-denied'
  | 'unauthenticated'
  /** Stopped part way (a restore's batch failed): details say what was done. */
  | 'aborted'
  /** More than one call may read (an export over its document bound). */
  | 'resource-exhausted'
  /** The call's time ran out before the work was done; nothing was kept. */
  | 'deadline-exceeded';

export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface FieldIssue {
  /** `sharePercent`, `targets.takealot`, `pipeline.batching.peek.size`; '' for the payload. */
  path: string;
  message: string;
}

/**
 * Zod issues as field paths and messages. An unknown key is reported at its own path
 * (`extra: Unrecognized key`), so the message names the field in every case.
 */
export function fieldIssues(error: z.ZodError, prefix: readonly PropertyKey[] = []): FieldIssue[] {
  return error.issues.flatMap((issue): FieldIssue[] => {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        path: formatPath([...path, key]),
        message: 'Unrecognized key',
      }));
    }
    if (issue.code === 'invalid_key') {
      // A map key the id schema refuses: say why, not only "Invalid key in record".
      const why = issue.issues.map((i) => i.message).join('; ');
      return [{ path: formatPath(path), message: `invalid key: ${why}` }];
    }
    return [{ path: formatPath(path), message: issue.message }];
  });
}

export function describeIssues(issues: readonly FieldIssue[]): string {
  return issues.map((i) => `${i.path || '(payload)'}: ${i.message}`).join('; ');
}

export function invalidArgument(issues: FieldIssue[]): ApiError {
  return new ApiError('invalid-argument', describeIssues(issues), { issues });
}

export function notFound(kind: string, id: string, path?: string): ApiError {
  return new ApiError('not-found', `${kind} "${id}" does not exist`, {
    kind,
    id,
    ...(path ? { path } : {}),
  });
}

export function failedPrecondition(message: string, details?: Record<string, unknown>): ApiError {
  return new ApiError('failed-precondition', message, details);
}

export function permissionDenied(message: string, details?: Record<string, unknown>): ApiError {
  return new ApiError('permission-denied', message, details);
}
