import type { z } from 'zod';
import { type SalesRow, salesReportSchema, salesRowsFromReport } from '../../core/upstreams/sales';
import { logger } from '../../log';
import { upstreamFetch } from './http';
import { readBytes, readErrorText } from './http-body';
import { parseBody, readJson } from './http-json';
import {
  type CallDeadline,
  SPAPI_PROVIDER,
  type SpApiReportsOperation,
  spApiCall,
  spApiMaxBodyBytes,
} from './spapi-calls';
import { LwaAccessTokens } from './spapi-lwa';
import {
  createReportResponseSchema,
  errorDetail,
  isS3SlowDown,
  type Report,
  type ReportDocument,
  ReportProcessingError,
  reportDocumentSchema,
  reportSchema,
} from './spapi-reports-answers';
import type {
  FetchReportOptions,
  SalesReportResult,
  SpApiReportsClientOptions,
} from './spapi-reports-types';
import { realSleep, type UpstreamCall, UpstreamError, upstreamFailure } from './upstream-call';

/**
 * Amazon SP-API Reports API 2021-06-30 with Login with Amazon: create a report, poll it until
 * it is done, fetch its document and download it (gzip). Every step goes through the shared
 * HTTP helper, so a throttle anywhere in the flow is the one QuotaExceededError naming the
 * step: a 429 from LWA or SP-API, S3's `503 SlowDown` from the document download. Every
 * `x-amzn-RateLimit-Limit` the upstream sends is handed to `onRateLimit`.
 *
 * Every answer is read under a cap (SPAPI_MAX_BODY_BYTES): the JSON steps answer in a few
 * hundred bytes, so 64 KiB is plenty; the document is streamed and inflated as it arrives, and aborted once
 * either its download or what it inflates to passes its cap (a gzip bomb costs at most the
 * cap): an `oversized` UpstreamError. A flow given a deadline stops polling, and cuts its HTTP
 * timeouts, so that it ends by then.
 */

const USER_AGENT = 'Tollgate/0.1 (Language=TypeScript)';

export class SpApiReportsClient {
  readonly marketplaceIds: readonly string[];
  private readonly baseUrl: string;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly lwa: LwaAccessTokens;

  constructor(private readonly options: SpApiReportsClientOptions) {
    if (options.marketplaceIds.length === 0) {
      throw new RangeError('SpApiReportsClient needs at least one marketplaceId');
    }
    this.marketplaceIds = [...options.marketplaceIds];
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? realSleep;
    this.lwa = new LwaAccessTokens(options, this.now, (operation) => this.call(operation));
  }

  /** Requests a report; resolves with its id (SP-API answers 202). */
  async createReport(
    reportType: string,
    startMs: number,
    endMs: number,
    marketplaceIds: readonly string[] = this.marketplaceIds,
    deadline: CallDeadline = {},
  ): Promise<string> {
    const body = JSON.stringify({
      reportType,
      dataStartTime: new Date(startMs).toISOString(),
      dataEndTime: new Date(endMs).toISOString(),
      marketplaceIds,
    });
    const { reportId } = await this.authorized(
      'createReport',
      `${this.baseUrl}/reports/2021-06-30/reports`,
      { method: 'POST', body, headers: { 'content-type': 'application/json' } },
      createReportResponseSchema,
      deadline,
    );
    return reportId;
  }

  async getReport(reportId: string, deadline: CallDeadline = {}): Promise<Report> {
    return this.authorized(
      'getReport',
      `${this.baseUrl}/reports/2021-06-30/reports/${encodeURIComponent(reportId)}`,
      { method: 'GET' },
      reportSchema,
      deadline,
    );
  }

  async getReportDocument(
    reportDocumentId: string,
    deadline: CallDeadline = {},
  ): Promise<ReportDocument> {
    return this.authorized(
      'getReportDocument',
      `${this.baseUrl}/reports/2021-06-30/documents/${encodeURIComponent(reportDocumentId)}`,
      { method: 'GET' },
      reportDocumentSchema,
      deadline,
    );
  }

  /**
   * Downloads a document from its presigned URL (no access token), gunzipped as it streams
   * when it says GZIP. A download past `maxBodyBytes.downloadDocument`, or a document inflating
   * past `maxBodyBytes.document`, is aborted: an `oversized` error; a body that does not
   * inflate is a `malformed` one. S3 serves the URL: its throttle (`503 SlowDown`) is the
   * QuotaExceededError of `downloadDocument` (with Retry-After if it sends one), not retried;
   * any other 5xx (500 InternalError, 503 ServiceUnavailable) is a server error, retried.
   */
  async downloadDocument(document: ReportDocument, deadline: CallDeadline = {}): Promise<string> {
    // S3 throttles with `503 SlowDown`, never 429: the download's quota error, not a fault.
    const call = { ...this.call('downloadDocument', deadline), throttled: isS3SlowDown };
    const response = await upstreamFetch(document.url, { method: 'GET' }, call);
    if (!response.ok) {
      const text = await readErrorText(response, SPAPI_PROVIDER);
      const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
      throw upstreamFailure(
        new UpstreamError(
          SPAPI_PROVIDER,
          'downloadDocument',
          'http',
          `HTTP ${response.status}${code ? ` ${code}` : ''}`,
          response.status,
        ),
      );
    }
    const documentLimit = spApiMaxBodyBytes(this.options, 'document');
    const gzipped = document.compressionAlgorithm === 'GZIP';
    const bytes = await readBytes(
      response,
      gzipped ? call : { ...call, maxBodyBytes: documentLimit },
      {
        what: `document ${document.reportDocumentId}`,
        ...(gzipped ? { gunzip: { maxBytes: documentLimit } } : {}),
      },
    );
    return bytes.toString('utf8');
  }

  /**
   * The whole flow for a vendor real-time sales report: create, poll until DONE, CANCELLED or
   * FATAL, then fetch, download and parse the document into hourly rows. CANCELLED (no data)
   * resolves with no rows; FATAL, or still processing after `maxPolls`, throws
   * ReportProcessingError. A throttle at any step (429; S3's 503 SlowDown for the download)
   * throws QuotaExceededError naming the step.
   */
  async fetchReport(
    reportType: string,
    startMs: number,
    endMs: number,
    options: FetchReportOptions = {},
  ): Promise<SalesReportResult> {
    const { pollIntervalMs = 15_000, maxPolls = 40, deadlineMs, admit } = options;
    const deadline: CallDeadline = {
      ...(deadlineMs === undefined ? {} : { deadlineMs }),
      ...(admit ? { admit } : {}),
    };
    const marketplaceIds = [...(options.marketplaceIds ?? this.marketplaceIds)];
    const reportId = await this.createReport(reportType, startMs, endMs, marketplaceIds, deadline);
    for (let poll = 1; ; poll++) {
      const report = await this.getReport(reportId, deadline);
      switch (report.processingStatus) {
        case 'CANCELLED':
          logger.info({ reportId, reportType }, 'SP-API report cancelled: no data');
          return { reportId, processingStatus: 'CANCELLED', marketplaceIds, rows: [] };
        case 'FATAL':
          throw upstreamFailure(
            new ReportProcessingError(reportId, 'FATAL', `report ${reportId} ended FATAL`),
          );
        case 'DONE': {
          const { rows, document } = await this.salesRows(report, deadline);
          return { reportId, processingStatus: 'DONE', marketplaceIds, rows, document };
        }
        default:
          if (poll >= maxPolls) {
            throw upstreamFailure(
              new ReportProcessingError(
                reportId,
                report.processingStatus,
                `report ${reportId} still ${report.processingStatus} after ${poll} polls`,
              ),
            );
          }
          // The next poll must leave time to fetch the document: none starts at the deadline.
          if (deadlineMs !== undefined && this.now() + pollIntervalMs >= deadlineMs) {
            throw upstreamFailure(
              new ReportProcessingError(
                reportId,
                report.processingStatus,
                `report ${reportId} still ${report.processingStatus} after ${poll} polls, and the next poll would pass the deadline (${new Date(deadlineMs).toISOString()})`,
              ),
            );
          }
          await this.sleep(pollIntervalMs);
      }
    }
  }

  private async salesRows(
    report: Report,
    deadline: CallDeadline,
  ): Promise<{ rows: SalesRow[]; document: string }> {
    if (!report.reportDocumentId) {
      throw upstreamFailure(
        new UpstreamError(
          SPAPI_PROVIDER,
          'getReport',
          'malformed',
          `report ${report.reportId} is DONE without a reportDocumentId`,
        ),
      );
    }
    const document = await this.getReportDocument(report.reportDocumentId, deadline);
    const text = await this.downloadDocument(document, deadline);
    const parsed = parseBody(text, salesReportSchema, this.call('downloadDocument'));
    return { rows: salesRowsFromReport(parsed), document: text };
  }

  /** The HTTP helper's settings for one operation (spapi-calls.ts). */
  private call(operation: SpApiReportsOperation, deadline: CallDeadline = {}): UpstreamCall {
    return spApiCall(this.options, { now: this.now, sleep: this.sleep }, operation, deadline);
  }

  /**
   * An SP-API call with an access token. A 403 once drops the cached token and retries with a
   * fresh one (LWA may have revoked it early); a second 403 is a `credentials` error.
   */
  private async authorized<T extends z.ZodType>(
    operation: SpApiReportsOperation,
    url: string,
    init: RequestInit & { headers?: Record<string, string> },
    schema: T,
    deadline: CallDeadline,
  ): Promise<z.infer<T>> {
    const call = this.call(operation, deadline);
    for (let attempt = 1; ; attempt++) {
      const token = await this.lwa.accessToken();
      const response = await upstreamFetch(
        url,
        {
          ...init,
          headers: {
            accept: 'application/json',
            'user-agent': USER_AGENT,
            ...init.headers,
            'x-amz-access-token': token,
          },
        },
        call,
      );
      if (response.ok) return readJson(response, schema, call);
      const detail = errorDetail(await readErrorText(response, SPAPI_PROVIDER));
      if ((response.status === 401 || response.status === 403) && attempt === 1) {
        this.lwa.dropToken(token);
        continue;
      }
      throw upstreamFailure(
        new UpstreamError(
          SPAPI_PROVIDER,
          operation,
          response.status === 401 || response.status === 403 ? 'credentials' : 'http',
          `HTTP ${response.status}${detail ? `: ${detail}` : ''}`,
          response.status,
        ),
      );
    }
  }
}

// Its calls' settings, what it is given and answers, and its LWA tokens live in spapi-calls.ts,
// spapi-reports-types.ts, spapi-reports-answers.ts and spapi-lwa.ts.
