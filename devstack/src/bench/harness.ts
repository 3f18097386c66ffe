import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import type { BaselineLimiter } from './baseline-limiter.ts';
import { LatencyRecorder, type LatencySummary } from './latency.ts';
import type { UpstreamStats } from './token-bucket-upstream.ts';

/**
 * A limiter's answer. `sleptMs`: how long the limiter deliberately waited in process inside
 * this call (Tollgate's gate awaits tokens it reserved, up to maxWaitMs); the harness reports
 * it apart from the time the decision took.
 */
export type LimiterAnswer =
  | { granted: true; sleptMs?: number }
  | { granted: false; retryAtMs: number; sleptMs?: number };

/** What the harness drives: Tollgate's gate, or the baseline through {@link fromBaseline}. */
export interface QuotaLimiter {
  name: string;
  /** `worker`: which of the harness's workers asks (0 .. workers - 1). */
  acquire(cost: number, worker?: number): Promise<LimiterAnswer>;
  firestoreWrites(): number;
}

/** The upstream under test; a TokenBucketUpstream fits. */
export interface BenchUpstream {
  /** Base URL, e.g. "http://127.0.0.1:1234"; the harness calls `${url}/call?cost=N`. */
  url: string;
  /** Refills the bucket and zeroes its counters: the run's t = 0. */
  reset(): void | Promise<void>;
  stats(): UpstreamStats | Promise<UpstreamStats>;
}

export interface QuotaBenchOptions {
  workers: number;
  durationMs: number;
  upstream: BenchUpstream;
  limiter: QuotaLimiter;
  /** Tokens per call (default 1). */
  cost?: number;
  /** Longest single wait on a retryAt (default 1000 ms); the worker then asks again. */
  maxWaitMs?: number;
  /** Pause after a limiter error or a failed upstream request (default 50 ms). */
  errorBackoffMs?: number;
  /** Injected clock for the harness (default Date.now; must match the limiter's retryAtMs). */
  now?: () => number;
  /**
   * A worker told to retry after the deadline stops (its task would be re-enqueued for then),
   * and the run ends early once every worker has stopped: for allowances that run out, such as
   * a day window. Default false: such workers keep asking until the deadline.
   */
  stopWhenRetryBeyondDeadline?: boolean;
}

/**
 * Time spent in `limiter.acquire`, per call, with the limiter's deliberate in-process wait
 * (`sleptMs`) taken out: the cost of the decision itself. `waits` is that wait alone, for the
 * granted calls that waited.
 */
export interface AcquireLatency {
  granted: LatencySummary;
  deferred: LatencySummary;
  all: LatencySummary;
  waits: LatencySummary;
}

export interface QuotaBenchResult {
  limiter: string;
  workers: number;
  /** From the upstream reset to the last worker finishing. */
  durationS: number;
  /** Tokens the upstream's bucket could have handed out in that time: C + r * durationS. */
  allowed: number;
  /** Calls the upstream answered 200. */
  admitted: number;
  /** Tokens spent by admitted calls / allowed. */
  utilization: number;
  /** Calls the upstream answered 429 (a correct limiter keeps this at 0). */
  upstream429: number;
  firestoreWrites: number;
  firestoreWritesPerAdmittedCall: number;
  admittedPerSecond: number;
  /** Limiter answers "not now" (each followed by a wait). */
  denied: number;
  /** Limiter calls that threw (for example a transaction that gave up). */
  limiterErrors: number;
  /** Upstream answers other than 200/429, and failed requests. */
  upstreamErrors: number;
  /** Calls the limiter granted (each went to the upstream). */
  granted: number;
  latency: AcquireLatency;
  /** Seconds from t = 0 to the last call the upstream answered 200. */
  lastAdmittedS: number;
  /** Workers that stopped because they were told to retry after the deadline. */
  stoppedWorkers: number;
  /** The upstream's stats at the end (window counts included, when it enforces one). */
  upstreamStats: UpstreamStats;
}

/**
 * A keep-alive GET; resolves with the status code after draining the body. undici's pool, the
 * HTTP client the upstream adapters use, costs about half of node:http's per request: the
 * harness's own calls must not be what limits the throughput it measures.
 */
export async function httpGet(pool: Pool, path: string): Promise<number> {
  const response = await pool.request({ path, method: 'GET' });
  await response.body.dump();
  return response.statusCode;
}

/**
 * N concurrent workers, each looping until the deadline: acquire from the limiter, and if
 * granted, call the upstream once; if told "retry at T", wait until T (at most maxWaitMs at a
 * time, never past the deadline, at least 1 ms so nothing spins). Counts come from the
 * upstream itself, reset at the start, so the bound and the admitted calls share one clock.
 * Every `limiter.acquire` is timed (performance.now), less the wait the limiter reports it
 * slept deliberately; granted and deferred calls are summarised apart.
 */
export async function runQuotaBench(opts: QuotaBenchOptions): Promise<QuotaBenchResult> {
  const {
    workers,
    durationMs,
    upstream,
    limiter,
    cost = 1,
    maxWaitMs = 1000,
    errorBackoffMs = 50,
    now = Date.now,
    stopWhenRetryBeyondDeadline = false,
  } = opts;
  const path = `/call?cost=${cost}`;
  const pool = new Pool(upstream.url, { connections: workers });
  const writesBefore = limiter.firestoreWrites();
  let denied = 0;
  let limiterErrors = 0;
  let upstreamErrors = 0;
  let granted = 0;
  let lastAdmittedMs = 0;
  let stoppedWorkers = 0;
  const latency = {
    granted: new LatencyRecorder(),
    deferred: new LatencyRecorder(),
    all: new LatencyRecorder(),
    waits: new LatencyRecorder(),
  };

  // Open the connections before t = 0 so the run does not pay for the TCP handshakes.
  await Promise.all(Array.from({ length: workers }, () => httpGet(pool, '/stats').catch(() => 0)));

  await upstream.reset();
  const start = now();
  const deadline = start + durationMs;

  const worker = async (_: unknown, index: number) => {
    while (now() < deadline) {
      let answer: LimiterAnswer;
      const asked = performance.now();
      try {
        answer = await limiter.acquire(cost, index);
      } catch {
        limiterErrors++;
        await sleep(Math.max(1, Math.min(errorBackoffMs, deadline - now())));
        continue;
      }
      const slept = answer.sleptMs ?? 0;
      const decisionMs = performance.now() - asked - slept;
      latency.all.record(decisionMs);
      (answer.granted ? latency.granted : latency.deferred).record(decisionMs);
      if (answer.granted && slept > 0) latency.waits.record(slept);
      if (!answer.granted) {
        denied++;
        const t = now();
        if (stopWhenRetryBeyondDeadline && answer.retryAtMs > deadline) {
          stoppedWorkers++;
          return;
        }
        const wait = Math.min(answer.retryAtMs - t, maxWaitMs, deadline - t);
        await sleep(Math.max(1, wait));
        continue;
      }
      granted++;
      try {
        const status = await httpGet(pool, path);
        if (status === 200) lastAdmittedMs = Math.max(lastAdmittedMs, now());
        else if (status !== 429) upstreamErrors++;
      } catch {
        upstreamErrors++;
        await sleep(errorBackoffMs);
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  const end = now();
  const stats = await upstream.stats();
  await pool.close();

  const durationS = (end - start) / 1000;
  const allowed = stats.capacity + stats.refillPerSecond * durationS;
  const firestoreWrites = limiter.firestoreWrites() - writesBefore;
  return {
    limiter: limiter.name,
    workers,
    durationS,
    allowed,
    admitted: stats.admitted,
    utilization: stats.admittedTokens / allowed,
    upstream429: stats.rejected,
    firestoreWrites,
    firestoreWritesPerAdmittedCall: stats.admitted ? firestoreWrites / stats.admitted : 0,
    admittedPerSecond: durationS > 0 ? stats.admitted / durationS : 0,
    denied,
    limiterErrors,
    upstreamErrors,
    granted,
    latency: {
      granted: latency.granted.summary(),
      deferred: latency.deferred.summary(),
      all: latency.all.summary(),
      waits: latency.waits.summary(),
    },
    lastAdmittedS: lastAdmittedMs > 0 ? (lastAdmittedMs - start) / 1000 : 0,
    stoppedWorkers,
    upstreamStats: stats,
  };
}

/**
 * Adapts a baseline (`tryAcquire` → boolean) to the harness: false means "retry after
 * `backoffMs`" (the package gives no retry time; a caller can only back off and ask again).
 */
export function fromBaseline(
  baseline: BaselineLimiter,
  opts: { backoffMs?: number; now?: () => number } = {},
): QuotaLimiter {
  const backoffMs = opts.backoffMs ?? 50;
  const now = opts.now ?? Date.now;
  return {
    name: baseline.name,
    acquire: async (cost) =>
      (await baseline.tryAcquire(cost))
        ? { granted: true }
        : { granted: false, retryAtMs: now() + backoffMs },
    firestoreWrites: () => baseline.firestoreWrites(),
  };
}

/** The baseline through the same harness. */
export function runBaselineBench(
  opts: Omit<QuotaBenchOptions, 'limiter'> & { baseline: BaselineLimiter; backoffMs?: number },
): Promise<QuotaBenchResult> {
  const { baseline, backoffMs, ...rest } = opts;
  return runQuotaBench({ ...rest, limiter: fromBaseline(baseline, { backoffMs, now: rest.now }) });
}
