import { KIB } from '../../core/storage/payloads';
import { logger } from '../../log';
import { MIB, type UpstreamCall } from './upstream-call';

/**
 * The SP-API Reports client's calls: the provider id, the operations it calls and each one's
 * body cap, which of them SP-API rate-limits, what bounds one call of the flow, and the HTTP
 * helper's settings for each call (spapi-reports.ts makes them).
 */

export const SPAPI_PROVIDER = 'spapi';

export type SpApiReportsOperation =
  | 'lwaToken'
  | 'createReport'
  | 'getReport'
  | 'getReportDocument'
  | 'downloadDocument';

/**
 * The largest answer read per step, in bytes: the JSON steps' answers are tiny; the document
 * download is gzip (`downloadDocument`) and `document` bounds what it inflates to. A real-time
 * sales report of a few hours for thousands of ASINs is a few MiB of JSON.
 */
export const SPAPI_MAX_BODY_BYTES: Readonly<Record<SpApiReportsOperation | 'document', number>> = {
  lwaToken: 64 * KIB,
  createReport: 64 * KIB,
  getReport: 64 * KIB,
  getReportDocument: 64 * KIB,
  downloadDocument: 16 * MIB,
  document: 32 * MIB,
};

/** The operations of the Reports API that SP-API rate-limits (the download is S3's). */
export type SpApiRateLimitedOperation = 'createReport' | 'getReport' | 'getReportDocument';
export const RATE_LIMITED: ReadonlySet<SpApiReportsOperation> = new Set<SpApiReportsOperation>([
  'createReport',
  'getReport',
  'getReportDocument',
]);

/** Bounds one call of the flow in time, and admits each of its requests. */
export interface CallDeadline {
  /** Epoch ms (on the client's clock) by which the call must be over (see UpstreamCall). */
  deadlineMs?: number;
  /**
   * The gate's admission, asked before every request to a rate-limited operation (each poll,
   * each retry), so every one of them is charged to its operation's limit. Throws
   * (GateDeferredError, a quota error) to stop the flow before the request.
   */
  admit?: (operation: SpApiRateLimitedOperation) => Promise<void>;
}

/** The client's options that shape each call (see SpApiReportsClientOptions). */
export interface SpApiCallOptions {
  fetch?: typeof fetch;
  random?: () => number;
  /** Per attempt (see the HTTP helper). */
  timeoutMs?: number;
  /** Further attempts after a 5xx, a timeout or a network fault. */
  retries?: number;
  /** Called with every `x-amzn-RateLimit-Limit` an answer carries (requests per second). */
  onRateLimit?: (operation: SpApiReportsOperation, ratePerSecond: number) => void;
  /** Overrides SPAPI_MAX_BODY_BYTES per step (`document`: the inflated document). */
  maxBodyBytes?: Partial<Record<SpApiReportsOperation | 'document', number>>;
}

/** The body cap of one step: the options' override, else SPAPI_MAX_BODY_BYTES. */
export function spApiMaxBodyBytes(
  options: SpApiCallOptions,
  step: SpApiReportsOperation | 'document',
): number {
  return options.maxBodyBytes?.[step] ?? SPAPI_MAX_BODY_BYTES[step];
}

/** The HTTP helper's settings for one operation; every answer's rate limit is reported. */
export function spApiCall(
  options: SpApiCallOptions,
  clock: { now: () => number; sleep: (ms: number) => Promise<void> },
  operation: SpApiReportsOperation,
  deadline: CallDeadline = {},
): UpstreamCall {
  const baseFetch = options.fetch ?? fetch;
  const observed: typeof fetch = async (input, init) => {
    const response = await baseFetch(input, init);
    reportRateLimit(options, operation, response.headers.get('x-amzn-ratelimit-limit'));
    return response;
  };
  return {
    provider: SPAPI_PROVIDER,
    operation,
    fetch: observed,
    now: clock.now,
    sleep: clock.sleep,
    maxBodyBytes: spApiMaxBodyBytes(options, operation),
    ...(deadline.deadlineMs !== undefined ? { deadlineMs: deadline.deadlineMs } : {}),
    ...(deadline.admit && RATE_LIMITED.has(operation)
      ? { beforeAttempt: () => deadline.admit!(operation as SpApiRateLimitedOperation) }
      : {}),
    ...(options.random ? { random: options.random } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.retries !== undefined ? { retries: options.retries } : {}),
  };
}

function reportRateLimit(
  options: SpApiCallOptions,
  operation: SpApiReportsOperation,
  header: string | null,
): void {
  const { onRateLimit } = options;
  if (header === null || !onRateLimit) return;
  const rate = Number(header);
  if (!Number.isFinite(rate) || rate <= 0) return;
  try {
    onRateLimit(operation, rate);
  } catch (error) {
    logger.warn({ err: error, operation }, 'onRateLimit listener failed');
  }
}
