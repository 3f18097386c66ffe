import { Agent, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BaselineLimiter } from './baseline-limiter.ts';
import type { UpstreamStats } from './token-bucket-upstream.ts';

/** What the harness drives: Tollgate's gate, or the baseline through {@link fromBaseline}. */
export interface QuotaLimiter {
  name: string;
  acquire(cost: number): Promise<{ granted: true } | { granted: false; retryAtMs: number }>;
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
}

/** A keep-alive GET; resolves with the status code after draining the body. */
export function httpGet(agent: Agent, url: URL, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: url.hostname, port: url.port, path, method: 'GET' },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * N concurrent workers, each looping until the deadline: acquire from the limiter, and if
 * granted, call the upstream once; if told "retry at T", wait until T (at most maxWaitMs at a
 * time, never past the deadline, at least 1 ms so nothing spins). Counts come from the
 * upstream itself, reset at the start, so the bound and the admitted calls share one clock.
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
  } = opts;
  const base = new URL(upstream.url);
  const path = `/call?cost=${cost}`;
  const agent = new Agent({ keepAlive: true, maxSockets: workers, maxFreeSockets: workers });
  const writesBefore = limiter.firestoreWrites();
  let denied = 0;
  let limiterErrors = 0;
  let upstreamErrors = 0;

  // Open the connections before t = 0 so the run does not pay for the TCP handshakes.
  await Promise.all(
    Array.from({ length: workers }, () => httpGet(agent, base, '/stats').catch(() => 0)),
  );

  await upstream.reset();
  const start = now();
  const deadline = start + durationMs;

  const worker = async () => {
    while (now() < deadline) {
      let answer: Awaited<ReturnType<QuotaLimiter['acquire']>>;
      try {
        answer = await limiter.acquire(cost);
      } catch {
        limiterErrors++;
        await sleep(Math.max(1, Math.min(errorBackoffMs, deadline - now())));
        continue;
      }
      if (!answer.granted) {
        denied++;
        const t = now();
        const wait = Math.min(answer.retryAtMs - t, maxWaitMs, deadline - t);
        await sleep(Math.max(1, wait));
        continue;
      }
      try {
        const status = await httpGet(agent, base, path);
        if (status !== 200 && status !== 429) upstreamErrors++;
      } catch {
        upstreamErrors++;
        await sleep(errorBackoffMs);
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  const end = now();
  const stats = await upstream.stats();
  agent.destroy();

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
