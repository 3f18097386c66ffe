import { parseRetryAfter, QuotaExceededError } from '../../core/quota/errors';
import { recordUpstreamCall } from '../observability/fleet-recorder';
import { upstreamCalls } from '../observability/metrics';
import { readErrorText } from './http-body';
import {
  DEFAULT_BASE_DELAY_MS,
  DEFAULT_RETRIES,
  DEFAULT_TIMEOUT_MS,
  quotaError,
  quotaFailure,
  realSleep,
  type UpstreamCall,
  UpstreamError,
  upstreamFailure,
} from './upstream-call';

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

// The rest of the helper, one module each: the call's settings and errors (upstream-call.ts),
// body reads under a cap (http-body.ts) and JSON answers (http-json.ts).
