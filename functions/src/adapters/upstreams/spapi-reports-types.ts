import type { SalesRow } from '../../core/upstreams/sales';
import type { CallDeadline, SpApiCallOptions } from './spapi-calls';
import type { LwaCredentials } from './spapi-lwa';

/**
 * What the SP-API Reports client is given and gives back: its options, a report flow's options
 * and a sales report's result.
 */

export interface SpApiReportsClientOptions extends SpApiCallOptions {
  /** The regional SP-API endpoint, e.g. `https://sellingpartnerapi-na.amazon.com`. */
  baseUrl: string;
  /** The LWA token endpoint, e.g. `https://api.amazon.com/auth/o2/token`. */
  lwaUrl: string;
  credentials: LwaCredentials;
  /** Reports are requested for these unless a call names others. */
  marketplaceIds: readonly string[];
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
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
