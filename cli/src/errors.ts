import { ZodError } from 'zod';
import { BackupImportError } from '../../functions/src/adapters/backup/backup-import.ts';
import { CollectionNotFoundError } from '../../functions/src/adapters/pipeline/collections-repository.ts';
import { BackupError } from '../../functions/src/core/backup/backup-file.ts';
import { ConfigError } from '../../functions/src/core/config.ts';
// Values from the API's own modules, not its index: Node's ESM import of a CommonJS module
// (functions/src, under tsx) sees named exports but not `export *` re-exports.
import {
  ApiError,
  type ApiErrorCode,
  describeIssues,
  type FieldIssue,
  fieldIssues,
} from '../../functions/src/core/operations/errors.ts';
import { CollectionConflictError } from '../../functions/src/core/pipeline/collections.ts';

/** The command line is wrong (exit 2): an unknown command, a missing argument, `m=count`... */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** What the CLI reports for a failed command (exit 1), in the callables' terms. */
export interface Failure {
  /** A callable error code where one applies; `backup-refused`, `error` otherwise. */
  code: ApiErrorCode | 'backup-refused' | 'backup-incomplete' | 'error';
  message: string;
  /** For invalid input and invalid configuration: each field with what is wrong. */
  issues?: FieldIssue[];
  details?: Record<string, unknown>;
}

/** An input the callable's schema refuses; nothing has run. */
export function inputFailure(name: string, error: ZodError): Failure {
  const issues = fieldIssues(error);
  return {
    code: 'invalid-argument',
    message: `invalid input for ${name}: ${describeIssues(issues)}`,
    issues,
  };
}

export class FailureError extends Error {
  constructor(readonly failure: Failure) {
    super(failure.message);
    this.name = 'FailureError';
  }
}

/**
 * Errors mapped as the callables map them (entry/errors.ts), except that an unexpected error
 * keeps its message: the operator runs the CLI with admin credentials anyway.
 */
export function toFailure(error: unknown): Failure {
  if (error instanceof FailureError) return error.failure;
  if (error instanceof ApiError) {
    const issues = error.details?.issues as FieldIssue[] | undefined;
    return {
      code: error.code,
      message: error.message,
      ...(issues ? { issues } : {}),
      ...(error.details ? { details: error.details } : {}),
    };
  }
  if (error instanceof ConfigError) {
    return {
      code: 'failed-precondition',
      message: error.message,
      issues: error.issues,
      details: { document: error.document },
    };
  }
  if (error instanceof CollectionNotFoundError) {
    return { code: 'not-found', message: error.message };
  }
  if (error instanceof CollectionConflictError) {
    return { code: 'failed-precondition', message: error.message };
  }
  if (error instanceof BackupError) {
    return {
      code: 'backup-refused',
      message: error.message,
      details: { kind: error.kind, issues: error.issues.slice(0, 20) },
    };
  }
  if (error instanceof BackupImportError) {
    return {
      code: 'backup-incomplete',
      message: `${error.message} (importing the same file again finishes it)`,
      details: { written: error.written, total: error.total },
    };
  }
  if (error instanceof ZodError) {
    const issues = fieldIssues(error);
    return {
      code: 'failed-precondition',
      message: `stored data is not in the expected shape: ${describeIssues(issues)}`,
      issues,
    };
  }
  return { code: 'error', message: error instanceof Error ? error.message : String(error) };
}
