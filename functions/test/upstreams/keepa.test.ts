import { afterEach, describe, expect, it } from 'vitest';
import { startKeepaSandbox } from '../../../devstack/src/sandbox/keepa.ts';
import { sandboxDealAsin } from '../../../devstack/src/sandbox/keepa-deals.ts';
import { sandboxProduct } from '../../../devstack/src/sandbox/keepa-products.ts';
import { DEAL_COST, KEEPA_SANDBOX_KEY } from '../../../devstack/src/sandbox/keepa-rules.ts';
import type {
  KeepaSandbox,
  KeepaSandboxOptions,
} from '../../../devstack/src/sandbox/keepa-types.ts';
import {
  KEEPA_MAX_ASINS,
  KEEPA_MAX_ASINS_WITH_OFFERS,
  KeepaClient,
  type KeepaClientOptions,
} from '../../src/adapters/upstreams/keepa';
import { UpstreamError } from '../../src/adapters/upstreams/upstream-call';
import { QuotaExceededError } from '../../src/core/quota/errors';
import { KEEPA_DEAL_QUERY_DEFAULTS } from '../../src/core/upstreams/keepa-deal-request';

const T0 = Date.UTC(2026, 0, 10, 12, 0, 0);
let t = T0;
const now = () => t;
let sandbox: KeepaSandbox | undefined;

afterEach(async () => {
  await sandbox?.stop();
  sandbox = undefined;
});

/** Every request the client makes, and the sleeps between retries (none really sleeps). */
interface Recorder {
  urls: URL[];
  sleeps: number[];
}

async function setup(
  sandboxOptions: KeepaSandboxOptions = {},
  clientOptions: Partial<KeepaClientOptions> = {},
  /** Wraps the recording fetch (to change answers or the sandbox between attempts). */
  wrap?: (inner: typeof fetch) => typeof fetch,
) {
  t = T0;
  sandbox = await startKeepaSandbox({ now, ...sandboxOptions });
  const recorder: Recorder = { urls: [], sleeps: [] };
  const recording: typeof fetch = (input, init) => {
    recorder.urls.push(new URL(String(input)));
    return fetch(input, init);
  };
  const client = new KeepaClient({
    baseUrl: sandbox.url,
    apiKey: KEEPA_SANDBOX_KEY,
    domainId: 3,
    capacity: sandboxOptions.capacity ?? 300,
    now,
    fetch: wrap ? wrap(recording) : recording,
    sleep: async (ms) => {
      recorder.sleeps.push(ms);
    },
    random: () => 0.5,
    ...clientOptions,
  });
  return { sb: sandbox, client, recorder };
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

const asins = (n: number, prefix = 'B0') =>
  Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(8, '0')}`);

/** Offers a sandbox product has; Keepa charges 6 tokens per page of 10 found. */
const offerTokens = (asin: string, offers = 20) => {
  const found = (sandboxProduct(asin, 3, 0, { offers }).offers as unknown[]).length;
  return Math.ceil(found / 10) * 6;
};

describe('KeepaClient against the sandbox', () => {
  it('fetches products and maps every answer into a meter reading', async () => {
    const { sb, client, recorder } = await setup({ capacity: 300, refillPerMinute: 20 });
    const result = await client.products(['B000000001', 'B000000002'], {
      stats: 90,
      history: true,
    });
    expect(result.requests).toBe(1);
    expect(result.products.map((p) => p.asin)).toEqual(['B000000001', 'B000000002']);
    expect(result.products[0]?.stats?.current?.[1]).toBeGreaterThan(0);
    expect(result.products[0]?.csv?.[1]?.length).toBeGreaterThan(2);
    expect(result.meter).toEqual({
      balance: 298,
      atMs: T0,
      ratePerSecond: 20 / 60,
      capacity: 300,
      consumed: 2,
    });
    const url = recorder.urls[0]!;
    expect(url.pathname).toBe('/product');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      key: KEEPA_SANDBOX_KEY,
      domain: '3',
      asin: 'B000000001,B000000002',
      stats: '90',
      history: '1',
    });

    t += 15_000;
    // 14 offers: two pages of offers, 12 tokens (the base token is waived).
    expect(offerTokens('X17')).toBe(12);
    const full = await client.products(['X17'], { stats: 90, offers: 20 });
    expect(full.products[0]?.offers).toHaveLength(14);
    expect(full.meter).toMatchObject({ balance: 298 - 12, atMs: T0 + 15_000, consumed: 12 });

    const deals = await client.deals({ page: 0 });
    expect(deals.deals).toHaveLength(150);
    expect(deals.deals[0]?.asin).toBe(sandboxDealAsin(0, 3));
    expect(deals.meter).toMatchObject({ balance: 286 - DEAL_COST, consumed: DEAL_COST });
    expect(deals.tokens).toMatchObject({
      refillIn: 45_000,
      refillRate: 20,
      timestamp: T0 + 15_000,
    });
    // A complete query: the official DealRequest's fields, the client's domain.
    const sent = JSON.parse(recorder.urls[2]!.searchParams.get('selection')!);
    expect(sent).toEqual({ ...KEEPA_DEAL_QUERY_DEFAULTS, page: 0, domainId: 3 });
    expect(deals.query).toEqual(sent);

    const status = await client.tokenStatus();
    expect(status.meter).toEqual({
      balance: 281,
      atMs: T0 + 15_000,
      ratePerSecond: 20 / 60,
      capacity: 300,
      consumed: 0,
    });
    expect(sb.state()).toMatchObject({ tokensLeft: 281, tokensConsumed: 19 });
  });

  it('without a configured capacity assumes Keepa’s hour of refills', async () => {
    const { client } = await setup({ refillPerMinute: 20 }, { capacity: undefined });
    expect((await client.tokenStatus()).meter.capacity).toBe(20 * 60);
  });

  it('splits more than 100 ASINs into requests of at most 100 and sums their cost', async () => {
    const { sb, client, recorder } = await setup({ capacity: 1_000 });
    const wanted = asins(250);
    const result = await client.products([...wanted, wanted[0]!, ` ${wanted[1]} `], {
      stats: 30,
      history: false,
    });
    const sizes = recorder.urls.map((u) => u.searchParams.get('asin')!.split(',').length);
    expect(sizes).toEqual([KEEPA_MAX_ASINS, KEEPA_MAX_ASINS, 50]);
    expect(result.requests).toBe(3);
    expect(result.products.map((p) => p.asin)).toEqual(wanted);
    expect(result.products[0]?.csv).toBeNull();
    expect(result.meter).toMatchObject({ balance: 750, consumed: 250 });
    expect(sb.state()).toMatchObject({ served: 3, tokensConsumed: 250, tokensLeft: 750 });
  });

  it('splits requests with offers at 20 ASINs', async () => {
    const { sb, client, recorder } = await setup({ capacity: 3_000 });
    const wanted = asins(45);
    const result = await client.products(wanted, { stats: 30, offers: 20 });
    const sizes = recorder.urls.map((u) => u.searchParams.get('asin')!.split(',').length);
    expect(sizes).toEqual([KEEPA_MAX_ASINS_WITH_OFFERS, KEEPA_MAX_ASINS_WITH_OFFERS, 5]);
    expect(recorder.urls.every((u) => u.searchParams.get('offers') === '20')).toBe(true);
    expect(result.products.map((p) => p.asin)).toEqual(wanted);
    const cost = wanted.reduce((sum, asin) => sum + offerTokens(asin), 0);
    expect(result.meter).toMatchObject({ consumed: cost, balance: 3_000 - cost });
    expect(sb.state()).toMatchObject({ served: 3, rejected: 0, tokensConsumed: cost });
  });

  it('turns a 429 into the quota error, the wait from the body, without retrying', async () => {
    const { sb, client, recorder } = await setup({ capacity: 10, refillPerMinute: 5 });
    // 9 tokens, then three ASINs with offers (6 + 12 + 6 = 24 tokens) from 1: down to -23.
    await client.products(asins(9));
    const three = ['X9', 'X17', 'B27'];
    expect(three.map((asin) => offerTokens(asin))).toEqual([6, 12, 6]);
    expect((await client.products(three, { offers: 20 })).meter.balance).toBe(-23);
    t += 15_000;
    const error = await failure(client.products(['B1']));
    expect(error).toBeInstanceOf(QuotaExceededError);
    expect(error).toMatchObject({
      provider: 'keepa',
      operation: 'product',
      // Five refills to be positive again: 45 s to the next, then four minutes.
      retryAfterSeconds: 45 + 240,
    });
    expect(recorder.urls).toHaveLength(3);
    expect(recorder.sleeps).toEqual([]);
    expect(sb.state().rejected).toBe(1);

    // Told to refuse: deals and status too; the wait is the body's, from the same meter.
    sb.misbehave('429');
    expect(await failure(client.deals())).toMatchObject({
      name: 'QuotaExceededError',
      operation: 'deal',
      retryAfterSeconds: 45 + 240,
    });
    expect(await failure(client.tokenStatus())).toMatchObject({ operation: 'token' });
  });

  it('takes the wait from the body even when a Retry-After header says otherwise', async () => {
    const { client } = await setup(
      { capacity: 10, refillPerMinute: 5 },
      {},
      (inner) => async (input, init) => {
        const response = await inner(input, init);
        const headers = new Headers(response.headers);
        headers.set('retry-after', '3');
        return new Response(await response.text(), { status: response.status, headers });
      },
    );
    await client.products(['X2', 'X4'], { offers: 20 }); // 12 + 12 tokens: -14
    t += 50_000;
    const error = await failure(client.products(['B1']));
    // -14 at 5 a minute: three refills, the first in 10 s.
    expect(error).toMatchObject({ name: 'QuotaExceededError', retryAfterSeconds: 10 + 120 });
  });

  it('reports unsupported parameters (offers=0) as a configuration error, not retried', async () => {
    const { sb, client, recorder } = await setup();
    const error = await failure(client.products(['B1'], { stats: 90, offers: 0 }));
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ kind: 'configuration', status: 400, operation: 'product' });
    const message = (error as Error).message;
    expect(message).toContain('offers=0');
    expect(message).toContain('offers must be an integer between 20 and 100');
    expect(message).not.toContain(KEEPA_SANDBOX_KEY);
    expect(recorder.urls).toHaveLength(1);
    expect(recorder.sleeps).toEqual([]);
    expect(sb.state()).toMatchObject({ tokensConsumed: 0, served: 0 });
  });

  it('reports a bad key (400 naming the key) and an unpaid account (402) as credentials errors', async () => {
    const { client, recorder } = await setup({}, { apiKey: 'wrong-key' });
    const error = await failure(client.products(['B1']));
    expect(error).toMatchObject({ name: 'UpstreamError', kind: 'credentials', status: 400 });
    expect((error as Error).message).toContain('API key');
    expect((error as Error).message).not.toContain('wrong-key');
    expect(await failure(client.tokenStatus())).toMatchObject({ kind: 'credentials' });
    expect(recorder.urls).toHaveLength(2);

    const unpaid = new KeepaClient({
      baseUrl: 'http://keepa.invalid',
      apiKey: 'k',
      domainId: 1,
      fetch: async () =>
        new Response(JSON.stringify({ error: { type: 'paymentRequired' } }), { status: 402 }),
    });
    const unpaidError = await failure(unpaid.tokenStatus());
    expect(unpaidError).toMatchObject({ kind: 'credentials', status: 402 });
    expect((unpaidError as Error).message).toContain('subscription');
  });

  it('reports 404 and 405 as configuration errors, not retried', async () => {
    for (const status of [404, 405]) {
      let calls = 0;
      const client = new KeepaClient({
        baseUrl: 'http://keepa.invalid',
        apiKey: 'k',
        domainId: 1,
        fetch: async () => {
          calls++;
          return new Response('{}', { status });
        },
      });
      expect(await failure(client.deals())).toMatchObject({ kind: 'configuration', status });
      expect(calls).toBe(1);
    }
  });

  it('retries a 5xx and succeeds once the sandbox recovers', async () => {
    let attempts = 0;
    const { sb, client, recorder } = await setup(
      {},
      { retries: 2, baseDelayMs: 100 },
      (inner) => async (input, init) => {
        // Fails twice, then the sandbox is healthy again.
        if (++attempts === 3) sandbox?.misbehave('none');
        return inner(input, init);
      },
    );
    sb.misbehave('5xx');
    const result = await client.products(['B1']);
    expect(result.products).toHaveLength(1);
    expect(recorder.urls).toHaveLength(3);
    // Full jitter (random 0.5) on 100 ms doubling: nothing really slept.
    expect(recorder.sleeps).toEqual([50, 100]);
    expect(sb.state()).toMatchObject({ served: 1, tokensConsumed: 1 });
  });

  it('gives up after the retries with a typed error', async () => {
    const { sb, client, recorder } = await setup({}, { retries: 2 });
    sb.misbehave('5xx');
    const error = await failure(client.products(['B1']));
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ kind: 'http', status: 500 });
    expect(recorder.urls).toHaveLength(3);
    expect(recorder.sleeps).toHaveLength(2);
  });

  it('reports a malformed body as a typed malformed error', async () => {
    const { sb, client } = await setup();
    sb.misbehave('malformed');
    expect(await failure(client.products(['B1']))).toMatchObject({
      name: 'UpstreamError',
      kind: 'malformed',
    });

    // JSON, but not Keepa's shape (no meter fields).
    const odd = new KeepaClient({
      baseUrl: sb.url,
      apiKey: KEEPA_SANDBOX_KEY,
      domainId: 3,
      fetch: async () => Response.json({ products: [{ asin: 'B1' }] }),
    });
    const error = await failure(odd.products(['B1']));
    expect(error).toMatchObject({ kind: 'malformed' });
    expect((error as Error).message).toContain('tokensLeft');
  });
});
