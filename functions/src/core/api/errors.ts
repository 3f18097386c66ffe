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
  | 'unauthenticated';

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
