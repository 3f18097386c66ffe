import { parseRetryAfter, QuotaExceededError } from '../../core/quota/errors';
import { KIB } from '../../core/storage/payloads';
import { logger } from '../../log';
import { upstreamErrors } from '../observability/metrics';

/**
 * What an upstream call is (its settings and their defaults) and the typed errors it ends in,
 * each counted and logged as it is made (http.ts makes the calls).
 */

export type UpstreamErrorKind =
  | 'malformed'
  | 'timeout'
  | 'network'
  | 'http'
  | 'credentials'
  | 'configuration'
  /** A body (or what it inflates to) larger than the call allows: aborted, never held. */
  | 'oversized';

/** A non-quota upstream failure, typed so callers log it, count it and move on. */
export class UpstreamError extends Error {
  constructor(
    readonly provider: string,
    readonly operation: string,
    readonly kind: UpstreamErrorKind,
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(`${provider} ${operation}: ${message}`, options);
    this.name = 'UpstreamError';
  }
}

export interface UpstreamCall {
  provider: string;
  operation: string;
  /** Per attempt, body included. */
  timeoutMs?: number;
  /** Further attempts after a 5xx, a timeout or a network fault. */
  retries?: number;
  /** First retry waits up to this long (full jitter), doubling each time. */
  baseDelayMs?: number;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => number;
  /**
   * Largest body read, in bytes after Content-Encoding is undone; past it the read is
   * aborted with an `oversized` error. DEFAULT_MAX_BODY_BYTES when absent.
   */
  maxBodyBytes?: number;
  /**
   * Epoch ms (on `now`) by which the call must be over: each attempt's timeout is cut to what
   * is left, no retry starts after it, and a call begun after it fails at once ('timeout').
   */
  deadlineMs?: number;
  /**
   * Asked before every attempt, retries included (each is a request the upstream counts):
   * the gate's admission for this operation. Throwing stops the call before the request.
   */
  beforeAttempt?: () => Promise<void>;
  /**
   * Tells an answer of 500 or more that is the upstream throttling (S3's `503 SlowDown`) from a
   * fault, given its status and its error body (read up to ERROR_BODY_BYTES): a throttle is the
   * call's QuotaExceededError (Retry-After honoured), not retried; anything else stays a 5xx.
   */
  throttled?: (status: number, body: string) => boolean;
}

export const DEFAULT_TIMEOUT_MS = 30_000;
/** What a call may read unless it says otherwise: 8 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024;
export const MIB = 1024 * KIB;
export const DEFAULT_RETRIES = 2;
export const DEFAULT_BASE_DELAY_MS = 250;

export const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Counts and logs a typed failure and hands it back for throwing. */
export function upstreamFailure(error: UpstreamError): UpstreamError {
  upstreamErrors.inc({ provider: error.provider, kind: error.kind });
  logger.warn(
    {
      provider: error.provider,
      operation: error.operation,
      kind: error.kind,
      status: error.status,
    },
    error.message,
  );
  return error;
}

/** Counts a quota error and hands it back for throwing. */
export function quotaFailure(error: QuotaExceededError): QuotaExceededError {
  upstreamErrors.inc({ provider: error.provider, kind: 'quota' });
  return error;
}

/**
 * A quota refusal (a 429, or what an adapter knows means the same): the body is dropped, the
 * wait comes from Retry-After, and the error is counted.
 */
export async function quotaError(
  response: Response,
  provider: string,
  operation: string,
  nowMs: number,
  message?: string,
): Promise<QuotaExceededError> {
  await response.body?.cancel();
  return quotaFailure(
    new QuotaExceededError(
      provider,
      operation,
      parseRetryAfter(response.headers.get('retry-after'), nowMs),
      message,
    ),
  );
}
