import { createServer, type IncomingMessage } from 'node:http';
import { closeServer, listenLocal, realSleep } from './shared.ts';
import {
  type Answer,
  failure,
  hostile,
  json,
  readBody,
  send,
  spApiErrors,
} from './spapi-answers.ts';
import { sandboxLwa } from './spapi-lwa.ts';
import {
  type RateLimitedOperation,
  SPAPI_REPORTS_RATE_LIMITS,
  TokenBucket,
} from './spapi-rate-limits.ts';
import { sandboxReports } from './spapi-reports.ts';
import { sandboxAsins } from './spapi-sales.ts';
import {
  LWA_TOKEN_PATH,
  REPORTS_API_PATH,
  SPAPI_OPERATIONS,
  SPAPI_SANDBOX_CLIENT_ID,
  SPAPI_SANDBOX_CLIENT_SECRET,
  SPAPI_SANDBOX_REFRESH_TOKEN,
  type SpApiCallMode,
  type SpApiOperation,
  type SpApiOperationCounts,
  type SpApiSandbox,
  type SpApiSandboxOptions,
  type SpApiSandboxState,
} from './spapi-types.ts';

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

// Its parts, one module each: the types and names (spapi-types.ts), the rate limits
// (spapi-rate-limits.ts), the sales data (spapi-sales.ts), the answers (spapi-answers.ts), LWA
// (spapi-lwa.ts) and the Reports API (spapi-reports.ts).

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
  let baseUrl = '';

  const { lwaToken, authorize, tokensIssued } = sandboxLwa({
    now,
    seed,
    clientId,
    clientSecret,
    refreshToken,
    tokenTtlMs,
  });
  const { createReport, getReport, getReportDocument, download, reportsCreated } = sandboxReports({
    now,
    seed,
    asins,
    processingMs,
    reportOutcome: () => reportOutcome,
    baseUrl: () => baseUrl,
  });

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
      result = hostile(op, mode, result, opts.hugeBytes);
    }
    return result;
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
      reportsCreated: reportsCreated(),
      tokensIssued: tokensIssued(),
      buckets: {
        createReport: buckets.createReport.level(),
        getReport: buckets.getReport.level(),
        getReportDocument: buckets.getReportDocument.level(),
      },
    }),
    stop: () => closeServer(server),
  };
}
