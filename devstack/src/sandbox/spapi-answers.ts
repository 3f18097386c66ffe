import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { gzipBomb, HUGE_BODY_BYTES, incompressibleGzip, streamHuge } from './shared.ts';
import { type SpApiOperation, VENDOR_REAL_TIME_SALES_REPORT } from './spapi-types.ts';

/**
 * How the sandbox answers: an answer's shape, SP-API's, S3's and LWA's error bodies, the
 * throttles and faults as each service words them, hostile bodies, and reading and sending.
 */

export interface Answer {
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

export const spApiErrors = (code: string, message: string) => ({
  errors: [{ code, message, details: '' }],
});
export const json = (status: number, body: unknown, headers?: Record<string, string>): Answer => ({
  status,
  body: JSON.stringify(body),
  headers: { 'content-type': 'application/json', ...headers },
});
/** S3's REST error response (Amazon S3 API Reference, "Error responses"): XML `<Error>`. */
export const s3Error = (status: number, code: string, message: string): Answer => ({
  status,
  body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>TOLLGATESANDBOX0</RequestId><HostId>tollgate-sandbox</HostId></Error>`,
  headers: { 'content-type': 'application/xml' },
});

// LWA's order: `{"error_description": ..., "error": ...}`.
export const lwaError = (status: number, error: string, description: string) =>
  json(status, { error_description: description, error });

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
export const failure = (op: SpApiOperation, kind: 'throttle' | 'fault'): Answer => {
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

/**
 * A 2xx made hostile: a body far past any sane size (`hugeBytes`, 256 MiB by default), or a bomb
 * inflating to one.
 */
export const hostile = (
  op: SpApiOperation,
  mode: 'huge' | 'bomb',
  result: Answer,
  hugeBytes?: number,
): Answer => {
  const bytes = hugeBytes ?? HUGE_BODY_BYTES;
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

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function send(res: ServerResponse, answer: Answer) {
  if (answer.stream) {
    void streamHuge(res, answer.status, answer.headers ?? {}, answer.stream);
    return;
  }
  const body = typeof answer.body === 'string' ? Buffer.from(answer.body) : answer.body;
  res.writeHead(answer.status, { 'content-length': body.length, ...answer.headers });
  res.end(body);
}
