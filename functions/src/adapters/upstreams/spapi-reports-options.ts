import type { SalesRow } from '../../core/upstreams/sales';
import { KIB, MIB } from './upstream-call';

/**
 * What the SP-API Reports client is given and gives back: its options, the operations it calls
 * and each one's body cap, what bounds one call of the flow, and a sales report's result.
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

export interface LwaCredentials {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
}

export interface SpApiReportsClientOptions {
  /** The regional SP-API endpoint, e.g. `https://sellingpartnerapi-na.amazon.com`. */
  baseUrl: string;
  /** The LWA token endpoint, e.g. `https://api.amazon.com/auth/o2/token`. */
  lwaUrl: string;
  credentials: LwaCredentials;
  /** Reports are requested for these unless a call names others. */
  marketplaceIds: readonly string[];
  fetch?: typeof fetch;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
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

export interface FetchReportOptions {
  /** Between two getReport polls (15 s by default); waited on the injected sleep. */
  pollIntervalMs?: number;
  /** getReport calls before giving up (40 by default). */
  maxPolls?: number;
  marketplaceIds?: readonly string[];
  /**
   * Epoch ms (on the client's clock) by which the flow must be over: no poll waits past it, and
   * every HTTP call's timeout is cut to what is left. A report still processing then is a
   * ReportProcessingError ('timeout'), as after `maxPolls`.
   */
  deadlineMs?: number;
  /** The gate's admission of each request (see CallDeadline). */
  admit?: CallDeadline['admit'];
}

export interface SalesReportResult {
  reportId: string;
  processingStatus: 'DONE' | 'CANCELLED';
  marketplaceIds: string[];
  /** Empty when the report was CANCELLED (SP-API's answer when there is no data). */
  rows: SalesRow[];
  /** The report document as downloaded (inflated), when there was one: the raw payload. */
  document?: string;
}
