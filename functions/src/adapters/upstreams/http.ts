import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { z } from 'zod';
import { formatPath } from '../../core/config';
import { parseRetryAfter, QuotaExceededError } from '../../core/quota/errors';
import { logger } from '../../log';
import { recordUpstreamCall } from '../observability/fleet-recorder';
import { upstreamBytes, upstreamCalls, upstreamErrors } from '../observability/metrics';

/**
 * The one way Tollgate calls an upstream over HTTP: a timeout per attempt, bounded retries
 * with full jitter for 5xx, timeouts and network faults, 429 as the one quota error (and a 5xx
 * the call recognises as a throttle, as S3's `503 SlowDown`), and
 * bodies parsed with a schema so a malformed answer becomes a typed error, never a crash.
 * Other statuses are returned for the adapter to map (400, 401, 403, 407 mean different
 * things to each upstream).
 *
 * Bodies are streamed and counted as they arrive (after any Content-Encoding is undone), and
 * the read is aborted as soon as it passes the call's `maxBodyBytes`: an upstream cannot make
 * Tollgate hold more than that, whatever it sends or claims to send. A call may carry a
 * deadline: no attempt runs past it, and no retry starts after it.
 */

export type UpstreamErrorKind =
  | 'malformed'
  | 'timeout'
  | 'network'
  | 'http'
  | 'credentials'
  | 'configuration'
  /** A body (or what it inflates to) larger than the call allows: aborted, never held. */
  | 'oversized';

/** A non-quota upstream failure, typed so callers log it, count it and move on. */
export class UpstreamError extends Error {
  constructor(
    readonly provider: string,
    readonly operation: string,
    readonly kind: UpstreamErrorKind,
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(`${provider} ${operation}: ${message}`, options);
    this.name = 'UpstreamError';
  }
}

export interface UpstreamCall {
  provider: string;
  operation: string;
  /** Per attempt, body included. */
  timeoutMs?: number;
  /** Further attempts after a 5xx, a timeout or a network fault. */
  retries?: number;
  /** First retry waits up to this long (full jitter), doubling each time. */
  baseDelayMs?: number;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => number;
  /**
   * Largest body read, in bytes after Content-Encoding is undone; past it the read is
   * aborted with an `oversized` error. DEFAULT_MAX_BODY_BYTES when absent.
   */
  maxBodyBytes?: number;
  /**
   * Epoch ms (on `now`) by which the call must be over: each attempt's timeout is cut to what
   * is left, no retry starts after it, and a call begun after it fails at once ('timeout').
   */
  deadlineMs?: number;
  /**
   * Asked before every attempt, retries included (each is a request the upstream counts):
   * the gate's admission for this operation. Throwing stops the call before the request.
   */
  beforeAttempt?: () => Promise<void>;
  /**
   * Tells an answer of 500 or more that is the upstream throttling (S3's `503 SlowDown`) from a
   * fault, given its status and its error body (read up to ERROR_BODY_BYTES): a throttle is the
   * call's QuotaExceededError (Retry-After honoured), not retried; anything else stays a 5xx.
   */
  throttled?: (status: number, body: string) => boolean;
}

export const DEFAULT_TIMEOUT_MS = 30_000;
/** What a call may read unless it says otherwise: 8 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024;
export const KIB = 1024;
export const MIB = 1024 * 1024;
export const DEFAULT_RETRIES = 2;
export const DEFAULT_BASE_DELAY_MS = 250;

export const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Counts and logs a typed failure and hands it back for throwing. */
export function upstreamFailure(error: UpstreamError): UpstreamError {
  upstreamErrors.inc({ provider: error.provider, kind: error.kind });
  logger.warn(
    {
      provider: error.provider,
      operation: error.operation,
      kind: error.kind,
      status: error.status,
    },
    error.message,
  );
  return error;
}

/** Counts a quota error and hands it back for throwing. */
export function quotaFailure(error: QuotaExceededError): QuotaExceededError {
  upstreamErrors.inc({ provider: error.provider, kind: 'quota' });
  return error;
}

/**
 * Fetches with retries. Resolves with any response below 500 except 429; throws
 * QuotaExceededError for 429 (and for a 5xx the call's `throttled` recognises) and
 * UpstreamError once retries are exhausted.
 */
export async function upstreamFetch(
  url: string | URL,
  init: RequestInit & { dispatcher?: unknown },
  call: UpstreamCall,
): Promise<Response> {
  const {
    provider,
    operation,
    timeoutMs = DEFAULT_TIMEOUT_MS,
    retries = DEFAULT_RETRIES,
    baseDelayMs = DEFAULT_BASE_DELAY_MS,
    sleep = realSleep,
    random = Math.random,
    now = Date.now,
  } = call;
  const doFetch = call.fetch ?? fetch;
  const { deadlineMs } = call;
  let last: UpstreamError | undefined;
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (attempt > 0) {
      const backoffMs = random() * baseDelayMs * 2 ** (attempt - 1);
      // A retry that could not even start before the deadline is not tried.
      if (deadlineMs !== undefined && now() + backoffMs >= deadlineMs) break;
      await sleep(backoffMs);
    }
    // Admitted (the gate may wait a little) before the time left is measured.
    if (call.beforeAttempt) await call.beforeAttempt();
    const leftMs = deadlineMs === undefined ? timeoutMs : Math.floor(deadlineMs - now());
    if (leftMs <= 0) {
      last ??= new UpstreamError(
        provider,
        operation,
        'timeout',
        `the call's deadline (${new Date(deadlineMs as number).toISOString()}) has passed`,
      );
      break;
    }
    const attemptMs = Math.min(timeoutMs, leftMs);
    // Every attempt is counted here, per process (Prometheus) and fleet-wide (Firestore).
    const startedAt = performance.now();
    const count = (outcome: string) => {
      upstreamCalls.inc({ provider, operation, outcome });
      recordUpstreamCall({
        provider,
        operation,
        outcome,
        latencyMs: performance.now() - startedAt,
        atMs: now(),
      });
    };
    let response: Response;
    try {
      response = await doFetch(url, { ...init, signal: AbortSignal.timeout(attemptMs) });
    } catch (error) {
      const timedOut = (error as Error).name === 'TimeoutError';
      count(timedOut ? 'timeout' : 'network');
      last = new UpstreamError(
        provider,
        operation,
        timedOut ? 'timeout' : 'network',
        timedOut
          ? `no answer within ${attemptMs} ms${attemptMs < timeoutMs ? " (the call's deadline)" : ''}`
          : `request failed: ${(error as Error).message}`,
        undefined,
        { cause: error },
      );
      continue;
    }
    if (response.status === 429) {
      count('quota');
      throw await quotaError(response, provider, operation, now());
    }
    if (response.status >= 500) {
      if (call.throttled) {
        const text = await readErrorText(response, provider);
        if (call.throttled(response.status, text)) {
          count('quota');
          throw quotaFailure(
            new QuotaExceededError(
              provider,
              operation,
              parseRetryAfter(response.headers.get('retry-after'), now()),
            ),
          );
        }
      } else {
        await response.body?.cancel();
      }
      count('http_5xx');
      last = new UpstreamError(
        provider,
        operation,
        'http',
        `HTTP ${response.status}`,
        response.status,
      );
      continue;
    }
    count(response.ok ? 'ok' : 'http_4xx');
    return response;
  }
  throw upstreamFailure(last as UpstreamError);
}

const utf8 = new TextDecoder();

/** Thrown inside a body read when it passes its cap; turned into an `oversized` error. */
class BodyTooLarge extends Error {
  constructor(
    readonly limit: number,
    readonly seen: number,
    readonly inflated: boolean,
    readonly declared = false,
  ) {
    super('body too large');
  }
}

/** Thrown inside a body read when the transfer itself fails (timeout, network). */
class TransferFailed extends Error {
  constructor(readonly reason: unknown) {
    super('transfer failed');
  }
}

export interface ReadBodyOptions {
  /** Names the body in errors ('the body' by default). */
  what?: string;
  /**
   * Inflates the body as gzip while it streams (for documents that are gzip files, not
   * Content-Encoding), aborting once the inflated bytes pass `maxBytes`: a gzip bomb costs at
   * most that much memory. A body that does not inflate is a `malformed` error.
   */
  gunzip?: { maxBytes: number };
}

function oversized(
  call: UpstreamCall,
  status: number,
  what: string,
  error: BodyTooLarge,
): UpstreamError {
  const size = error.inflated ? 'inflates to more than' : 'is larger than';
  return upstreamFailure(
    new UpstreamError(
      call.provider,
      call.operation,
      'oversized',
      `${what} ${size} ${error.limit} bytes, the limit of ${call.operation}: ${
        error.declared
          ? `refused unread (Content-Length ${error.seen})`
          : `aborted after ${error.seen} bytes`
      }`,
      status,
    ),
  );
}

/**
 * Streams the body into memory, counting what arrives: past `limit` (or declaring a larger
 * Content-Length) it is aborted (the upstream is told to stop sending) with BodyTooLarge; with
 * `inflateLimit` it is gunzipped as it streams and aborted once the output passes that. A
 * failed transfer is TransferFailed; anything else thrown comes from inflating.
 */
async function collect(
  response: Response,
  provider: string,
  limit: number,
  inflateLimit?: number,
): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length'));
  if (declared > limit) {
    await response.body?.cancel().catch(() => undefined);
    throw new BodyTooLarge(limit, declared, false, true);
  }
  const body = response.body;
  if (!body) return Buffer.alloc(0);
  let received = 0;
  // What stopped the read, kept aside: tearing the pipeline down raises an AbortError that
  // would otherwise stand in for it.
  let stopped: BodyTooLarge | TransferFailed | undefined;
  const stop = (reason: BodyTooLarge | TransferFailed) => {
    stopped ??= reason;
    return reason;
  };
  async function* chunks(): AsyncGenerator<Uint8Array> {
    const reader = body!.getReader();
    let done = false;
    try {
      for (;;) {
        let next: ReadableStreamReadResult<Uint8Array>;
        try {
          next = await reader.read();
        } catch (error) {
          throw stop(new TransferFailed(error));
        }
        if (next.done) {
          done = true;
          return;
        }
        received += next.value.byteLength;
        if (received > limit) throw stop(new BodyTooLarge(limit, received, false));
        yield next.value;
      }
    } finally {
      // Aborted (too large, or the consumer stopped): tell the upstream to stop sending.
      if (!done) await reader.cancel().catch(() => undefined);
    }
  }
  const parts: Buffer[] = [];
  try {
    if (inflateLimit === undefined) {
      for await (const chunk of chunks()) {
        parts.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      }
    } else {
      let inflated = 0;
      await pipeline(
        Readable.from(chunks()),
        createGunzip(),
        async (source: AsyncIterable<Buffer>) => {
          for await (const chunk of source) {
            inflated += chunk.length;
            if (inflated > inflateLimit) {
              throw stop(new BodyTooLarge(inflateLimit, inflated, true));
            }
            parts.push(chunk);
          }
        },
      );
    }
  } catch (error) {
    throw stopped ?? error;
  } finally {
    upstreamBytes.inc({ provider }, received);
  }
  return Buffer.concat(parts);
}

/**
 * The body as bytes, streamed and counted: a body past the call's `maxBodyBytes` (or declaring
 * a larger Content-Length) is aborted unread, an `oversized` UpstreamError; a transfer cut by
 * the timeout or the network is a 'timeout' or 'network' one. Bytes received are metered.
 */
export async function readBytes(
  response: Response,
  call: UpstreamCall,
  options: ReadBodyOptions = {},
): Promise<Buffer> {
  const what = options.what ?? 'the body';
  const limit = call.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  try {
    return await collect(response, call.provider, limit, options.gunzip?.maxBytes);
  } catch (error) {
    if (error instanceof BodyTooLarge) throw oversized(call, response.status, what, error);
    if (error instanceof TransferFailed) {
      throw bodyReadFailure(error.reason, call.provider, call.operation, what, response.status);
    }
    // Only inflating throws anything else.
    throw upstreamFailure(
      new UpstreamError(
        call.provider,
        call.operation,
        'malformed',
        `${what} is not valid gzip: ${(error as Error).message}`,
        response.status,
        { cause: error },
      ),
    );
  }
}

/** Error answers (a 4xx's explanation, a 429's meter fields) are read up to this much. */
export const ERROR_BODY_BYTES = 64 * KIB;

/**
 * The text of an answer read only for what it might explain (an error body): at most
 * ERROR_BODY_BYTES; '' when it is larger or cannot be read. Never throws, never counts an error.
 */
export async function readErrorText(response: Response, provider: string): Promise<string> {
  try {
    return utf8.decode(await collect(response, provider, ERROR_BODY_BYTES));
  } catch {
    return '';
  }
}

/**
 * Reads the body as text (UTF-8, as `Response.text()` decodes it), streamed and capped by the
 * call's `maxBodyBytes` (see readBytes); a body cut by the timeout is a timeout.
 */
export async function readText(
  response: Response,
  call: UpstreamCall,
  options: Omit<ReadBodyOptions, 'gunzip'> = {},
): Promise<string> {
  return utf8.decode(await readBytes(response, call, options));
}

/** A body that could not be read: cut by the timeout, or by the network. Counted and logged. */
export function bodyReadFailure(
  error: unknown,
  provider: string,
  operation: string,
  what: string,
  status: number,
): UpstreamError {
  const timedOut = (error as Error).name === 'TimeoutError';
  return upstreamFailure(
    new UpstreamError(
      provider,
      operation,
      timedOut ? 'timeout' : 'network',
      `reading ${what} failed: ${(error as Error).message}`,
      status,
      { cause: error },
    ),
  );
}

/**
 * A quota refusal (a 429, or what an adapter knows means the same): the body is dropped, the
 * wait comes from Retry-After, and the error is counted.
 */
export async function quotaError(
  response: Response,
  provider: string,
  operation: string,
  nowMs: number,
  message?: string,
): Promise<QuotaExceededError> {
  await response.body?.cancel();
  return quotaFailure(
    new QuotaExceededError(
      provider,
      operation,
      parseRetryAfter(response.headers.get('retry-after'), nowMs),
      message,
    ),
  );
}

/** Parses a JSON body against `schema`; anything else is a typed `malformed` error. */
export function parseBody<T extends z.ZodType>(
  text: string,
  schema: T,
  call: UpstreamCall,
  status?: number,
): z.infer<T> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw upstreamFailure(
      new UpstreamError(
        call.provider,
        call.operation,
        'malformed',
        `body is not JSON (${text.slice(0, 60)})`,
        status,
      ),
    );
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw upstreamFailure(
    new UpstreamError(
      call.provider,
      call.operation,
      'malformed',
      `unexpected body at ${formatPath(issue?.path ?? []) || '(root)'}: ${issue?.message}`,
      status,
    ),
  );
}

/** readText then parseBody. */
export async function readJson<T extends z.ZodType>(
  response: Response,
  schema: T,
  call: UpstreamCall,
): Promise<z.infer<T>> {
  return parseBody(await readText(response, call), schema, call, response.status);
}

/** `text` parsed against `schema`, or undefined: for bodies read only if they happen to fit. */
export function safeJson<T extends z.ZodType>(text: string, schema: T): z.infer<T> | undefined {
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
