import { hourWindow, VENDOR_REAL_TIME_SALES_REPORT } from '../../core/upstreams/sales';
import { logger } from '../../log';
import type { AutoSyncFetcher } from '../pipeline/autosync-input';
import type { SalesStore } from '../pipeline/sales-repository';
import type { RawPayloads } from '../storage/raw-payloads';
import type { SpApiReportsClient } from './spapi-reports';
import type { FetchReportOptions } from './spapi-reports-types';

/**
 * The auto-sync fetcher for vendor real-time sales: for each marketplace, one report over the
 * window's whole hours, stored as that window's buckets. It resolves once every marketplace's
 * rows are committed; a QuotaExceededError from any step of any report propagates untouched, so
 * the cycle cools the provider down and leaves the window unmarked for a later cycle. Every
 * request of every report (create, each poll, the document) is admitted by the cycle's gate,
 * per marketplace; a deadline the cycle passes down bounds each report's polling and HTTP calls.
 */

export interface RealtimeSalesFetcherInput {
  client: Pick<SpApiReportsClient, 'fetchReport' | 'marketplaceIds'>;
  store: SalesStore;
  /** GET_VENDOR_REAL_TIME_SALES_REPORT by default. */
  reportType?: string;
  /** The client's marketplaces by default; one report each (rows do not name one). */
  marketplaceIds?: readonly string[];
  pollIntervalMs?: number;
  maxPolls?: number;
  /** Keeps each report document; the window's buckets reference it as `rawPayload`. */
  raw?: RawPayloads;
}

export function createRealtimeSalesFetcher(input: RealtimeSalesFetcherInput): AutoSyncFetcher {
  const { client, store, reportType = VENDOR_REAL_TIME_SALES_REPORT } = input;
  const marketplaceIds = [...(input.marketplaceIds ?? client.marketplaceIds)];
  if (marketplaceIds.length === 0) throw new RangeError('no marketplace to fetch sales for');
  const polling: FetchReportOptions = {
    ...(input.pollIntervalMs !== undefined ? { pollIntervalMs: input.pollIntervalMs } : {}),
    ...(input.maxPolls !== undefined ? { maxPolls: input.maxPolls } : {}),
  };

  return async (window, options = {}) => {
    // Hours are the unit of this report: each window stands for the whole hours that ended
    // within it, so consecutive windows fetch every hour once, after it is over.
    const hours = hourWindow(window);
    if (hours.endMs <= hours.startMs) {
      logger.debug({ window }, 'sales window holds no whole hour yet: nothing to fetch');
      return;
    }
    for (const marketplaceId of marketplaceIds) {
      const result = await client.fetchReport(reportType, hours.startMs, hours.endMs, {
        ...polling,
        marketplaceIds: [marketplaceId],
        ...(options.deadlineMs === undefined ? {} : { deadlineMs: options.deadlineMs }),
        ...(options.admit ? { admit: options.admit } : {}),
      });
      // The document first: the buckets that reference it never point at nothing.
      const rawPayload =
        input.raw && result.document !== undefined
          ? await input.raw.keep(
              'spapi-report',
              `${marketplaceId}~${result.reportId}`,
              result.document,
              'application/json',
            )
          : undefined;
      const stored = await store.replaceWindow(marketplaceId, hours, result.rows, rawPayload);
      logger.info(
        {
          window: window.id,
          purpose: window.purpose,
          marketplaceId,
          reportId: result.reportId,
          processingStatus: result.processingStatus,
          rows: result.rows.length,
          ...stored,
        },
        'vendor real-time sales stored',
      );
    }
  };
}
