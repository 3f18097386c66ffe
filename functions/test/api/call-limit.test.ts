import fc from 'fast-check';
import type { HttpsError } from 'firebase-functions/v2/https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallLimiter } from '../../src/adapters/quota/call-limiter';
import { providerSchema } from '../../src/core/config';
import { callCost } from '../../src/core/operations';
import { boundedCallerLimit, CALLERS_PROVIDER, callerCategory } from '../../src/core/quota/callers';
import { lowestBalance } from '../quota/grant-log';
import { testFirestore } from '../support/firestore';
import { quietLogger } from '../support/quiet-logger';
import { type ApiFixture, apiFixture, as } from './support';

/**
 * The per-user call limit of the callables, through the gate's built-in callers provider:
 * a user's burst passes, the next call is refused with the wait and runs nothing, other users
 * are untouched, and across instances with skewed clocks, recycled instances and any
 * interleaving a user never gets more than burst + 1 + rate x time.
 */

quietLogger();

const LIMIT = { perMinute: 60, burst: 5 };

async function attempt(f: ApiFixture, uid: string, enabled: boolean) {
  try {
    await f.callables.setMaintenanceMode.run(
      as('operator', { enabled, reason: 'call limit test' }, uid),
    );
    return undefined;
  } catch (error) {
    return error as HttpsError;
  }
}

describe('callables under the per-user call limit', () => {
  let f: ApiFixture;
  beforeAll(async () => {
    f = await apiFixture({ callLimit: LIMIT });
  });
  afterAll(() => f.close());

  it('passes a burst, then refuses with the wait and runs nothing; others are untouched', async () => {
    for (let i = 0; i < LIMIT.burst; i++)
      expect(await attempt(f, 'busy', i % 2 === 0)).toBe(undefined);
    const flags = (await f.db.doc('config/flags').get()).data();
    const audits = (await f.db.collection('auditLog').count().get()).data().count;

    const refused = await attempt(f, 'busy', true);
    expect(refused?.code).toBe('resource-exhausted');
    const details = refused?.details as { retryAfterMs: number; retryAt: string };
    // One token a second: the next is at most a second away.
    expect(details.retryAfterMs).toBeGreaterThan(0);
    expect(details.retryAfterMs).toBeLessThanOrEqual(1_000);
    expect(Date.parse(details.retryAt)).toBe(f.clock.now + details.retryAfterMs);
    // The operation never ran: no change, no audit entry.
    expect((await f.db.doc('config/flags').get()).data()).toEqual(flags);
    expect((await f.db.collection('auditLog').count().get()).data().count).toBe(audits);

    // Another user has a bucket of their own.
    expect(await attempt(f, 'quiet', false)).toBe(undefined);

    // Once the wait is over, one more call of the busy user passes, and only one.
    f.clock.now += details.retryAfterMs;
    expect(await attempt(f, 'busy', false)).toBe(undefined);
    expect((await attempt(f, 'busy', false))?.code).toBe('resource-exhausted');
  });

  it('counts viewers and reads too, and refusals consume nothing', async () => {
    const read = () =>
      f.callables.getRecentWarnings.run(as('viewer', {}, 'reader')).then(
        () => 'ok',
        (e: HttpsError) => e.code,
      );
    const answers = [];
    for (let i = 0; i < LIMIT.burst + 3; i++) answers.push(await read());
    expect(answers).toEqual([
      ...Array(LIMIT.burst).fill('ok'),
      ...Array(3).fill('resource-exhausted'),
    ]);
    // Refused calls took no token: a second later exactly one call passes.
    f.clock.now += 1_000;
    expect([await read(), await read()]).toEqual(['ok', 'resource-exhausted']);
  });

  it('asks nothing of calls that fail before it: no user, no role, bad input', async () => {
    const run = f.callables.setMaintenanceMode.run;
    for (let i = 0; i < LIMIT.burst * 3; i++) {
      await expect(run(as(null, {}, 'early'))).rejects.toMatchObject({ code: 'unauthenticated' });
      await expect(run(as('viewer', {}, 'early'))).rejects.toMatchObject({
        code: 'permission-denied',
      });
      await expect(run(as('operator', { enabled: 'yes' }, 'early'))).rejects.toMatchObject({
        code: 'invalid-argument',
      });
    }
    expect(await attempt(f, 'early', false)).toBe(undefined);
  });

  it('a limiter whose Firestore fails rejects the call, and leaves no unhandled rejection', async () => {
    const failing = {
      collection: () => ({
        doc: () => ({
          create: async () => {
            throw Object.assign(new Error('14 UNAVAILABLE: injected'), { code: 14 });
          },
          get: async () => {
            throw Object.assign(new Error('14 UNAVAILABLE: injected'), { code: 14 });
          },
        }),
      }),
    } as unknown as FirebaseFirestore.Firestore;
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const limiter = new CallLimiter(failing, LIMIT);
      await expect(limiter.admit('u', 'getStatus')).rejects.toThrow('UNAVAILABLE');
      await expect(limiter.admit('u', 'getStatus')).rejects.toThrow('UNAVAILABLE');
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('keeps its provider id out of the configuration', () => {
    const parsed = providerSchema.safeParse({
      id: CALLERS_PROVIDER,
      limits: [{ kind: 'tokenBucket', capacity: 10, refillPerSecond: 1 }],
    });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path).toEqual(['id']);
  });

  it('names claim documents Firestore accepts for any uid', () => {
    for (const uid of ['a/b', '__x__', '.', 'x'.repeat(128), 'ünï/cødé']) {
      expect(callerCategory(uid)).toMatch(/^u[0-9a-f]{40}$/);
    }
    expect(callerCategory('a')).not.toBe(callerCategory('b'));
  });
});

/** Limits the properties draw: up to 10 calls a second, bursts up to 20. */
const limits = fc.record({
  perMinute: fc.integer({ min: 6, max: 600 }),
  burst: fc.integer({ min: 1, max: 20 }),
});

describe('the per-user limit across instances', () => {
  const { db, close } = testFirestore();
  afterAll(() => close());

  /**
   * Instances with clocks up to 200 ms apart serve one user's calls in any order; instances
   * are recycled (a new one forgets what the old one held, never frees it twice). Replayed on
   * a reference bucket in true time, the admitted calls never go below zero by more than the
   * clocks' spread can mint.
   */
  it('never admits more than burst + 1 + rate x time', async () => {
    let user = 0;
    await fc.assert(
      fc.asyncProperty(
        limits,
        fc.array(fc.integer({ min: -200, max: 200 }), { minLength: 1, maxLength: 3 }),
        fc.array(
          fc.record({
            instance: fc.nat(),
            // Gaps up to twice a token's interval at the fastest rate: saturating patterns.
            advanceMs: fc.integer({ min: 0, max: 250 }),
            together: fc.integer({ min: 1, max: 4 }),
            recycle: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
          }),
          { minLength: 10, maxLength: 80 },
        ),
        fc.integer(),
        async (limit, skews, calls, seed) => {
          const uid = `user-${user++}`;
          const clock = { now: Date.UTC(2026, 11, 6, 12) };
          let generation = 0;
          const random = seeded(seed);
          const make = (skew: number) =>
            new CallLimiter(db, limit, {
              now: () => clock.now + skew,
              instanceId: `i${generation++}`,
              random,
            });
          const instances = skews.map(make);
          const admitted: Array<{ atMs: number; cost: number }> = [];
          for (const call of calls) {
            clock.now += call.advanceMs;
            const i = call.instance % instances.length;
            if (call.recycle) instances[i] = make(skews[i]!);
            // A user's concurrent calls on one instance.
            const answers = await Promise.all(
              Array.from({ length: call.together }, () => instances[i]!.admit(uid, 'getStatus')),
            );
            for (const answer of answers) {
              if (answer.admitted) admitted.push({ atMs: clock.now, cost: 1 });
              else expect(answer.retryAtMs).toBeGreaterThan(clock.now + skews[i]! - 1);
            }
          }
          const rate = limit.perMinute / 60;
          const spread = Math.max(...skews) - Math.min(...skews);
          const allowance = Math.ceil((rate * spread) / 1000);
          const lowest = lowestBalance(
            { capacity: boundedCallerLimit(limit).burst + 1, ratePerSecond: rate },
            admitted,
            Date.UTC(2026, 11, 6, 12) - 86_400_000,
          );
          expect(lowest).toBeGreaterThanOrEqual(-allowance);
        },
      ),
      { numRuns: 40, seed: 20261206 },
    );
  }, 120_000);

  it("admits a user's whole burst when it comes at once, and forgets users past its bound", async () => {
    const clock = { now: Date.UTC(2026, 11, 6, 15) };
    const limiter = new CallLimiter(
      db,
      { perMinute: 120, burst: 60 },
      { now: () => clock.now, maxUsers: 3 },
    );
    const answers = await Promise.all(
      Array.from({ length: 61 }, () => limiter.admit('all-at-once', 'getStatus')),
    );
    expect(answers.filter((a) => a.admitted)).toHaveLength(60);
    // Past maxUsers the limiter starts afresh: the tokens it held are stranded, never reused,
    // so a forgotten user gets no more than the bucket allows (here: nothing until the refill).
    for (const other of ['u1', 'u2', 'u3']) await limiter.admit(other, 'getStatus');
    expect(await limiter.admit('all-at-once', 'getStatus')).toMatchObject({ admitted: false });
  });

  it('admits exactly burst + rate x time to a user calling every 100 ms for a minute', async () => {
    const clock = { now: Date.UTC(2026, 11, 6, 14) };
    const limiter = new CallLimiter(db, { perMinute: 120, burst: 10 }, { now: () => clock.now });
    let admitted = 0;
    for (let i = 0; i < 600; i++) {
      if ((await limiter.admit('steady', 'getStatus')).admitted) admitted++;
      clock.now += 100;
    }
    // 10 at once, then 2 a second for 60 s (the last token may or may not fall inside).
    // Liveness, not safety: a block edge may strand a token or two of the claims.
    expect(admitted).toBeGreaterThanOrEqual(10 + 117);
    expect(admitted).toBeLessThanOrEqual(10 + 1 + 120);
  });

  /**
   * The other side: one instance, no skew, calls one at a time or together. A refusal is
   * honest (a call at its retry time is admitted), and over a saturating run the user gets
   * what the bucket allows, not less: burst at once, then the refill.
   */
  it('refuses no call the bucket would take', async () => {
    let user = 0;
    await fc.assert(
      fc.asyncProperty(
        limits,
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 5, maxLength: 40 }),
        fc.integer(),
        async (limit, bursts, seed) => {
          const uid = `honest-${user++}`;
          const start = Date.UTC(2026, 11, 6, 13);
          const clock = { now: start };
          const limiter = new CallLimiter(db, limit, {
            now: () => clock.now,
            random: seeded(seed),
          });
          const effective = boundedCallerLimit(limit);
          let admitted = 0;
          for (const together of bursts) {
            const answers = await Promise.all(
              Array.from({ length: together }, () => limiter.admit(uid, 'getStatus')),
            );
            admitted += answers.filter((a) => a.admitted).length;
            const refused = answers.find((a) => !a.admitted);
            if (refused && !refused.admitted) {
              // At the time it named, a call is admitted.
              clock.now = Math.max(clock.now, refused.retryAtMs);
              expect(await limiter.admit(uid, 'getStatus')).toEqual({ admitted: true });
              admitted++;
            }
          }
          // Every call asked for within the bucket's allowance was granted: burst + refill.
          const asked = bursts.reduce((a, b) => a + b, 0);
          const allowance =
            effective.burst + Math.floor(((clock.now - start) / 60_000) * effective.perMinute);
          expect(admitted).toBeGreaterThanOrEqual(Math.min(asked, allowance));
        },
      ),
      { numRuns: 30, seed: 20261207 },
    );
  }, 120_000);
});

/** A seeded generator, so a failing run repeats (the gate draws from it). */
function seeded(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

describe('calls weighted by the range they read', () => {
  let f: ApiFixture;
  beforeAll(async () => {
    f = await apiFixture({ callLimit: { perMinute: 120, burst: 60 } });
  });
  afterAll(() => f.close());

  const stats = (uid: string, minutes: number) =>
    f.callables.getQuotaStats.run(as('viewer', { minutes }, uid)).then(
      () => undefined,
      (e: HttpsError) => e,
    );

  it('costs a token per day of range: getQuotaStats, the sales summary, and 1 for the rest', () => {
    expect(callCost('getQuotaStats', {})).toBe(1);
    expect(callCost('getQuotaStats', { minutes: 1_440 })).toBe(1);
    expect(callCost('getQuotaStats', { minutes: 1_441 })).toBe(2);
    expect(callCost('getQuotaStats', { minutes: 43_200 })).toBe(30);
    expect(callCost('getRealtimeSalesSummary', {})).toBe(1);
    expect(callCost('getRealtimeSalesSummary', { sinceHours: 2_160 })).toBe(90);
    expect(callCost('getStatus', { usageWindowMinutes: 60 })).toBe(1);
    expect(callCost('simulatePolicy', { from: 0, to: 24 * 3_600_000 })).toBe(24);
    expect(callCost('simulatePolicy', { from: 0, to: 60_000 })).toBe(1);
  });

  it('two 30-day reads spend a 60-call burst; a one-hour read passes a second later, not another 30 days', async () => {
    expect(await stats('ranger', 43_200)).toBe(undefined);
    expect(await stats('ranger', 43_200)).toBe(undefined);
    const refused = await stats('ranger', 43_200);
    expect(refused?.code).toBe('resource-exhausted');
    // 30 tokens at 2 a second: most of 15 s away, where a one-token call was half a second.
    const { retryAfterMs } = refused!.details as { retryAfterMs: number };
    expect(retryAfterMs).toBeGreaterThan(10_000);
    expect(retryAfterMs).toBeLessThanOrEqual(15_000);
    f.clock.now += 1_000;
    expect(await stats('ranger', 60)).toBe(undefined);
    expect((await stats('ranger', 43_200))?.code).toBe('resource-exhausted');
    // Sixty one-hour reads would have passed in the same bucket.
    for (let i = 0; i < 60; i++) expect(await stats('hourly', 60)).toBe(undefined);
  });

  it('caps a cost at the burst, so a long read passes once the bucket is full', async () => {
    const limiter = new CallLimiter(f.db, { perMinute: 60, burst: 5 }, { now: () => f.clock.now });
    expect(await limiter.admit('capped', 'getQuotaStats', 30)).toEqual({ admitted: true });
    expect(await limiter.admit('capped', 'getQuotaStats', 1)).toMatchObject({ admitted: false });
  });
});
