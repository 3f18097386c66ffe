import type { z } from 'zod';
import { formatPath } from '../../core/config';
import { parseRetryAfter, QuotaExceededError } from '../../core/quota/errors';
import { logger } from '../../log';
import { upstreamBytes, upstreamCalls, upstreamErrors } from '../metrics';

/**
 * The one way Tollgate calls an upstream over HTTP: a timeout per attempt, bounded retries
 * with full jitter for 5xx, timeouts and network faults, 429 as the one quota error, and
 * bodies parsed with a schema so a malformed answer becomes a typed error, never a crash.
 * Other statuses are returned for the adapter to map (400, 401, 403, 407 mean different
 * things to each upstream).
 */

export type UpstreamErrorKind =
  | 'malformed'
  | 'timeout'
  | 'network'
  | 'http'
  | 'credentials'
  | 'configuration';

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
}

export const DEFAULT_TIMEOUT_MS = 30_000;
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
 * QuotaExceededError for 429 and UpstreamError once retries are exhausted.
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
  let last: UpstreamError | undefined;
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (attempt > 0) await sleep(random() * baseDelayMs * 2 ** (attempt - 1));
    let response: Response;
    try {
      response = await doFetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      const timedOut = (error as Error).name === 'TimeoutError';
      upstreamCalls.inc({ provider, operation, outcome: timedOut ? 'timeout' : 'network' });
      last = new UpstreamError(
        provider,
        operation,
        timedOut ? 'timeout' : 'network',
        timedOut
          ? `no answer within ${timeoutMs} ms`
          : `request failed: ${(error as Error).message}`,
        undefined,
        { cause: error },
      );
      continue;
    }
    if (response.status === 429) {
      upstreamCalls.inc({ provider, operation, outcome: 'quota' });
      throw await quotaError(response, provider, operation, now());
    }
    if (response.status >= 500) {
      upstreamCalls.inc({ provider, operation, outcome: 'http_5xx' });
      await response.body?.cancel();
      last = new UpstreamError(
        provider,
        operation,
        'http',
        `HTTP ${response.status}`,
        response.status,
      );
      continue;
    }
    upstreamCalls.inc({ provider, operation, outcome: response.ok ? 'ok' : 'http_4xx' });
    return response;
  }
  throw upstreamFailure(last as UpstreamError);
}

/** Reads the body as text, counting its bytes; a body cut by the timeout is a timeout. */
export async function readText(response: Response, call: UpstreamCall): Promise<string> {
  try {
    const text = await response.text();
    upstreamBytes.inc({ provider: call.provider }, Buffer.byteLength(text));
    return text;
  } catch (error) {
    throw bodyReadFailure(error, call.provider, call.operation, 'the body', response.status);
  }
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
