/**
 * What a failed batch commit means and when to try again. Codes are gRPC status codes, as
 * firebase-admin reports them in `error.code`.
 */
export const GrpcCode = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/**
 * - `applied`: the batch's marker document exists, so an earlier attempt (ours, or the
 *   client library's own retry) committed the batch; it must not be sent again.
 * - `ambiguous`: the commit may or may not have been applied (timeout, lost connection).
 *   Only the identical batch, with the same marker, may be retried.
 * - `transient`: rejected before applying (contention, quota); safe to retry.
 * - `rejected`: rejected for good (bad data, permissions); retrying cannot help.
 */
export type CommitFailure = 'applied' | 'ambiguous' | 'transient' | 'rejected';

export function classifyCommitError(error: unknown): CommitFailure {
  const code = (error as { code?: unknown } | null)?.code;
  switch (code) {
    case GrpcCode.ALREADY_EXISTS:
      return 'applied';
    case GrpcCode.ABORTED:
    case GrpcCode.RESOURCE_EXHAUSTED:
      return 'transient';
    case GrpcCode.INVALID_ARGUMENT:
    case GrpcCode.NOT_FOUND:
    case GrpcCode.PERMISSION_DENIED:
    case GrpcCode.FAILED_PRECONDITION:
    case GrpcCode.OUT_OF_RANGE:
    case GrpcCode.UNIMPLEMENTED:
    case GrpcCode.UNAUTHENTICATED:
      return 'rejected';
    default:
      // DEADLINE_EXCEEDED, UNAVAILABLE, INTERNAL, UNKNOWN, CANCELLED, and errors without a
      // status code (a dropped connection): the server may have applied the batch.
      return 'ambiguous';
  }
}

export interface RetryPolicy {
  /** Commit attempts per batch, the first included. */
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 6,
  initialBackoffMs: 100,
  maxBackoffMs: 5_000,
};

/**
 * Wait before attempt `attempt + 1` (attempt >= 1): exponential, with half of it jittered so
 * instances that failed together do not retry together. `random` is in [0, 1).
 */
export function backoffMs(policy: RetryPolicy, attempt: number, random: number): number {
  const base = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** (attempt - 1));
  return Math.round(base / 2 + (base / 2) * random);
}
