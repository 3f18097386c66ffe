import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUsageLogLimiter, usageLogConfigFor } from '../../src/bench/baseline-limiter.ts';
import { runBaselineBench } from '../../src/bench/harness.ts';
import {
  allowedTokens,
  startTokenBucketUpstream,
  TokenBucket,
  type TokenBucketUpstream,
} from '../../src/bench/token-bucket-upstream.ts';
import { db, freshCollection } from '../firestore/clients.ts';

async function call(up: TokenBucketUpstream, path: string, method = 'GET', body?: string) {
  const res = await fetch(`${up.url}${path}`, { method, body });
  return {
    status: res.status,
    headers: res.headers,
    json: (await res.json()) as Record<string, number>,
  };
}

describe('TokenBucket', () => {
  it('hands out exactly C, then refills continuously at r per second', () => {
    let t = 1_000;
    const bucket = new TokenBucket(5, 2, () => t);
    for (let i = 0; i < 5; i++) expect(bucket.take(1).ok).toBe(true);
    expect(bucket.take(1)).toEqual({ ok: false, retryAfterMs: 500 });
    t += 499;
    expect(bucket.take(1).ok).toBe(false);
    t += 1;
    expect(bucket.take(1)).toEqual({ ok: true, tokensLeft: 0 });
    t += 10_000; // capped at capacity
    expect(bucket.tokens()).toBe(5);
    expect(bucket.take(3)).toEqual({ ok: true, tokensLeft: 2 });
    expect(bucket.take(3)).toEqual({ ok: false, retryAfterMs: 500 });
  });

  it('never admits more than C + r * t over a long, dense run', () => {
    let t = 0;
    const bucket = new TokenBucket(7, 3, () => t);
    let taken = 0;
    for (t = 0; t <= 60_000; t += 7) if (bucket.take(1).ok) taken++;
    expect(taken).toBe(Math.floor(allowedTokens(7, 3, 60_000 - (60_000 % 7))));
  });
});

describe('token-bucket upstream', () => {
  let t = 50_000;
  let up: TokenBucketUpstream;
  beforeAll(async () => {
    up = await startTokenBucketUpstream({ capacity: 10, refillPerSecond: 4, now: () => t });
  });
  afterAll(() => up.stop());

  it('admits a burst of C, answers 429 with Retry-After, then refills over time', async () => {
    up.reset();
    for (let i = 0; i < 10; i++) {
      const r = await call(up, '/call');
      expect(r.status).toBe(200);
      expect(r.json.tokensLeft).toBe(9 - i);
    }
    const refused = await call(up, '/call?cost=1');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.headers.get('retry-after-ms')).toBe('250');
    expect(refused.json.retryAfterMs).toBe(250);

    t += 249;
    expect((await call(up, '/call')).status).toBe(429);
    t += 1;
    expect((await call(up, '/call')).status).toBe(200);
    t += 500; // two tokens
    expect((await call(up, '/call?cost=3')).status).toBe(429);
    expect((await call(up, '/call?cost=2')).status).toBe(200);
    expect((await call(up, '/call?cost=11')).status).toBe(400);

    const stats = (await call(up, '/stats')).json;
    expect(stats).toMatchObject({ admitted: 12, admittedTokens: 13, rejected: 3, elapsedMs: 750 });
    expect(stats.allowed).toBe(10 + 4 * 0.75);
    expect(up.allowed(750)).toBe(13);
  });

  it('POST /reset sets a new capacity and rate, refills and zeroes the counters', async () => {
    const r = await call(up, '/reset', 'POST', JSON.stringify({ capacity: 3, refillPerSecond: 1 }));
    expect(r.json).toMatchObject({ capacity: 3, refillPerSecond: 1, admitted: 0, rejected: 0 });
    for (let i = 0; i < 3; i++) expect((await call(up, '/call')).status).toBe(200);
    const refused = await call(up, '/call');
    expect(refused.status).toBe(429);
    expect(refused.json.retryAfterMs).toBe(1000);
    expect(up.stats()).toMatchObject({ admitted: 3, rejected: 1, tokensLeft: 0 });
  });
});

describe('baseline limiter (firebase-functions-rate-limiter equivalent)', () => {
  it('is one isolated transaction per call: 50 concurrent callers get exactly maxCalls', async () => {
    const limiter = createUsageLogLimiter({
      firestore: db(),
      collection: freshCollection('bench-baseline'),
      maxCalls: 10,
      periodSeconds: 60,
      nowSeconds: () => 1_000,
    });
    const answers = await Promise.all(Array.from({ length: 50 }, () => limiter.tryAcquire(1)));
    expect(answers.filter(Boolean)).toHaveLength(10);
    expect(limiter.firestoreWrites()).toBe(10); // refusals with nothing expired write nothing
  });

  it('as published (get/set beside an empty transaction) it over-admits under concurrency', async () => {
    const limiter = createUsageLogLimiter({
      firestore: db(),
      collection: freshCollection('bench-published'),
      maxCalls: 10,
      periodSeconds: 60,
      nowSeconds: () => 1_000,
      isolation: 'as-published',
    });
    const answers = await Promise.all(Array.from({ length: 50 }, () => limiter.tryAcquire(1)));
    expect(answers.filter(Boolean).length).toBeGreaterThan(10);
  });

  it('through the harness: admits calls and never makes the upstream answer 429', async () => {
    const capacity = 20;
    const refillPerSecond = 10;
    const up = await startTokenBucketUpstream({ capacity, refillPerSecond });
    try {
      const limiter = createUsageLogLimiter({
        firestore: db(),
        collection: freshCollection('bench-smoke'),
        ...usageLogConfigFor(capacity, refillPerSecond),
      });
      const result = await runBaselineBench({
        workers: 20,
        durationMs: 1500,
        upstream: up,
        baseline: limiter,
      });
      expect(result.upstream429).toBe(0);
      expect(result.admitted).toBeGreaterThan(0);
      expect(result.admitted).toBeLessThanOrEqual(result.allowed);
      expect(result.limiterErrors).toBe(0);
      expect(result.firestoreWrites).toBeGreaterThanOrEqual(result.admitted); // a write per admitted call
    } finally {
      await up.stop();
    }
  });
});
