import fc from 'fast-check';
import { type Firestore, Timestamp } from 'firebase-admin/firestore';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startPriceSiteSandbox } from '../../../devstack/src/sandbox/price-site.ts';
import type { PriceSiteSandbox } from '../../../devstack/src/sandbox/price-site-types.ts';
import { startProxySandbox } from '../../../devstack/src/sandbox/proxy.ts';
import type { ProxySandbox } from '../../../devstack/src/sandbox/proxy-types.ts';
import { ProductsRepository } from '../../src/adapters/pipeline/products-repository';
import { engineWorkPorts, WorkRunner } from '../../src/adapters/pipeline/work-runner';
import { CooldownStore } from '../../src/adapters/quota/cooldowns';
import { QuotaEngine } from '../../src/adapters/quota/quota-engine';
import { createPriceHistoryHandler } from '../../src/adapters/upstreams/price-history';
import { ProxiedHttpClient } from '../../src/adapters/upstreams/proxied-fetch';
import { parseDocument, providerSchema } from '../../src/core/config';
import {
  cooldownGranularityMs,
  DEFAULT_MAX_RETRY_AFTER_SECONDS,
  requestedUntil,
} from '../../src/core/quota/cooldown';
import { parseRetryAfter, QuotaExceededError } from '../../src/core/quota/errors';
import { testFirestore } from '../support/firestore';
import { quietLogger } from '../support/quiet-logger';

/**
 * A hostile or broken upstream decides how long a provider cools down through Retry-After.
 * Before the clamp, `Retry-After: 9999999999` cooled the proxy provider down until the year
 * 2343, and a larger value threw a Timestamp RangeError, so no cooldown was recorded at all.
 */

quietLogger();

const NOW = Date.UTC(2026, 2, 15, 9, 30, 0);
const MAX_MS = DEFAULT_MAX_RETRY_AFTER_SECONDS * 1000;
/** The most a requested end is rounded up. */
const GRANULE_MS = 5_000;

/** Retry-After values an upstream could send, and what each must come to at most. */
const HOSTILE: Array<[string, string]> = [
  ['delta-seconds of 317 years', '9999999999'],
  ['1e30 in digits', `1${'0'.repeat(30)}`],
  ['more digits than a double holds', '9'.repeat(400)],
  ['an HTTP-date in the year 2343', 'Fri, 01 Jan 2343 00:00:00 GMT'],
  ['an HTTP-date past what a Date holds', 'Sat, 13 Sep 275760 00:00:00 GMT'],
  ['a fraction of a huge number', '99999999999999999999.5'],
];

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP-dates (IMF-fixdate, RFC 850, asctime)', () => {
    expect(parseRetryAfter('120', NOW)).toBe(120);
    expect(parseRetryAfter(' 30 ', NOW)).toBe(30);
    expect(parseRetryAfter('1.5', NOW)).toBe(1.5);
    expect(parseRetryAfter('0', NOW)).toBe(0);
    const inAMinute = new Date(NOW + 60_000).toUTCString();
    expect(parseRetryAfter(inAMinute, NOW)).toBe(60);
    expect(parseRetryAfter('Sunday, 15-Mar-26 09:31:00 GMT', NOW)).toBe(60);
    // asctime names no zone: only that it reads as a date is certain.
    expect(parseRetryAfter('Sun Mar 15 09:31:00 2026', NOW)).toBeTypeOf('number');
  });

  it('a date in the past asks for no wait', () => {
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', NOW)).toBe(0);
  });

  it('negative numbers and garbage are not Retry-After (the provider default applies)', () => {
    // A lenient date parser reads "-5" as May 2001 and "0 1" as a date: they are neither.
    for (const garbage of ['-5', '-1.5', 'soon', '1e30', 'Infinity', 'NaN', '0 1', '5s', '']) {
      expect(parseRetryAfter(garbage, NOW), garbage).toBeUndefined();
    }
    expect(parseRetryAfter(null, NOW)).toBeUndefined();
    expect(parseRetryAfter('12, 2026', NOW)).toBeUndefined();
  });

  it('hands far or huge values on as asked: the cooldown rules bound them', () => {
    expect(parseRetryAfter('9999999999', NOW)).toBe(9_999_999_999);
    expect(parseRetryAfter(`1${'0'.repeat(30)}`, NOW)).toBe(1e30);
    expect(parseRetryAfter('9'.repeat(400), NOW)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('the cooldown a Retry-After asks for', () => {
  it.each(HOSTILE)('is at most the maximum for %s', (_, header) => {
    const until = requestedUntil(NOW, parseRetryAfter(header, NOW), 1800);
    expect(until).toBeGreaterThanOrEqual(NOW + MAX_MS);
    expect(until).toBeLessThanOrEqual(NOW + MAX_MS + GRANULE_MS);
    expect(() => Timestamp.fromMillis(until)).not.toThrow();
  });

  it('uses the provider maximum, and the default for what is no wait at all', () => {
    expect(requestedUntil(NOW, 9_999_999_999, 1800, 600)).toBe(NOW + 600_000);
    expect(requestedUntil(NOW, 120, 1800, 600)).toBe(NOW + 120_000);
    for (const nonsense of [Number.NaN, -5, Number.NEGATIVE_INFINITY, undefined]) {
      expect(requestedUntil(NOW, nonsense, 1800, 600)).toBe(NOW + 1_800_000);
    }
  });

  it('any number at all, with any maximum, ends within [now, now + max(maximum, default)]', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.double({ noNaN: false }),
          fc.constantFrom(9_999_999_999, 1e30, Number.MAX_VALUE, Number.POSITIVE_INFINITY),
          fc.constant(undefined),
        ),
        fc.integer({ min: 1, max: 30 * 86_400 }),
        fc.integer({ min: 1, max: 30 * 86_400 }),
        (retryAfter, maxSeconds, defaultSeconds) => {
          const until = requestedUntil(NOW, retryAfter, defaultSeconds, maxSeconds);
          const longestMs = Math.max(maxSeconds, defaultSeconds) * 1000;
          expect(Number.isFinite(until)).toBe(true);
          expect(until).toBeGreaterThanOrEqual(NOW);
          expect(until).toBeLessThan(NOW + longestMs + cooldownGranularityMs(longestMs) + 1);
        },
      ),
    );
  });

  it('the provider field: a few hours by default, at most 30 days, validated', () => {
    const parse = (extra: object) =>
      parseDocument(providerSchema, 'providers/p', {
        id: 'p',
        limits: [{ kind: 'window', unit: 'minute', limit: 60 }],
        ...extra,
      });
    expect(parse({}).maxRetryAfterSeconds).toBe(DEFAULT_MAX_RETRY_AFTER_SECONDS);
    expect(DEFAULT_MAX_RETRY_AFTER_SECONDS).toBe(4 * 3600);
    expect(parse({ maxRetryAfterSeconds: 600 }).maxRetryAfterSeconds).toBe(600);
    expect(() => parse({ maxRetryAfterSeconds: 0 })).toThrow(/maxRetryAfterSeconds/);
    expect(() => parse({ maxRetryAfterSeconds: 1e12 })).toThrow(/maxRetryAfterSeconds: at most/);
    // The default cooldown is bounded too: a Timestamp never overflows.
    expect(() => parse({ cooldownSeconds: 1e300 })).toThrow(/cooldownSeconds: at most/);
  });
});

let db: Firestore;
let close: () => Promise<void>;
beforeAll(async () => {
  ({ db, close } = testFirestore());
  await db.doc('providers/keepa').set({
    limits: [{ kind: 'tokenBucket', capacity: 300, refillPerSecond: 5 }],
    cooldownSeconds: 600,
  });
  await db.doc('providers/tight').set({
    limits: [{ kind: 'window', unit: 'minute', limit: 600 }],
    cooldownSeconds: 60,
    maxRetryAfterSeconds: 900,
  });
  await db.doc('categories/deals').set({ provider: 'keepa', sharePercent: 100 });
  await db.doc('categories/tight-work').set({ provider: 'tight', sharePercent: 100 });
});
afterAll(() => close());

describe('cooldown documents under a hostile Retry-After', () => {
  it.each(HOSTILE)('%s: recorded, ending within the maximum', async (_, header) => {
    const store = new CooldownStore(db);
    await store.clear('keepa', 'test');
    const before = Date.now();
    const error = new QuotaExceededError('keepa', 'product', parseRetryAfter(header, before));
    const cooldown = await store.recordHit(error, 600);
    expect(cooldown.untilMs).toBeGreaterThanOrEqual(before + MAX_MS);
    expect(cooldown.untilMs).toBeLessThanOrEqual(Date.now() + MAX_MS + GRANULE_MS);
    const doc = await db.doc('cooldowns/keepa').get();
    expect((doc.get('until') as Timestamp).toMillis()).toBe(cooldown.untilMs);
    // The document keeps what was asked when it is a number Firestore can show.
    const asked = doc.get('retryAfterSeconds');
    expect(asked === null || Number.isFinite(asked)).toBe(true);
    await store.clear('keepa', 'test');
  });

  it("the engine bounds by the provider's maxRetryAfterSeconds, the local hold included", async () => {
    const engine = new QuotaEngine(db);
    await engine.cooldowns.clear('tight', 'test');
    // A gate call reads the configuration: the hold below knows the provider's maximum.
    const decision = await engine.acquire({ provider: 'tight', category: 'tight-work', cost: 1 });
    if (decision.kind === 'granted') decision.release();
    const before = Date.now();
    const reported = engine.reportQuotaError(
      new QuotaExceededError('tight', 'page', 9_999_999_999),
    );
    const held = await engine.cooldowns.untilMs('tight');
    expect(held).toBeLessThanOrEqual(Date.now() + 900_000 + GRANULE_MS);
    const cooldown = await reported;
    expect(cooldown.untilMs).toBeGreaterThanOrEqual(before + 900_000);
    expect(cooldown.untilMs).toBeLessThanOrEqual(Date.now() + 900_000 + GRANULE_MS);
    await engine.cooldowns.clear('tight', 'test');
    await engine.shutdown();
  });
});

describe('end to end: a far Retry-After through the proxy', () => {
  let site: PriceSiteSandbox;
  let proxy: ProxySandbox | undefined;
  let client: ProxiedHttpClient | undefined;
  beforeAll(async () => {
    site = await startPriceSiteSandbox({ seed: 'retry-after' });
    await db.doc('providers/smartproxy').set({
      limits: [{ kind: 'window', unit: 'minute', limit: 6000, measure: 'requests' }],
      cooldownSeconds: 300,
    });
    await db.doc('categories/buckcheap').set({ provider: 'smartproxy', sharePercent: 100 });
  });
  afterEach(async () => {
    await client?.close();
    await proxy?.stop();
  });
  afterAll(() => site.stop());

  it.each([
    ['9999999999', '9999999999'],
    ['1e30 in digits', `1${'0'.repeat(30)}`],
    ['an HTTP-date in 2343', 'Fri, 01 Jan 2343 00:00:00 GMT'],
  ])('%s cools the provider down for the maximum, not for centuries', async (_, header) => {
    proxy = await startProxySandbox({
      farRetryAfter: header,
      users: [{ username: 'u', password: 'p' }],
    });
    proxy.misbehave('far-retry-after');
    client = new ProxiedHttpClient({ proxyUrl: proxy.url, username: 'u', password: 'p' });
    const engine = new QuotaEngine(db);
    await engine.cooldowns.clear('smartproxy', 'test');
    const handler = createPriceHistoryHandler({
      client,
      siteBaseUrl: site.url,
      products: new ProductsRepository(db),
    });
    const runner = new WorkRunner(
      engineWorkPorts(engine, async () => 'enqueued'),
      () => handler,
      () => 'smartproxyWork',
    );
    const before = Date.now();
    const outcome = await runner.run({
      collection: 'buckcheap-historical',
      kind: 'price-history',
      key: 'takealot~PLID71000000',
      provider: 'smartproxy',
      category: 'buckcheap',
      cost: 1,
      payload: { marketplace: 'takealot', productId: site.productIds('takealot')[0]! },
      deferrals: 0,
    });
    expect(outcome).toMatchObject({ kind: 'deferred', reason: 'cooldown' });
    if (outcome.kind !== 'deferred') throw new Error('unreachable');
    expect(outcome.atMs).toBeGreaterThanOrEqual(before + MAX_MS);
    expect(outcome.atMs).toBeLessThanOrEqual(Date.now() + MAX_MS + GRANULE_MS);
    // Recorded (no RangeError), and that is what every instance sees.
    const until = (await db.doc('cooldowns/smartproxy').get()).get('until') as Timestamp;
    expect(until.toMillis()).toBe(outcome.atMs);
    expect(new Date(until.toMillis()).getUTCFullYear()).toBe(new Date(before).getUTCFullYear());
    await engine.cooldowns.clear('smartproxy', 'test');
    await engine.shutdown();
  });
});
