import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import {
  closeServer,
  gzipBomb,
  HUGE_BODY_BYTES,
  incompressibleGzip,
  listenLocal,
  realSleep,
  seededRandom,
  streamHuge,
} from './shared.ts';

/**
 * A sandbox Amazon SP-API for the vendor real-time sales flow, on one port:
 *
 * - LWA `POST /auth/o2/token` (refresh_token grant, form-encoded): a bearer access token valid
 *   for `tokenTtlSeconds`; an unknown client id/secret is 401 `invalid_client`, an unknown
 *   refresh token 400 `invalid_grant`, as LWA answers (RFC 6749 §5.2 bodies,
 *   `{error_description, error}`).
 * - Reports API 2021-06-30: `POST /reports` (202 `{reportId}`), `GET /reports/{id}`,
 *   `GET /documents/{id}`, each needing `x-amz-access-token` (else 403 `Unauthorized`) and
 *   each behind its own token bucket with SP-API's documented rate and burst (429
 *   `QuotaExceeded`, no Retry-After; successful answers carry `x-amzn-RateLimit-Limit`).
 *   Bodies, statuses and `x-amzn-*` headers are those of Amazon's model
 *   (reports_2021-06-30.json; functions/test/upstreams/spapi-contract.test.ts checks them).
 * - The document URL (a stand-in for the presigned S3 URL, valid 5 minutes): the gzipped
 *   GET_VENDOR_REAL_TIME_SALES_REPORT JSON (vendorRealTimeSalesReport.json), one row per ASIN
 *   for each whole hour of the window that had ended when the report was requested,
 *   deterministic from (seed, ASIN, hour); as in the real report, a row can be zero (nothing
 *   sold) or negative (cancellations exceeded orders): see sandboxSalesRow.
 * - A report is DONE `processingMs` after it was requested (IN_QUEUE for the first half,
 *   IN_PROGRESS for the second); CANCELLED when the window holds no data, as SP-API does.
 * - Misbehaviour, per operation or for all: '429' (the operation's real throttle: 429
 *   `QuotaExceeded` from SP-API, 429 `invalid_request` from LWA, `503 SlowDown` from S3 for
 *   the download), '5xx', 'slow', 'malformed' (cut in half),
 *   and hostile answers to what would have been a 2xx: 'huge' (a body that goes on for
 *   `hugeBytes`, streamed without a length; the document a valid gzip stream that large) and
 *   'bomb' (the document: a gzip file of about
 *   1 KiB per MiB that inflates to `hugeBytes` of valid report JSON; the JSON steps: the same
 *   as a Content-Encoding gzip bomb). Reports requested from now on can end 'fatal' or
 *   'cancelled', or be 'stuck' (IN_PROGRESS for ever).
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

export type RateLimitedOperation = 'createReport' | 'getReport' | 'getReportDocument';
export interface RateLimit {
  ratePerSecond: number;
  burst: number;
}
/** SP-API's documented usage plans for Reports API 2021-06-30. */
export const SPAPI_REPORTS_RATE_LIMITS: Readonly<Record<RateLimitedOperation, RateLimit>> = {
  createReport: { ratePerSecond: 0.0167, burst: 15 },
  getReport: { ratePerSecond: 2, burst: 15 },
  getReportDocument: { ratePerSecond: 0.0167, burst: 15 },
};

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

const HOUR = 3_600_000;
const URL_TTL_MS = 5 * 60_000;

/** The ASINs that sell in this sandbox: `B0` and eight letters or digits. */
export function sandboxAsins(seed: string | number = '', count = 6): string[] {
  const r = seededRandom(`asins:${seed}`);
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const out = new Set<string>();
  while (out.size < count) {
    let asin = 'B0';
    for (let i = 0; i < 8; i++) asin += alphabet[Math.floor(r() * alphabet.length)];
    out.add(asin);
  }
  return [...out];
}

export interface SalesRowJson {
  startTime: string;
  endTime: string;
  asin: string;
  orderedUnits: number;
  orderedRevenue: number;
}

const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * Each ASIN's hours come in cycles of this many: in each, one hour where cancellations exceed
 * orders (negative units and revenue) and one where nothing sold (a zero row), at a phase of
 * the ASIN's own. So any 8 whole hours hold both for every ASIN.
 */
export const SANDBOX_SALES_CYCLE_HOURS = 8;

/**
 * One ASIN's sales in one hour, as GET_VENDOR_REAL_TIME_SALES_REPORT writes them
 * (vendorRealTimeSalesReport.json, `reportData`): busier in the (UTC) afternoon; an hour with
 * no sales is a zero row, as in the schema's example; once every SANDBOX_SALES_CYCLE_HOURS
 * hours cancellations exceed orders and the row is negative ("This number can be negative if
 * there are more cancellations than orders"), with revenue adjusted likewise.
 */
export function sandboxSalesRow(
  seed: string | number,
  asin: string,
  hourStartMs: number,
): SalesRowJson {
  const profile = seededRandom(`${seed}:${asin}`);
  const perHour = 0.5 + profile() * 6;
  const priceCents = 999 + Math.floor(profile() * 15_000);
  const phase = Math.floor(profile() * SANDBOX_SALES_CYCLE_HOURS);
  const hourOfDay = new Date(hourStartMs).getUTCHours();
  const daily = 0.35 + 0.65 * Math.max(0, Math.sin(((hourOfDay - 6) / 24) * 2 * Math.PI));
  const draw = seededRandom(`${seed}:${asin}:${hourStartMs}`);
  const slot = (Math.floor(hourStartMs / HOUR) + phase) % SANDBOX_SALES_CYCLE_HOURS;
  const units =
    slot === 0
      ? -(1 + Math.floor(draw() * 3)) // cancellations of earlier orders exceed this hour's
      : slot === SANDBOX_SALES_CYCLE_HOURS / 2
        ? 0
        : Math.floor(draw() * 2 * perHour * daily);
  return {
    startTime: isoSeconds(hourStartMs),
    endTime: isoSeconds(hourStartMs + HOUR),
    asin,
    orderedUnits: units,
    // units * priceCents is a whole number of cents: exact, and never -0.
    orderedRevenue: units === 0 ? 0 : (units * priceCents) / 100,
  };
}

/** Rows of the whole hours inside [startMs, endMs) that had ended by `asOfMs`. */
export function sandboxSalesRows(
  seed: string | number,
  asins: readonly string[],
  startMs: number,
  endMs: number,
  asOfMs: number,
): SalesRowJson[] {
  const rows: SalesRowJson[] = [];
  const last = Math.min(endMs, asOfMs);
  for (let h = Math.ceil(startMs / HOUR) * HOUR; h + HOUR <= last; h += HOUR) {
    for (const asin of asins) rows.push(sandboxSalesRow(seed, asin, h));
  }
  return rows;
}

/** SP-API's continuous token bucket: starts full, refills at `ratePerSecond` up to `burst`. */
class TokenBucket {
  #tokens: number;
  #at: number;
  constructor(
    readonly limit: RateLimit,
    private readonly now: () => number,
  ) {
    this.#tokens = limit.burst;
    this.#at = now();
  }
  level(): number {
    const t = this.now();
    this.#tokens = Math.min(
      this.limit.burst,
      this.#tokens + (Math.max(0, t - this.#at) / 1000) * this.limit.ratePerSecond,
    );
    this.#at = t;
    return this.#tokens;
  }
  take(): boolean {
    // The epsilon absorbs float error: 60 s at 0.0167/s is one token.
    if (this.level() + 1e-9 < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

interface Report {
  reportId: string;
  reportType: string;
  marketplaceIds: string[];
  dataStartMs: number;
  dataEndMs: number;
  createdMs: number;
  outcome: 'DONE' | 'CANCELLED' | 'FATAL' | 'STUCK';
  reportDocumentId?: string;
}

interface Answer {
  status: number;
  /** A throttle (counted as `rejected`), whatever its status. */
  throttled?: boolean;
  body: string | Buffer;
  headers?: Record<string, string>;
  /** Sends a body too large to build (a 'huge' answer): streamed, with `headers`. */
  stream?: {
    head: string | Buffer;
    filler?: string | Buffer;
    tail: string | Buffer;
    bytes: number;
  };
}

const spApiErrors = (code: string, message: string) => ({
  errors: [{ code, message, details: '' }],
});
const json = (status: number, body: unknown, headers?: Record<string, string>): Answer => ({
  status,
  body: JSON.stringify(body),
  headers: { 'content-type': 'application/json', ...headers },
});
/** S3's REST error response (Amazon S3 API Reference, "Error responses"): XML `<Error>`. */
const s3Error = (status: number, code: string, message: string): Answer => ({
  status,
  body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>TOLLGATESANDBOX0</RequestId><HostId>tollgate-sandbox</HostId></Error>`,
  headers: { 'content-type': 'application/xml' },
});

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, answer: Answer) {
  if (answer.stream) {
    void streamHuge(res, answer.status, answer.headers ?? {}, answer.stream);
    return;
  }
  const body = typeof answer.body === 'string' ? Buffer.from(answer.body) : answer.body;
  res.writeHead(answer.status, { 'content-length': body.length, ...answer.headers });
  res.end(body);
}

export async function startSpApiSandbox(opts: SpApiSandboxOptions = {}): Promise<SpApiSandbox> {
  const now = opts.now ?? Date.now;
  const seed = opts.seed ?? '';
  const clientId = opts.clientId ?? SPAPI_SANDBOX_CLIENT_ID;
  const clientSecret = opts.clientSecret ?? SPAPI_SANDBOX_CLIENT_SECRET;
  const refreshToken = opts.refreshToken ?? SPAPI_SANDBOX_REFRESH_TOKEN;
  const processingMs = opts.processingMs ?? 30_000;
  const slowMs = opts.slowMs ?? 3_000;
  const tokenTtlMs = (opts.tokenTtlSeconds ?? 3600) * 1000;
  const sleep = opts.sleep ?? realSleep;
  const asins = sandboxAsins(seed, opts.asins ?? 6);
  const limits = { ...SPAPI_REPORTS_RATE_LIMITS, ...opts.rateLimits };
  const buckets: Record<RateLimitedOperation, TokenBucket> = {
    createReport: new TokenBucket(limits.createReport, now),
    getReport: new TokenBucket(limits.getReport, now),
    getReportDocument: new TokenBucket(limits.getReportDocument, now),
  };

  const modes = Object.fromEntries(SPAPI_OPERATIONS.map((op) => [op, 'none'])) as Record<
    SpApiOperation,
    SpApiCallMode
  >;
  let reportOutcome: SpApiSandboxState['reportOutcome'] = 'none';
  const counts = Object.fromEntries(
    SPAPI_OPERATIONS.map((op) => [op, { served: 0, rejected: 0 }]),
  ) as Record<SpApiOperation, SpApiOperationCounts>;
  const accessTokens = new Map<string, number>(); // token -> expiry (ms)
  const reports = new Map<string, Report>();
  const documents = new Map<string, Report>();
  let tokensIssued = 0;
  let baseUrl = '';

  // --- LWA -------------------------------------------------------------------------------
  // LWA's order: `{"error_description": ..., "error": ...}`.
  const lwaError = (status: number, error: string, description: string) =>
    json(status, { error_description: description, error });

  const lwaToken = (req: IncomingMessage, raw: string): Answer => {
    let params: URLSearchParams;
    if ((req.headers['content-type'] ?? '').includes('json')) {
      try {
        params = new URLSearchParams(JSON.parse(raw) as Record<string, string>);
      } catch {
        return lwaError(400, 'invalid_request', 'The request body is not valid JSON');
      }
    } else {
      params = new URLSearchParams(raw);
    }
    const grant = params.get('grant_type');
    if (grant !== 'refresh_token') {
      return lwaError(400, 'unsupported_grant_type', `Unsupported grant_type: ${grant ?? ''}`);
    }
    for (const name of ['refresh_token', 'client_id', 'client_secret']) {
      if (!params.get(name)) {
        return lwaError(
          400,
          'invalid_request',
          `The request is missing a required parameter : ${name}`,
        );
      }
    }
    if (params.get('client_id') !== clientId || params.get('client_secret') !== clientSecret) {
      return lwaError(401, 'invalid_client', 'Client authentication failed');
    }
    if (params.get('refresh_token') !== refreshToken) {
      return lwaError(
        400,
        'invalid_grant',
        'The request has an invalid grant parameter : refresh_token',
      );
    }
    tokensIssued++;
    const token = `Atza|IwEBI.tollgate-sandbox.${tokensIssued}.${Math.floor(seededRandom(`${seed}:token:${tokensIssued}`)() * 1e12).toString(36)}`;
    accessTokens.set(token, now() + tokenTtlMs);
    return json(200, {
      access_token: token,
      refresh_token: refreshToken,
      token_type: 'bearer',
      expires_in: tokenTtlMs / 1000,
    });
  };

  // --- Reports API -----------------------------------------------------------------------
  const statusOf = (report: Report) => {
    const elapsed = now() - report.createdMs;
    if (report.outcome === 'STUCK') return elapsed >= processingMs / 2 ? 'IN_PROGRESS' : 'IN_QUEUE';
    if (elapsed >= processingMs) return report.outcome;
    return elapsed >= processingMs / 2 ? 'IN_PROGRESS' : 'IN_QUEUE';
  };

  const reportJson = (report: Report) => {
    const status = statusOf(report);
    const terminal = status === 'DONE' || status === 'CANCELLED' || status === 'FATAL';
    return {
      reportId: report.reportId,
      reportType: report.reportType,
      dataStartTime: new Date(report.dataStartMs).toISOString(),
      dataEndTime: new Date(report.dataEndMs).toISOString(),
      marketplaceIds: report.marketplaceIds,
      createdTime: new Date(report.createdMs).toISOString(),
      processingStatus: status,
      ...(status !== 'IN_QUEUE'
        ? { processingStartTime: new Date(report.createdMs + processingMs / 2).toISOString() }
        : {}),
      ...(terminal
        ? { processingEndTime: new Date(report.createdMs + processingMs).toISOString() }
        : {}),
      ...(status === 'DONE' ? { reportDocumentId: report.reportDocumentId } : {}),
    };
  };

  const invalidInput = (message: string) => json(400, spApiErrors('InvalidInput', message));
  const notFound = (message: string) => json(404, spApiErrors('NotFound', message));

  const createReport = (raw: string): Answer => {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return invalidInput('The request body is not valid JSON.');
    }
    if (body === null || typeof body !== 'object') return invalidInput('Expected an object.');
    const { reportType, dataStartTime, dataEndTime, marketplaceIds } = body;
    if (reportType !== VENDOR_REAL_TIME_SALES_REPORT) {
      return invalidInput(
        `Invalid reportType: ${String(reportType)} (the sandbox serves ${VENDOR_REAL_TIME_SALES_REPORT}).`,
      );
    }
    if (
      !Array.isArray(marketplaceIds) ||
      marketplaceIds.length === 0 ||
      !marketplaceIds.every((m) => typeof m === 'string' && m.length > 0)
    ) {
      return invalidInput('marketplaceIds must list at least one marketplace.');
    }
    const start = typeof dataStartTime === 'string' ? Date.parse(dataStartTime) : Number.NaN;
    const end = typeof dataEndTime === 'string' ? Date.parse(dataEndTime) : Number.NaN;
    if (Number.isNaN(start) || Number.isNaN(end)) {
      return invalidInput('dataStartTime and dataEndTime must be ISO 8601 date-times.');
    }
    if (end <= start) return invalidInput('dataEndTime must be after dataStartTime.');
    const createdMs = now();
    const reportId = String(50_000_000_000 + reports.size + 1);
    const hasData = sandboxSalesRows(seed, asins, start, end, createdMs).length > 0;
    const outcome =
      reportOutcome === 'fatal'
        ? 'FATAL'
        : reportOutcome === 'stuck'
          ? 'STUCK'
          : reportOutcome === 'cancelled' || !hasData
            ? 'CANCELLED'
            : 'DONE';
    const report: Report = {
      reportId,
      reportType,
      marketplaceIds: marketplaceIds as string[],
      dataStartMs: start,
      dataEndMs: end,
      createdMs,
      outcome,
    };
    if (outcome === 'DONE') {
      report.reportDocumentId = `amzn1.spdoc.1.4.na.tollgate-sandbox.${reportId}`;
      documents.set(report.reportDocumentId, report);
    }
    reports.set(reportId, report);
    return json(202, { reportId });
  };

  const getReport = (id: string): Answer => {
    const report = reports.get(id);
    return report ? json(200, reportJson(report)) : notFound(`Report ${id} not found.`);
  };

  const getReportDocument = (id: string): Answer => {
    if (!documents.has(id)) return notFound(`Report document ${id} not found.`);
    const expires = now() + URL_TTL_MS;
    return json(200, {
      reportDocumentId: id,
      url: `${baseUrl}/report-documents/${encodeURIComponent(id)}?X-Amz-Expires=300&expires=${expires}`,
      compressionAlgorithm: 'GZIP',
    });
  };

  const download = (id: string, url: URL): Answer => {
    const expires = Number(url.searchParams.get('expires'));
    if (!(expires >= now())) return s3Error(403, 'AccessDenied', 'Request has expired');
    const report = documents.get(id);
    if (!report) return s3Error(404, 'NoSuchKey', 'The specified key does not exist.');
    const document = {
      reportSpecification: {
        reportType: report.reportType,
        reportOptions: { currencyCode: 'USD' },
        dataStartTime: isoSeconds(report.dataStartMs),
        dataEndTime: isoSeconds(report.dataEndMs),
        marketplaceIds: report.marketplaceIds,
      },
      reportData: sandboxSalesRows(
        seed,
        asins,
        report.dataStartMs,
        report.dataEndMs,
        report.createdMs,
      ),
    };
    return {
      status: 200,
      body: gzipSync(JSON.stringify(document)),
      headers: { 'content-type': 'application/octet-stream' },
    };
  };

  // --- routing ---------------------------------------------------------------------------
  interface Route {
    op: SpApiOperation;
    run: (raw: string) => Answer;
  }
  const route = (req: IncomingMessage, url: URL): Route | undefined => {
    const method = req.method ?? 'GET';
    const path = url.pathname;
    if (method === 'POST' && path === LWA_TOKEN_PATH) {
      return { op: 'lwaToken', run: (raw) => lwaToken(req, raw) };
    }
    if (method === 'POST' && path === `${REPORTS_API_PATH}/reports`) {
      return { op: 'createReport', run: createReport };
    }
    const segment = (prefix: string) =>
      path.startsWith(prefix) &&
      path.length > prefix.length &&
      !path.slice(prefix.length).includes('/')
        ? decodeURIComponent(path.slice(prefix.length))
        : undefined;
    if (method !== 'GET') return undefined;
    const reportId = segment(`${REPORTS_API_PATH}/reports/`);
    if (reportId !== undefined) return { op: 'getReport', run: () => getReport(reportId) };
    const docId = segment(`${REPORTS_API_PATH}/documents/`);
    if (docId !== undefined) {
      return { op: 'getReportDocument', run: () => getReportDocument(docId) };
    }
    const downloadId = segment('/report-documents/');
    if (downloadId !== undefined) {
      return { op: 'downloadDocument', run: () => download(downloadId, url) };
    }
    return undefined;
  };

  let requests = 0;
  const requestId = () => `tollgate-sandbox-${(++requests).toString(36)}`;

  /**
   * Answers that are not the operation's own (forced by a mode, or the gate): its throttle, or
   * a server fault, each as the real service words it.
   * - S3 (the download) throttles with `503 SlowDown`, never 429 (S3 API Reference, "Error
   *   responses"; S3 User Guide, "Error best practices"); its fault is `500 InternalError`.
   * - LWA throttles with 429 and an RFC 6749 §5.2 body. Which `error` it writes is not
   *   documented (assumed: `invalid_request`, §5.2's catch-all, since §5.2 has no throttle
   *   code and the others blame the credentials or the grant; `slow_down` is the device
   *   flow's, RFC 8628 §3.5, not an LWA token error); clients key on the status.
   * - SP-API: 429 `QuotaExceeded`, 500 `InternalFailure` (ErrorList, reports_2021-06-30.json).
   */
  const failure = (op: SpApiOperation, kind: 'throttle' | 'fault'): Answer => {
    if (op === 'downloadDocument') {
      return kind === 'throttle'
        ? { ...s3Error(503, 'SlowDown', 'Please reduce your request rate.'), throttled: true }
        : s3Error(500, 'InternalError', 'We encountered an internal error. Please try again.');
    }
    if (op === 'lwaToken') {
      return kind === 'throttle'
        ? {
            ...lwaError(429, 'invalid_request', 'Too many requests. Reduce your request rate.'),
            throttled: true,
          }
        : lwaError(500, 'server_error', 'The authorization server encountered an error');
    }
    return kind === 'throttle'
      ? {
          ...json(
            429,
            spApiErrors('QuotaExceeded', 'You exceeded your quota for the requested resource.'),
          ),
          throttled: true,
        }
      : json(
          500,
          spApiErrors('InternalFailure', 'We encountered an internal error. Please try again.'),
        );
  };

  const unauthorized = (message: string) => json(403, spApiErrors('Unauthorized', message));

  const authorize = (req: IncomingMessage): Answer | undefined => {
    const token = req.headers['x-amz-access-token'];
    const expires = typeof token === 'string' ? accessTokens.get(token) : undefined;
    if (expires === undefined) return unauthorized('Access to requested resource is denied.');
    if (expires <= now()) return unauthorized('The access token you provided has expired.');
    return undefined;
  };

  const answer = async (
    req: IncomingMessage,
    url: URL,
    found: Route | undefined,
    raw: string,
  ): Promise<Answer> => {
    if (!found) {
      return json(404, spApiErrors('NotFound', `No resource at ${req.method} ${url.pathname}.`));
    }
    const { op } = found;
    const mode = modes[op];
    if (mode === '429') return failure(op, 'throttle');
    if (mode === '5xx') return failure(op, 'fault');
    if (mode === 'slow') await sleep(slowMs);
    let result: Answer;
    if (op === 'lwaToken' || op === 'downloadDocument') {
      result = found.run(raw);
    } else {
      const denied = authorize(req);
      if (denied) return denied;
      if (!buckets[op].take()) return failure(op, 'throttle');
      result = found.run(raw);
      if (result.status < 300) {
        result.headers = {
          ...result.headers,
          'x-amzn-RateLimit-Limit': String(limits[op].ratePerSecond),
        };
      }
    }
    if (mode === 'malformed' && result.status < 300) {
      // Cut in half: JSON that does not parse, gzip that does not inflate.
      const bytes = Buffer.from(result.body);
      result = { ...result, body: bytes.subarray(0, Math.floor(bytes.length / 2)) };
    }
    if ((mode === 'huge' || mode === 'bomb') && result.status < 300) {
      result = hostile(op, mode, result);
    }
    return result;
  };

  /** A 2xx made hostile: a body far past any sane size, or a bomb inflating to one. */
  const hostile = (op: SpApiOperation, mode: 'huge' | 'bomb', result: Answer): Answer => {
    const bytes = opts.hugeBytes ?? HUGE_BODY_BYTES;
    const document = op === 'downloadDocument';
    const head = document
      ? `{"reportSpecification":{"reportType":"${VENDOR_REAL_TIME_SALES_REPORT}"},"reportData":[`
      : '{"padding":[';
    const body = { head, tail: ']}', bytes };
    if (mode === 'huge') {
      // The document is a gzip file: a valid one, as large compressed as inflated.
      const stream = document
        ? {
            head: gzipSync(head),
            filler: incompressibleGzip(1024 * 1024),
            tail: gzipSync(']}'),
            bytes,
          }
        : { ...body, filler: ' ' };
      return { ...result, body: '', stream };
    }
    const bomb = gzipBomb(body);
    return document
      ? { ...result, body: bomb } // a gzip document, as the real one, inflating to `bytes`
      : { ...result, body: bomb, headers: { ...result.headers, 'content-encoding': 'gzip' } };
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const found = route(req, url);
    const op = found?.op;
    readBody(req)
      .then((raw) => answer(req, url, found, raw))
      .then(
        (result) => {
          if (op && result.status < 300) counts[op].served++;
          if (op && result.throttled) counts[op].rejected++;
          if (op && op !== 'lwaToken' && op !== 'downloadDocument') {
            result.headers = { ...result.headers, 'x-amzn-RequestId': requestId() };
          }
          send(res, result);
        },
        (error: Error) => send(res, json(500, spApiErrors('InternalFailure', error.message))),
      );
  });

  const port = await listenLocal(server, opts.port);
  baseUrl = `http://127.0.0.1:${port}`;

  return {
    url: baseUrl,
    port,
    misbehave: (mode, operation) => {
      if (mode === 'fatal' || mode === 'cancelled' || mode === 'stuck') {
        reportOutcome = mode;
        return;
      }
      if (operation) {
        modes[operation] = mode;
        return;
      }
      for (const op of SPAPI_OPERATIONS) modes[op] = mode;
      if (mode === 'none') reportOutcome = 'none';
    },
    state: () => ({
      modes: { ...modes },
      reportOutcome,
      operations: Object.fromEntries(
        SPAPI_OPERATIONS.map((op) => [op, { ...counts[op] }]),
      ) as Record<SpApiOperation, SpApiOperationCounts>,
      reportsCreated: reports.size,
      tokensIssued,
      buckets: {
        createReport: buckets.createReport.level(),
        getReport: buckets.getReport.level(),
        getReportDocument: buckets.getReportDocument.level(),
      },
    }),
    stop: () => closeServer(server),
  };
}
