import type { RateLimit, RateLimitedOperation } from './spapi-rate-limits.ts';

/**
 * The SP-API sandbox's operations, misbehaviours, options and state, and the names it answers
 * to: its credentials, marketplace, paths and report type.
 */

export type SpApiOperation =
  | 'lwaToken'
  | 'createReport'
  | 'getReport'
  | 'getReportDocument'
  | 'downloadDocument';
export const SPAPI_OPERATIONS: readonly SpApiOperation[] = [
  'lwaToken',
  'createReport',
  'getReport',
  'getReportDocument',
  'downloadDocument',
];

/**
 * How one operation answers. '429' is the operation's throttle as its service answers it (S3's
 * `503 SlowDown` for the download); '5xx' a server fault (500).
 */
export type SpApiCallMode = 'none' | '429' | '5xx' | 'slow' | 'malformed' | 'huge' | 'bomb';
/**
 * Call modes, plus how reports requested from now on end: FATAL, CANCELLED (no data), or
 * never ('stuck': IN_PROGRESS for ever).
 */
export type SpApiMisbehaviour = SpApiCallMode | 'fatal' | 'cancelled' | 'stuck';

export const SPAPI_SANDBOX_CLIENT_ID = 'amzn1.application-oa2-client.tollgate-sandbox';
export const SPAPI_SANDBOX_CLIENT_SECRET = 'amzn1.oa2-cs.v1.tollgate-sandbox-secret';
export const SPAPI_SANDBOX_REFRESH_TOKEN = 'Atzr|tollgate-sandbox-refresh-token';
export const SPAPI_SANDBOX_CREDENTIALS = {
  clientId: SPAPI_SANDBOX_CLIENT_ID,
  clientSecret: SPAPI_SANDBOX_CLIENT_SECRET,
  refreshToken: SPAPI_SANDBOX_REFRESH_TOKEN,
} as const;
/** amazon.com. */
export const SPAPI_SANDBOX_MARKETPLACE_ID = 'ATVPDKIKX0DER';
export const LWA_TOKEN_PATH = '/auth/o2/token';
export const REPORTS_API_PATH = '/reports/2021-06-30';
export const VENDOR_REAL_TIME_SALES_REPORT = 'GET_VENDOR_REAL_TIME_SALES_REPORT';

export interface SpApiSandboxOptions {
  port?: number;
  /** Injected clock (ms): token expiry, buckets, report processing, URL expiry. */
  now?: () => number;
  /** Varies the ASINs and the sales. */
  seed?: string | number;
  clientId?: string;
  clientSecret?: string;
  refreshToken?: string;
  /** From request to DONE (30 s by default). */
  processingMs?: number;
  /** Delay of the 'slow' mode (3000 ms by default). */
  slowMs?: number;
  /** Injected sleep for the 'slow' mode (a real timer by default). */
  sleep?: (ms: number) => Promise<void>;
  /** Overrides SP-API's documented rate and burst per operation. */
  rateLimits?: Partial<Record<RateLimitedOperation, RateLimit>>;
  /** Access token lifetime (3600 s, as LWA). */
  tokenTtlSeconds?: number;
  /** How many ASINs sell (6 by default). */
  asins?: number;
  /** What the 'huge' and 'bomb' answers amount to (256 MiB by default). */
  hugeBytes?: number;
}

export interface SpApiOperationCounts {
  /** Answered 2xx. */
  served: number;
  /** Refused as throttled: 429 (SP-API, LWA), `503 SlowDown` (the S3 download). */
  rejected: number;
}

export interface SpApiSandboxState {
  modes: Record<SpApiOperation, SpApiCallMode>;
  reportOutcome: 'none' | 'fatal' | 'cancelled' | 'stuck';
  operations: Record<SpApiOperation, SpApiOperationCounts>;
  reportsCreated: number;
  tokensIssued: number;
  /** Tokens left in each bucket now. */
  buckets: Record<RateLimitedOperation, number>;
}

export interface SpApiSandbox {
  url: string;
  port: number;
  stop(): Promise<void>;
  state(): SpApiSandboxState;
  /** Without an operation, a call mode applies to every operation (LWA included). */
  misbehave(mode: SpApiMisbehaviour, operation?: SpApiOperation): void;
}
