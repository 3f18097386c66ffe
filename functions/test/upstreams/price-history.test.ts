import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Firestore } from 'firebase-admin/firestore';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startPriceSiteSandbox } from '../../../devstack/src/sandbox/price-site.ts';
import { sandboxDefect } from '../../../devstack/src/sandbox/price-site-catalogue.ts';
import type { PriceSiteSandbox } from '../../../devstack/src/sandbox/price-site-types.ts';
import { startProxySandbox } from '../../../devstack/src/sandbox/proxy.ts';
import type { ProxySandbox, ProxyUser } from '../../../devstack/src/sandbox/proxy-types.ts';
import { upstreamSkippedLinks } from '../../src/adapters/observability/metrics';
import { ProductsRepository } from '../../src/adapters/pipeline/products-repository';
import { type WorkHandler, WorkRunner } from '../../src/adapters/pipeline/work-runner';
import { type RawPayloads, rawPayloadId } from '../../src/adapters/storage/raw-payloads';
import {
  createPriceHistoryHandler,
  discoverProducts,
  OPERATIONS,
} from '../../src/adapters/upstreams/price-history';
import {
  ProxiedHttpClient,
  type ProxiedHttpClientOptions,
  proxyRefusalStatus,
} from '../../src/adapters/upstreams/proxied-fetch';
import { UpstreamError } from '../../src/adapters/upstreams/upstream-call';
import type { WorkItem } from '../../src/core/pipeline/work-items';
import { QuotaExceededError } from '../../src/core/quota/errors';
import { CONFIDENCE_PENALTIES } from '../../src/core/upstreams/price-history';
import { defaultValidationConfig, validateProduct } from '../../src/core/validation';
import { testFirestore } from '../support/firestore';
import { rejection } from '../support/rejection';

const SEED = 'adapter-test';
const NOW = Date.UTC(2026, 2, 15, 9, 30, 0, 200);
const USER = 'collector';
const PASSWORD = 's3cret';
const COLLECTION = 'buckcheap-historical';

let site: PriceSiteSandbox;
let proxy: ProxySandbox | undefined;
let db: Firestore;
let close: () => Promise<void>;
let products: ProductsRepository;
let clients: ProxiedHttpClient[] = [];
let t = NOW;
let progress: Array<[string, string]> = [];
let slept: number[] = [];

beforeAll(async () => {
  site = await startPriceSiteSandbox({ seed: SEED, now: () => t });
  ({ db, close } = testFirestore());
  products = new ProductsRepository(db, { now: () => t });
});
afterAll(async () => {
  await site.stop();
  await close();
});
beforeEach(() => {
  t = NOW;
  progress = [];
  slept = [];
  site.misbehave('none');
});
afterEach(async () => {
  await Promise.all(clients.map((c) => c.close()));
  clients = [];
  await proxy?.stop();
  proxy = undefined;
});

async function startProxy(user: Partial<ProxyUser> = {}) {
  proxy = await startProxySandbox({
    now: () => t,
    users: [{ username: USER, password: PASSWORD, requestsPerSecond: 50, ...user }],
  });
  return proxy;
}

function client(options: Partial<ProxiedHttpClientOptions> = {}) {
  const c = new ProxiedHttpClient({
    proxyUrl: proxy!.url,
    username: USER,
    password: PASSWORD,
    now: () => t,
    random: () => 0.5,
    sleep: async (ms) => {
      slept.push(ms);
    },
    timeoutMs: 10_000,
    ...options,
  });
  clients.push(c);
  return c;
}

function handler(c = client()): WorkHandler {
  return createPriceHistoryHandler({
    client: c,
    siteBaseUrl: site.url,
    products,
    recordProgress: async (collection, marketplace) => {
      progress.push([collection, marketplace]);
    },
  });
}

function item(productId: string, marketplace = 'takealot'): WorkItem {
  return {
    collection: COLLECTION,
    kind: 'price-history',
    key: `${marketplace}-${productId}`,
    provider: 'smartproxy',
    category: COLLECTION,
    cost: 2,
    payload: { marketplace, productId },
    deferrals: 0,
  };
}

const used = new Set<string>();
/** `n` healthy products (no sandbox defect) no other test has used. */
function healthy(n: number, marketplace: 'takealot' | 'makro' = 'takealot'): string[] {
  const ids = site
    .productIds(marketplace)
    .filter((id) => sandboxDefect(SEED, marketplace, id) === null && !used.has(id))
    .slice(0, n);
  for (const id of ids) used.add(id);
  return ids;
}

function withDefect(defect: string, marketplace: 'takealot' | 'makro' = 'takealot'): string {
  const id = site
    .productIds(marketplace)
    .find((i) => sandboxDefect(SEED, marketplace, i) === defect);
  if (!id) throw new Error(`no ${defect} product in the sandbox catalogue`);
  return id;
}

describe('price history through the proxy', () => {
  it('stores a product with its points, identifiers, confidence and range, and reports the traffic', async () => {
    await startProxy();
    const [id] = healthy(1);
    const result = await handler()(item(id!));

    const stored = await products.get('takealot', id!);
    const expected = site.product('takealot', id!)!;
    expect(stored).toMatchObject({
      marketplace: 'takealot',
      key: id,
      collection: COLLECTION,
      identifiers: expected.identifiers,
      confidence: 1,
      expectedRange: { from: '2025-12-16', to: '2026-03-15' },
    });
    expect(stored!.prices).toEqual(
      expected.points.map((p) => ({ date: p.date, price: p.price, confidence: 1 })),
    );
    expect(validateProduct(stored!)).toEqual([]);
    expect(progress).toEqual([[COLLECTION, 'takealot']]);

    // Two requests through the proxy, and the traffic it relayed.
    const usage = proxy!.state().users[USER]!;
    expect(usage.requests).toBe(2);
    expect(site.state().byKind).toMatchObject({ product: 1, csv: 1 });
    expect(result).toMatchObject({ requests: 2 });
    expect(result!.bytes).toBeGreaterThan(expected.points.length * 'YYYY-MM-DD,1234.00\n'.length);
    // The client's meter and the proxy's agree within the few headers undici adds.
    expect(Math.abs(result!.bytes! - usage.bytes) / usage.bytes).toBeLessThan(0.05);
  });

  it('reads makro histories (quoted rand prices) the same way', async () => {
    await startProxy();
    const [id] = healthy(1, 'makro');
    await handler()(item(id!, 'makro'));
    const stored = await products.get('makro', id!);
    const expected = site.product('makro', id!)!;
    expect(stored).toMatchObject({ identifiers: expected.identifiers, confidence: 1 });
    expect(stored!.prices.map((p) => p.price)).toEqual(expected.points.map((p) => p.price));
  });

  it('works through CONNECT tunnels as well', async () => {
    await startProxy();
    const [id] = healthy(1);
    const result = await handler(client({ tunnel: true }))(item(id!));
    const stored = await products.get('takealot', id!);
    expect(stored).toMatchObject({ confidence: 1 });
    expect(stored!.prices).toHaveLength(90);
    const usage = proxy!.state().users[USER]!;
    expect(usage.tunnels).toBeGreaterThanOrEqual(1);
    expect(result!.bytes).toBeGreaterThan(0);
    expect(Math.abs(result!.bytes! - usage.bytes) / usage.bytes).toBeLessThan(0.05);
  });

  it('does not duplicate points or count progress twice when the item is redelivered', async () => {
    await startProxy();
    const [id] = healthy(1);
    const run = handler();
    await run(item(id!));
    const first = await products.get('takealot', id!);
    t += 60_000;
    await run(item(id!));
    await run(item(id!));
    const again = await products.get('takealot', id!);
    expect(again!.prices).toHaveLength(90);
    expect(again).toEqual(first); // nothing rewritten, not even updatedAt
    expect(progress).toEqual([[COLLECTION, 'takealot']]);
    const stored = await products.listByCollection(COLLECTION);
    expect(stored.filter((p) => p.key === id)).toHaveLength(1);
  });

  it('keeps the CSV it read as a raw payload, durable before the product that references it', async () => {
    await startProxy();
    const [id] = healthy(1);
    const kept: Array<{ kind: string; source: string; id: string; productThen: boolean }> = [];
    const raw: RawPayloads = {
      async keep(kind, source, body) {
        const payloadId = rawPayloadId(kind, source, body);
        expect(String(body)).toContain(','); // the CSV text itself
        kept.push({
          kind,
          source,
          id: payloadId,
          productThen: (await products.get('takealot', id!)) !== undefined,
        });
        return payloadId;
      },
    };
    const run = createPriceHistoryHandler({
      client: client(),
      siteBaseUrl: site.url,
      products,
      raw,
    });
    await run(item(id!));
    await run(item(id!)); // redelivered: the same payload id, the product unchanged
    expect(kept).toHaveLength(2);
    expect(kept[0]).toMatchObject({ kind: 'price-history-csv', source: `takealot~${id}` });
    expect(kept[0]!.productThen).toBe(false);
    expect(kept[1]!.id).toBe(kept[0]!.id);
    expect(await products.get('takealot', id!)).toMatchObject({ rawPayload: kept[0]!.id });
  });

  it('re-collects a product from a validation fix payload without counting progress again', async () => {
    await startProxy();
    const [id] = healthy(1);
    const run = handler();
    await run(item(id!));
    progress = [];
    const before = proxy!.state().users[USER]!.requests;
    const fix: WorkItem = {
      ...item(id!),
      kind: 'recollect',
      payload: {
        marketplace: 'takealot',
        productKey: id,
        identifiers: { plid: id! },
        rules: ['low-confidence'],
        runId: '2026-03-15T06',
      },
    };
    const result = await run(fix);
    expect(result).toMatchObject({ requests: 2 });
    expect(proxy!.state().users[USER]!.requests).toBe(before + 2);
    expect(progress).toEqual([]);
    expect((await products.get('takealot', id!))!.prices).toHaveLength(90);
    await expect(run({ ...fix, payload: { marketplace: 'takealot' } })).rejects.toThrow(TypeError);
  });

  it('stores what validation should find in defective products', async () => {
    await startProxy();
    const run = handler();
    const findings = async (defect: string) => {
      const id = withDefect(defect);
      await run(item(id));
      return validateProduct((await products.get('takealot', id))!).map((f) => f.rule);
    };
    expect(await findings('date-gap')).toEqual(['incomplete-dates']);
    expect(await findings('price-jump')).toEqual(['inconsistent-prices']);
    expect(await findings('non-positive-price')).toEqual(['inconsistent-prices']);
    // No link on the page: the conventional URL is tried and stored at half confidence.
    const noLink = withDefect('missing-link');
    expect(await findings('missing-link')).toEqual(['low-confidence']);
    const stored = await products.get('takealot', noLink);
    expect(stored!.confidence).toBe(CONFIDENCE_PENALTIES.missingLink);
    expect(stored!.prices).toHaveLength(90);
    const noBarcode = withDefect('missing-barcode');
    await run(item(noBarcode));
    const withoutBarcode = await products.get('takealot', noBarcode);
    expect(withoutBarcode!.identifiers).toEqual({ plid: noBarcode });
    expect(
      validateProduct(withoutBarcode!, {
        ...defaultValidationConfig,
        requiredIdentifiers: ['plid', 'barcode'],
      }).map((f) => f.rule),
    ).toEqual(['missing-identifiers']);
  });

  it('maps 407 to a typed credentials error, absolute-form and tunnelled, without retrying', async () => {
    await startProxy();
    const [id] = healthy(1);
    for (const tunnel of [false, true]) {
      const error = await rejection(handler(client({ password: 'wrong', tunnel }))(item(id!)));
      expect(error).toBeInstanceOf(UpstreamError);
      expect(error).toMatchObject({
        provider: 'smartproxy',
        operation: OPERATIONS.product,
        kind: 'credentials',
        status: 407,
      });
    }
    expect(proxy!.state().authFailures).toBe(2);
    expect(slept).toEqual([]);
  });

  it('maps a proxy 429 to QuotaExceededError with its Retry-After', async () => {
    await startProxy({ requestsPerSecond: 1 });
    const [a, b] = healthy(2);
    // The product page takes the second's only request; the CSV is refused.
    const error = await rejection(handler()(item(a!)));
    expect(error).toBeInstanceOf(QuotaExceededError);
    expect(error).toMatchObject({
      provider: 'smartproxy',
      operation: OPERATIONS.csv,
      retryAfterSeconds: 1,
    });
    expect(await products.get('takealot', a!)).toBeUndefined();

    t += 1_000;
    proxy!.misbehave('429');
    const told = await rejection(handler()(item(b!)));
    expect(told).toMatchObject({
      provider: 'smartproxy',
      operation: OPERATIONS.product,
      retryAfterSeconds: 30,
    });
    // Tunnelled, the refusal carries no headers: still a quota error.
    const tunnelled = await rejection(handler(client({ tunnel: true }))(item(b!)));
    expect(tunnelled).toBeInstanceOf(QuotaExceededError);
    expect(tunnelled).toMatchObject({ provider: 'smartproxy', retryAfterSeconds: undefined });
    expect(progress).toEqual([]);
    expect(slept).toEqual([]); // a quota error is never retried
  });

  it('maps 403 blocks from the proxy and from the site, and the site 429, to QuotaExceededError', async () => {
    await startProxy();
    const [id] = healthy(1);
    proxy!.misbehave('block');
    expect(await rejection(handler()(item(id!)))).toMatchObject({
      name: 'QuotaExceededError',
      provider: 'smartproxy',
      operation: OPERATIONS.product,
    });
    proxy!.misbehave('none');
    site.misbehave('block');
    expect(await rejection(handler()(item(id!)))).toBeInstanceOf(QuotaExceededError);
    site.misbehave('429');
    expect(await rejection(handler()(item(id!)))).toMatchObject({
      name: 'QuotaExceededError',
      retryAfterSeconds: 60,
    });
    expect(await products.get('takealot', id!)).toBeUndefined();
  });

  it('a traffic allowance used up at the proxy stops the provider', async () => {
    await startProxy({ monthlyTrafficBytes: 2_000 });
    const [a, b] = healthy(2);
    await handler()(item(a!)); // both requests admitted under the allowance; they take it over
    expect(proxy!.state().users[USER]!.monthBytes).toBeGreaterThan(2_000);
    expect(await rejection(handler()(item(b!)))).toBeInstanceOf(QuotaExceededError);
    expect(proxy!.state().trafficExhausted).toBe(1);
  });

  it('retries 5xx from the site and from the proxy, then succeeds', async () => {
    await startProxy();
    const [id] = healthy(1);
    site.misbehave('5xx');
    // The helper sleeps (injected) before its retry: the site recovers meanwhile.
    const run = handler(
      client({
        sleep: async (ms) => {
          slept.push(ms);
          site.misbehave('none');
          proxy!.misbehave('none');
        },
      }),
    );
    const result = await run(item(id!));
    expect(site.state().byStatus['503']).toBe(1);
    expect(slept).toHaveLength(1);
    expect(result).toMatchObject({ requests: 3 }); // the failed attempt was a proxy request too
    expect((await products.get('takealot', id!))!.prices).toHaveLength(90);

    proxy!.misbehave('5xx');
    await run(item(id!));
    expect(slept).toHaveLength(2);
  });

  it('gives up after the bounded retries with a typed http error', async () => {
    await startProxy();
    const [id] = healthy(1);
    site.misbehave('5xx');
    const error = await rejection(handler(client({ retries: 2 }))(item(id!)));
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ kind: 'http', status: 503, operation: OPERATIONS.product });
    expect(slept).toHaveLength(2);
    expect(site.state().byStatus['503']).toBeGreaterThanOrEqual(3);
  });

  it('treats a CSV without usable rows as a typed malformed error and writes nothing', async () => {
    await startProxy();
    const [id] = healthy(1);
    site.misbehave('malformed');
    const error = await rejection(handler()(item(id!)));
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ kind: 'malformed', operation: OPERATIONS.csv });
    expect(await products.get('takealot', id!)).toBeUndefined();
    expect(progress).toEqual([]);
  });

  it('discovers product ids from listing pages, through the proxy', async () => {
    await startProxy();
    const c = client();
    const first = await discoverProducts({
      client: c,
      siteBaseUrl: site.url,
      marketplace: 'takealot',
      page: 1,
    });
    expect(first.productIds).toEqual(site.productIds('takealot').slice(0, 50));
    expect(first).toMatchObject({ hasNext: true, requests: 1 });
    expect(first.bytes).toBeGreaterThan(1_000);
    const last = await discoverProducts({
      client: c,
      siteBaseUrl: `${site.url}/`,
      marketplace: 'makro',
      page: 10,
    });
    expect(last.productIds).toEqual(site.productIds('makro').slice(450, 500));
    expect(last.hasNext).toBe(false);
    const past = await discoverProducts({
      client: c,
      siteBaseUrl: site.url,
      marketplace: 'makro',
      page: 11,
    });
    expect(past).toMatchObject({ productIds: [], hasNext: false });
    site.misbehave('malformed');
    expect(
      await rejection(
        discoverProducts({ client: c, siteBaseUrl: site.url, marketplace: 'makro', page: 1 }),
      ),
    ).toMatchObject({ kind: 'malformed', operation: OPERATIONS.listing });
  });

  it('through the work runner: bytes are settled, a block cools the category down', async () => {
    await startProxy();
    const [id] = healthy(1);
    const settled: Array<{ cost?: number; bytes?: number; requests?: number }> = [];
    const cooled: Array<{ error: QuotaExceededError; category: string }> = [];
    const runner = new WorkRunner(
      {
        acquire: async () => ({
          kind: 'granted',
          atMs: t,
          waitedMs: 0,
          release: () => {},
          settle: async (actual) => void settled.push(actual),
        }),
        reportQuotaError: async (error, category) => {
          cooled.push({ error, category });
          return { untilMs: t + 900_000 };
        },
        enqueue: async () => 'enqueued',
        now: () => t,
      },
      () => handler(),
      () => 'smartproxyWork',
    );
    expect(await runner.run(item(id!))).toEqual({ kind: 'done' });
    expect(settled).toHaveLength(1);
    expect(settled[0]!.requests).toBe(2);
    expect(settled[0]!.bytes).toBeGreaterThan(1_000);

    site.misbehave('block');
    expect(await runner.run(item(id!))).toMatchObject({ kind: 'deferred', reason: 'cooldown' });
    expect(cooled).toHaveLength(1);
    expect(cooled[0]!.category).toBe(COLLECTION);
    expect(cooled[0]!.error.provider).toBe('smartproxy');
  });
});

/** A host a page may name: answers 403 to everything, and counts what reached it. */
async function startForeignHost() {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    res.writeHead(403, { 'content-type': 'text/plain' });
    res.end('Forbidden');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    hits: () => hits,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function skippedLinks(operation: string, reason: string): Promise<number> {
  const { values } = await upstreamSkippedLinks.get();
  return (
    values.find(
      (v) =>
        v.labels.provider === 'smartproxy' &&
        v.labels.operation === operation &&
        v.labels.reason === reason,
    )?.value ?? 0
  );
}

describe('hostile pages', () => {
  it('follows the CSV link on the site only: a host the page names is never fetched', async () => {
    const foreign = await startForeignHost();
    const hostile = await startPriceSiteSandbox({
      seed: SEED,
      now: () => t,
      foreignOrigin: foreign.origin,
    });
    try {
      await startProxy();
      hostile.misbehave('hostile-html');
      const [id] = healthy(1);
      const before = await skippedLinks(OPERATIONS.product, 'off-origin');
      const run = createPriceHistoryHandler({
        client: client(),
        siteBaseUrl: hostile.url,
        products,
      });
      // The page: 1 MiB of unclosed anchors, a CSV link on the foreign host, then its own.
      const result = await run(item(id!));
      expect(foreign.hits()).toBe(0);
      expect(result).toMatchObject({ requests: 2 });
      const stored = await products.get('takealot', id!);
      expect(stored).toMatchObject({ confidence: 1 }); // its own link, found
      expect(stored!.prices).toHaveLength(90);
      expect(await skippedLinks(OPERATIONS.product, 'off-origin')).toBe(before + 1);
    } finally {
      await hostile.stop();
      await foreign.stop();
    }
  });

  it("a 403 from a host other than the site is not the provider's quota; the proxy's is", async () => {
    const foreign = await startForeignHost();
    try {
      await startProxy();
      const c = client({ quotaOrigins: [site.url] });
      const [id] = healthy(1);
      const elsewhere = await rejection(c.get(`${foreign.origin}/x.csv`, OPERATIONS.csv));
      expect(elsewhere).toBeInstanceOf(UpstreamError);
      expect(elsewhere).not.toBeInstanceOf(QuotaExceededError);
      expect(elsewhere).toMatchObject({ kind: 'http', status: 403 });
      expect(foreign.hits()).toBe(1);
      // The site's own bot wall, and the proxy's refusals, still stop the provider.
      site.misbehave('block');
      expect(await rejection(handler(c)(item(id!)))).toBeInstanceOf(QuotaExceededError);
      site.misbehave('none');
      proxy!.misbehave('block');
      expect(await rejection(c.get(`${foreign.origin}/x.csv`, OPERATIONS.csv))).toMatchObject({
        kind: 'http',
      });
      const tunnelled = client({ quotaOrigins: [site.url], tunnel: true });
      // A refused CONNECT is the proxy's own answer, whatever the target.
      expect(
        await rejection(tunnelled.get(`${foreign.origin}/x.csv`, OPERATIONS.csv)),
      ).toBeInstanceOf(QuotaExceededError);
      expect(await rejection(handler(c)(item(id!)))).toBeInstanceOf(QuotaExceededError);
    } finally {
      await foreign.stop();
    }
  });

  it('skips and counts a malformed product link on a listing instead of failing the page', async () => {
    await startProxy();
    site.misbehave('hostile-html');
    const before = await skippedLinks(OPERATIONS.listing, 'malformed');
    const found = await discoverProducts({
      client: client(),
      siteBaseUrl: site.url,
      marketplace: 'takealot',
      page: 1,
    });
    // Every real product, in order; `/takealot/product/%E0%A4%A` neither listed nor thrown.
    expect(found.productIds).toEqual(site.productIds('takealot').slice(0, 50));
    expect(found.hasNext).toBe(true);
    expect(await skippedLinks(OPERATIONS.listing, 'malformed')).toBe(before + 1);
  });
});

describe('proxyRefusalStatus', () => {
  it('finds the status of a refused tunnel or proxy authentication in the error chain', () => {
    const tunnel = new TypeError('fetch failed', {
      cause: new Error('Proxy response (429) !== 200 when HTTP Tunneling'),
    });
    expect(proxyRefusalStatus(tunnel)).toBe(429);
    expect(proxyRefusalStatus(new Error('Proxy Authentication Required (407)'))).toBe(407);
    expect(
      proxyRefusalStatus(new TypeError('fetch failed', { cause: new Error('ECONNREFUSED') })),
    ).toBeUndefined();
    expect(proxyRefusalStatus('nope')).toBeUndefined();
  });
});
