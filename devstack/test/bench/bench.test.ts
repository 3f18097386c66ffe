import { randomUUID } from 'node:crypto';
import { deleteApp, initializeApp } from 'firebase-admin/app';
import { getFirestore } from 'firebase-admin/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QuotaEngine } from '../../../functions/src/adapters/quota/quota-engine.ts';
import { createUsageLogLimiter, usageLogConfigFor } from '../../src/bench/baseline-limiter.ts';
import { runChurnBench } from '../../src/bench/churn.ts';
import { type QuotaLimiter, runBaselineBench, runQuotaBench } from '../../src/bench/harness.ts';
import { LatencyRecorder, meteredSleep, meterSleeps, percentile } from '../../src/bench/latency.ts';
import {
  allowedTokens,
  startTokenBucketUpstream,
  TokenBucket,
  type TokenBucketUpstream,
} from '../../src/bench/token-bucket-upstream.ts';
import { EnginePool } from '../../src/bench/tollgate-limiter.ts';
import { db, freshCollection } from '../emulators/firestore/clients.ts';

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

  it('with a window limit, refuses every call past N requests since the reset', async () => {
    await call(
      up,
      '/reset',
      'POST',
      JSON.stringify({ capacity: 10, refillPerSecond: 4, windowLimit: 3 }),
    );
    for (let i = 0; i < 3; i++) expect((await call(up, '/call')).status).toBe(200);
    const refused = await call(up, '/call');
    expect(refused.status).toBe(429);
    t += 3_600_000; // the bucket refills; the window does not
    expect((await call(up, '/call')).status).toBe(429);
    expect(up.stats()).toMatchObject({
      admitted: 3,
      rejected: 2,
      rejectedByWindow: 2,
      windowLimit: 3,
      tokensLeft: 10,
    });
    // A reset without windowLimit keeps it; windowLimit 0 removes it.
    await call(up, '/reset', 'POST');
    expect(up.stats()).toMatchObject({ windowLimit: 3, admitted: 0 });
    await call(up, '/reset?windowLimit=0', 'POST');
    for (let i = 0; i < 5; i++) expect((await call(up, '/call')).status).toBe(200);
    expect(up.stats()).toMatchObject({ windowLimit: 0, rejected: 0 });
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

describe('latency', () => {
  it('percentile is nearest rank', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 50)).toBe(50);
    expect(percentile(sorted, 99)).toBe(99);
    expect(percentile(sorted, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([1, 2, 3], 50)).toBe(2);
    expect(percentile([], 50)).toBeUndefined();
  });

  it('the recorder grows past its first buffer and sorts numerically', () => {
    const recorder = new LatencyRecorder();
    for (let i = 3000; i >= 1; i--) recorder.record(i / 10);
    expect(recorder.summary()).toEqual({ count: 3000, p50: 150, p99: 297, max: 300 });
    expect(new LatencyRecorder().summary()).toEqual({
      count: 0,
      p50: undefined,
      p99: undefined,
      max: undefined,
    });
  });

  it('meterSleeps counts only the metered sleeps of its own call', async () => {
    const [a, b, c] = await Promise.all([
      meterSleeps(async () => {
        await meteredSleep(5);
        await meteredSleep(5);
        return 'a';
      }),
      meterSleeps(async () => 'b'),
      meterSleeps(async () => {
        await new Promise((r) => setTimeout(r, 5)); // not metered
        return 'c';
      }),
    ]);
    expect(a.value).toBe('a');
    expect(a.sleptMs).toBeGreaterThan(0);
    expect(b).toEqual({ value: 'b', sleptMs: 0 });
    expect(c).toEqual({ value: 'c', sleptMs: 0 });
  });
});

describe('harness', () => {
  it("times each acquire apart from the limiter's own wait; stops workers told to come back after the deadline", async () => {
    const up = await startTokenBucketUpstream({ capacity: 1000, refillPerSecond: 1000 });
    try {
      let grants = 0;
      // Ten grants, the second half after a metered wait; then "retry tomorrow" for everyone.
      const limiter: QuotaLimiter = {
        name: 'scripted',
        acquire: async () => {
          if (grants >= 10) return { granted: false, retryAtMs: Date.now() + 86_400_000 };
          const n = grants++;
          const { sleptMs } = await meterSleeps(() =>
            n >= 5 ? meteredSleep(2) : Promise.resolve(),
          );
          return { granted: true, sleptMs };
        },
        firestoreWrites: () => 0,
      };
      const result = await runQuotaBench({
        workers: 4,
        durationMs: 60_000,
        upstream: up,
        limiter,
        stopWhenRetryBeyondDeadline: true,
      });
      expect(result.stoppedWorkers).toBe(4);
      expect(result.granted).toBe(10);
      expect(result.admitted).toBe(10);
      expect(result.denied).toBe(4);
      expect(result.latency.granted.count).toBe(10);
      expect(result.latency.deferred.count).toBe(4);
      expect(result.latency.all.count).toBe(14);
      expect(result.latency.waits.count).toBe(5);
      expect(result.lastAdmittedS).toBeGreaterThanOrEqual(0);
      expect(result.lastAdmittedS).toBeLessThanOrEqual(result.durationS);
    } finally {
      await up.stop();
    }
  });
});

describe('engine pool', () => {
  it('recycles an instance after its lifetime: drains it, shuts it down, then replaces it', async () => {
    const events: string[] = [];
    let made = 0;
    const fakeEngine = () => {
      const id = made++;
      let down = false;
      let calls = 0;
      return {
        id,
        gate: { stats: { grants: 0 } },
        firestoreWrites: () => calls,
        shutdown: async () => {
          events.push(`shutdown ${id}`);
          await new Promise((r) => setTimeout(r, 1));
          down = true;
        },
        call: async () => {
          if (down) throw new Error(`engine ${id} used after shutdown`);
          calls++;
          await new Promise((r) => setTimeout(r, 2));
          if (down) throw new Error(`engine ${id} shut down during a call`);
        },
      };
    };
    type Fake = ReturnType<typeof fakeEngine>;
    const pool = new EnginePool({
      instances: 2,
      lifetimeCalls: 3,
      create: () => fakeEngine() as unknown as QuotaEngine,
    });
    await Promise.all(
      Array.from({ length: 5 }, async () => {
        for (let i = 0; i < 6; i++) await pool.run((e) => (e as unknown as Fake).call());
      }),
    );
    await pool.settle();
    const stats = pool.stats();
    expect(stats.recycled).toBe(10); // 30 calls, 3 each, on 2 instances
    expect(stats.enginesCreated).toBe(12);
    expect(pool.firestoreWrites()).toBe(30);
    expect(events).toHaveLength(10);
  });
});

describe('churn scenario', () => {
  it('runs on the emulator: recycles instances, changes shares, never admits past N', async () => {
    const app = initializeApp(
      { projectId: `demo-churn-${randomUUID().slice(0, 8)}` },
      randomUUID(),
    );
    const firestore = getFirestore(app);
    const up = await startTokenBucketUpstream({ capacity: 100, refillPerSecond: 100 });
    try {
      const result = await runChurnBench({
        db: firestore,
        upstream: up,
        provider: 'churn',
        categories: ['churn-a', 'churn-b'],
        shareRotation: [
          [60, 40],
          [40, 60],
        ],
        workers: 6,
        instances: 2,
        lifetimeCalls: 5,
        sharePeriodMs: 300,
        capMs: 2_000,
        bucket: { capacity: 100, refillPerSecond: 100 },
        windowLimit: 60,
        maxWaitMs: 200,
        safetyMarginMs: 25,
        createEngine: () => new QuotaEngine(firestore, { sleep: meteredSleep }),
      });
      const { run } = result;
      expect(run.limiterErrors).toBe(0);
      expect(run.upstreamStats.windowLimit).toBe(60);
      expect(run.admitted).toBeLessThanOrEqual(60);
      expect(run.granted).toBe(run.admitted + run.upstream429);
      expect(result.pool.recycled).toBeGreaterThan(0);
      expect(result.pool.enginesCreated).toBe(2 + result.pool.recycled);
      expect(result.shareChanges).toBeGreaterThan(0);
      expect(result.shareChangeErrors).toEqual([]);
    } finally {
      await up.stop();
      await deleteApp(app);
    }
  });
});
