import { z } from 'zod';
import { type SalesRow, salesReportSchema, salesRowsFromReport } from '../../core/upstreams/sales';
import { logger } from '../../log';
import {
  KIB,
  MIB,
  parseBody,
  readBytes,
  readErrorText,
  readJson,
  realSleep,
  safeJson,
  type UpstreamCall,
  UpstreamError,
  upstreamFailure,
  upstreamFetch,
} from './http';

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
const RATE_LIMITED: ReadonlySet<SpApiReportsOperation> = new Set<SpApiReportsOperation>([
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

export const processingStatuses = [
  'IN_QUEUE',
  'IN_PROGRESS',
  'DONE',
  'CANCELLED',
  'FATAL',
] as const;
export type ProcessingStatus = (typeof processingStatuses)[number];

const lwaTokenSchema = z.object({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: z.number().positive(),
  refresh_token: z.string().optional(),
});
const lwaErrorSchema = z.object({ error: z.string(), error_description: z.string().optional() });
const spApiErrorsSchema = z.object({
  errors: z.array(z.object({ code: z.string(), message: z.string().optional() }).loose()).min(1),
});

export const createReportResponseSchema = z.object({ reportId: z.string().min(1) });

export const reportSchema = z.object({
  reportId: z.string().min(1),
  reportType: z.string(),
  processingStatus: z.enum(processingStatuses),
  dataStartTime: z.string().optional(),
  dataEndTime: z.string().optional(),
  marketplaceIds: z.array(z.string()).optional(),
  createdTime: z.string(),
  processingStartTime: z.string().optional(),
  processingEndTime: z.string().optional(),
  reportDocumentId: z.string().min(1).optional(),
});
export type Report = z.infer<typeof reportSchema>;

export const reportDocumentSchema = z.object({
  reportDocumentId: z.string().min(1),
  url: z.url(),
  compressionAlgorithm: z.literal('GZIP').optional(),
});
export type ReportDocument = z.infer<typeof reportDocumentSchema>;

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

/** A report that ended FATAL (or never ended): there is nothing to download. */
export class ReportProcessingError extends UpstreamError {
  constructor(
    readonly reportId: string,
    readonly processingStatus: ProcessingStatus,
    message: string,
  ) {
    // FATAL is the upstream's verdict; a report still processing is out of time.
    super(SPAPI_PROVIDER, 'getReport', processingStatus === 'FATAL' ? 'http' : 'timeout', message);
    this.name = 'ReportProcessingError';
  }
}

/** Refresh this long before LWA's expiry (at most half the token's lifetime). */
const TOKEN_MARGIN_MS = 60_000;
const USER_AGENT = 'Tollgate/0.1 (Language=TypeScript)';

export class SpApiReportsClient {
  readonly marketplaceIds: readonly string[];
  private readonly baseUrl: string;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private token?: { value: string; refreshAtMs: number };
  private exchange?: Promise<string>;

  constructor(private readonly options: SpApiReportsClientOptions) {
    if (options.marketplaceIds.length === 0) {
      throw new RangeError('SpApiReportsClient needs at least one marketplaceId');
    }
    this.marketplaceIds = [...options.marketplaceIds];
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? realSleep;
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
    const documentLimit = this.maxBodyBytes('document');
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

  private maxBodyBytes(step: SpApiReportsOperation | 'document'): number {
    return this.options.maxBodyBytes?.[step] ?? SPAPI_MAX_BODY_BYTES[step];
  }

  /** The HTTP helper's settings for one operation; every answer's rate limit is reported. */
  private call(operation: SpApiReportsOperation, deadline: CallDeadline = {}): UpstreamCall {
    const { options } = this;
    const baseFetch = options.fetch ?? fetch;
    const observed: typeof fetch = async (input, init) => {
      const response = await baseFetch(input, init);
      this.reportRateLimit(operation, response.headers.get('x-amzn-ratelimit-limit'));
      return response;
    };
    return {
      provider: SPAPI_PROVIDER,
      operation,
      fetch: observed,
      now: this.now,
      sleep: this.sleep,
      maxBodyBytes: this.maxBodyBytes(operation),
      ...(deadline.deadlineMs !== undefined ? { deadlineMs: deadline.deadlineMs } : {}),
      ...(deadline.admit && RATE_LIMITED.has(operation)
        ? { beforeAttempt: () => deadline.admit!(operation as SpApiRateLimitedOperation) }
        : {}),
      ...(options.random ? { random: options.random } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.retries !== undefined ? { retries: options.retries } : {}),
    };
  }

  private reportRateLimit(operation: SpApiReportsOperation, header: string | null): void {
    const { onRateLimit } = this.options;
    if (header === null || !onRateLimit) return;
    const rate = Number(header);
    if (!Number.isFinite(rate) || rate <= 0) return;
    try {
      onRateLimit(operation, rate);
    } catch (error) {
      logger.warn({ err: error, operation }, 'onRateLimit listener failed');
    }
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
      const token = await this.accessToken();
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
        this.dropToken(token);
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

  /** The cached access token, or one LWA exchange shared by every caller waiting for it. */
  private accessToken(): Promise<string> {
    if (this.token && this.now() < this.token.refreshAtMs) return Promise.resolve(this.token.value);
    this.exchange ??= this.exchangeToken().finally(() => {
      this.exchange = undefined;
    });
    return this.exchange;
  }

  private dropToken(value: string): void {
    if (this.token?.value === value) this.token = undefined;
  }

  private async exchangeToken(): Promise<string> {
    const call = this.call('lwaToken');
    const { clientId, clientSecret, refreshToken } = this.options.credentials;
    const requestedAt = this.now();
    const response = await upstreamFetch(
      this.options.lwaUrl,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded;charset=UTF-8',
          accept: 'application/json',
        },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: refreshToken,
          client_id: clientId,
          client_secret: clientSecret,
        }).toString(),
      },
      call,
    );
    if (!response.ok) {
      const text = await readErrorText(response, SPAPI_PROVIDER);
      const parsed = safeJson(text, lwaErrorSchema);
      const detail = parsed
        ? `${parsed.error}${parsed.error_description ? ` (${parsed.error_description})` : ''}`
        : `HTTP ${response.status}`;
      // 400 invalid_grant (refresh token) and 401 invalid_client: waiting will not fix them.
      const credentials = response.status === 400 || response.status === 401;
      throw upstreamFailure(
        new UpstreamError(
          SPAPI_PROVIDER,
          'lwaToken',
          credentials ? 'credentials' : 'http',
          `LWA refused the token exchange: ${detail}`,
          response.status,
        ),
      );
    }
    const body = await readJson(response, lwaTokenSchema, call);
    const lifetimeMs = body.expires_in * 1000;
    this.token = {
      value: body.access_token,
      refreshAtMs: requestedAt + lifetimeMs - Math.min(TOKEN_MARGIN_MS, lifetimeMs / 2),
    };
    return body.access_token;
  }
}

/**
 * S3's throttle: `503 Slow Down` with an XML `<Error><Code>SlowDown</Code>…` body (Amazon S3 API
 * Reference, "Error responses": SlowDown, "Please reduce your request rate.", 503). A 503 with
 * another code (ServiceUnavailable) or none is a server fault.
 */
export function isS3SlowDown(status: number, body: string): boolean {
  return status === 503 && /<Code>\s*SlowDown\s*<\/Code>/.test(body);
}

/** `Code: message` from SP-API's `{errors: [...]}` body, if that is what it is. */
function errorDetail(text: string): string | undefined {
  const parsed = safeJson(text, spApiErrorsSchema);
  const first = parsed?.errors[0];
  if (first) return first.message ? `${first.code}: ${first.message}` : first.code;
  return text ? text.slice(0, 120) : undefined;
}
