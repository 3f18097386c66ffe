import type { Firestore } from 'firebase-admin/firestore';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startKeepaSandbox } from '../../../devstack/src/sandbox/keepa.ts';
import { KEEPA_SANDBOX_KEY } from '../../../devstack/src/sandbox/keepa-rules.ts';
import type { KeepaSandbox } from '../../../devstack/src/sandbox/keepa-types.ts';
import { startPriceSiteSandbox } from '../../../devstack/src/sandbox/price-site.ts';
import { sandboxDefect } from '../../../devstack/src/sandbox/price-site-catalogue.ts';
import type { PriceSiteSandbox } from '../../../devstack/src/sandbox/price-site-types.ts';
import { startProxySandbox } from '../../../devstack/src/sandbox/proxy.ts';
import type { ProxySandbox } from '../../../devstack/src/sandbox/proxy-types.ts';
import { startSpApiSandbox } from '../../../devstack/src/sandbox/spapi.ts';
import {
  LWA_TOKEN_PATH,
  SPAPI_SANDBOX_CREDENTIALS,
  SPAPI_SANDBOX_MARKETPLACE_ID,
  type SpApiSandbox,
} from '../../../devstack/src/sandbox/spapi-types.ts';
import { ProductsRepository } from '../../src/adapters/pipeline/products-repository';
import { upstreamFetch } from '../../src/adapters/upstreams/http';
import { readBytes } from '../../src/adapters/upstreams/http-body';
import { KEEPA_MAX_BODY_BYTES, KeepaClient } from '../../src/adapters/upstreams/keepa';
import {
  createPriceHistoryHandler,
  OPERATIONS,
  PRICE_HISTORY_MAX_BODY_BYTES,
} from '../../src/adapters/upstreams/price-history';
import { ProxiedHttpClient } from '../../src/adapters/upstreams/proxied-fetch';
import { SPAPI_MAX_BODY_BYTES } from '../../src/adapters/upstreams/spapi-calls';
import { SpApiReportsClient } from '../../src/adapters/upstreams/spapi-reports';
import { ReportProcessingError } from '../../src/adapters/upstreams/spapi-reports-answers';
import { UpstreamError } from '../../src/adapters/upstreams/upstream-call';
import type { WorkItem } from '../../src/core/pipeline/work-items';
import { VENDOR_REAL_TIME_SALES_REPORT } from '../../src/core/upstreams/sales';
import { testFirestore } from '../support/firestore';
import { quietLogger } from '../support/quiet-logger';

/**
 * Upstream bodies are read under a cap per endpoint, streamed, and aborted as soon as they pass
 * it; a gzip document is inflated as it streams, under its own cap. Before, a 398 KiB gzip
 * report document became 400 MiB of text (+799 MiB of memory), and any answer was read whole.
 * Every client here meets a body far past its cap, plain and as a gzip bomb, and must refuse it
 * with a typed `oversized` UpstreamError, having held no more than the cap, then go on working.
 */

quietLogger();

const MIB = 1024 * 1024;
/** Bodies the sandboxes send: far past every cap. */
const HUGE = 400 * MIB;
/** Read past the cap before the abort: at most what one read of the stream delivers. */
const SLACK = 2 * MIB;

async function rejection(promise: Promise<unknown>): Promise<UpstreamError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof UpstreamError) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

/** Bytes read before the abort, as the error reports them. */
function readBefore(error: UpstreamError): number {
  const match = /aborted after (\d+) bytes/.exec(error.message);
  if (!match) throw new Error(`no byte count in "${error.message}"`);
  return Number(match[1]);
}

function expectOversized(error: UpstreamError, operation: string, cap: number) {
  expect(error).toMatchObject({ kind: 'oversized', operation });
  expect(error.message).toContain(`${cap} bytes, the limit of ${operation}`);
  const read = readBefore(error);
  expect(read).toBeGreaterThan(cap);
  expect(read).toBeLessThanOrEqual(cap + SLACK);
}

describe('Keepa', () => {
  let sandbox: KeepaSandbox;
  const client = () =>
    new KeepaClient({
      baseUrl: sandbox.url,
      apiKey: KEEPA_SANDBOX_KEY,
      domainId: 1,
      retries: 0,
    });
  beforeAll(async () => {
    sandbox = await startKeepaSandbox({ hugeBytes: HUGE });
  });
  afterEach(() => sandbox.misbehave('none'));
  afterAll(() => sandbox.stop());

  it('aborts a product answer past its cap, plain or a gzip bomb, and works on', async () => {
    const keepa = client();
    for (const mode of ['huge', 'gzip-bomb'] as const) {
      sandbox.misbehave(mode);
      const error = await rejection(keepa.products(['B000000001']));
      expectOversized(error, 'product', KEEPA_MAX_BODY_BYTES.product);
      expect(error.message).toContain('is larger than'); // counted after gzip is undone
    }
    sandbox.misbehave('none');
    expect((await keepa.products(['B000000001'])).products).toHaveLength(1);
  });

  it('the free token status has a cap of its own, far smaller', async () => {
    sandbox.misbehave('huge');
    const error = await rejection(client().tokenStatus());
    expectOversized(error, 'token', KEEPA_MAX_BODY_BYTES.token);
  });

  it('reads no more than a few KiB of a 429 looking for its meter fields', async () => {
    // A 429 whose body goes on for ever: the quota error still comes, at once.
    sandbox.misbehave('far-retry-after');
    const error = await client()
      .products(['B000000001'])
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'QuotaExceededError', retryAfterSeconds: 9_999_999_999 });
  });
});

describe('SP-API reports', () => {
  let sandbox: SpApiSandbox;
  let t: number;
  let polls = 0;
  const client = () =>
    new SpApiReportsClient({
      baseUrl: sandbox.url,
      lwaUrl: `${sandbox.url}${LWA_TOKEN_PATH}`,
      credentials: { ...SPAPI_SANDBOX_CREDENTIALS },
      marketplaceIds: [SPAPI_SANDBOX_MARKETPLACE_ID],
      now: () => t,
      sleep: async (ms) => {
        t += ms;
      },
      retries: 0,
      fetch: (input, init) => {
        if (String(input).includes('/reports/2021-06-30/reports/')) polls++;
        return fetch(input, init);
      },
    });
  const T0 = Date.UTC(2026, 0, 10, 12, 0, 0);
  const report = (c: SpApiReportsClient, options = {}) =>
    c.fetchReport(VENDOR_REAL_TIME_SALES_REPORT, T0 - 6 * 3_600_000, T0, {
      pollIntervalMs: 15_000,
      ...options,
    });
  beforeAll(async () => {
    t = T0;
    sandbox = await startSpApiSandbox({ now: () => t, processingMs: 30_000, hugeBytes: HUGE });
  });
  afterEach(() => {
    sandbox.misbehave('none');
    polls = 0;
  });
  afterAll(() => sandbox.stop());

  it('a gzip bomb document (about 400 KiB inflating to 400 MiB) is cut at its inflated cap', async () => {
    sandbox.misbehave('bomb', 'downloadDocument');
    const error = await rejection(report(client()));
    expect(error).toMatchObject({ kind: 'oversized', operation: 'downloadDocument' });
    expect(error.message).toContain(`inflates to more than ${SPAPI_MAX_BODY_BYTES.document} bytes`);
    const inflated = readBefore(error);
    expect(inflated).toBeLessThanOrEqual(SPAPI_MAX_BODY_BYTES.document + SLACK);
  });

  it('a huge download is cut at its cap; a JSON step at its own, plain or gzip-encoded', async () => {
    sandbox.misbehave('huge', 'downloadDocument');
    expectOversized(
      await rejection(report(client())),
      'downloadDocument',
      SPAPI_MAX_BODY_BYTES.downloadDocument,
    );
    sandbox.misbehave('none');
    sandbox.misbehave('huge', 'getReport');
    expectOversized(await rejection(report(client())), 'getReport', SPAPI_MAX_BODY_BYTES.getReport);
    // Gzip-encoded, its compressed length alone is past the cap: refused before a byte is read.
    sandbox.misbehave('bomb', 'getReport');
    const bomb = await rejection(report(client()));
    expect(bomb).toMatchObject({ kind: 'oversized', operation: 'getReport' });
    expect(bomb.message).toContain('refused unread');
    // The flow works again as soon as the upstream does.
    sandbox.misbehave('none');
    t += 60_000;
    const done = await report(client());
    expect(done.processingStatus).toBe('DONE');
    expect(done.rows.length).toBeGreaterThan(0);
  });

  it('stops polling a report that never ends before its deadline', async () => {
    sandbox.misbehave('stuck');
    const start = t;
    const deadlineMs = start + 100_000;
    const error = await rejection(report(client(), { deadlineMs, maxPolls: 40 }));
    expect(error).toBeInstanceOf(ReportProcessingError);
    expect(error).toMatchObject({ kind: 'timeout', operation: 'getReport' });
    expect(t).toBeLessThan(deadlineMs);
    expect(polls).toBe(7); // at 0, 15, ... 90 s; the next would pass the deadline
  });

  it('an HTTP call past its deadline is not made; within it, its timeout is cut to what is left', async () => {
    let calls = 0;
    const call = {
      provider: 'spapi',
      operation: 'getReport',
      now: () => t,
      deadlineMs: t - 1,
      fetch: (async () => {
        calls++;
        return new Response('{}');
      }) as typeof fetch,
    };
    const late = await rejection(upstreamFetch(`${sandbox.url}/x`, { method: 'GET' }, call));
    expect(late).toMatchObject({ kind: 'timeout' });
    expect(late.message).toContain('deadline');
    expect(calls).toBe(0);
    // A slow answer: the attempt ends with the deadline, not with the 30 s timeout.
    sandbox.misbehave('slow', 'getReport');
    const started = Date.now();
    const slow = await rejection(
      upstreamFetch(
        `${sandbox.url}/reports/2021-06-30/reports/1`,
        { method: 'GET' },
        { provider: 'spapi', operation: 'getReport', retries: 2, deadlineMs: Date.now() + 300 },
      ),
    );
    expect(slow).toMatchObject({ kind: 'timeout' });
    expect(Date.now() - started).toBeLessThan(2_500); // the sandbox's 'slow' is 3 s
  });
});

describe('price pages through the proxy', () => {
  let site: PriceSiteSandbox;
  let proxy: ProxySandbox;
  let db: Firestore;
  let close: () => Promise<void>;
  let http: ProxiedHttpClient;
  const SEED = 'hostile-bodies';
  beforeAll(async () => {
    site = await startPriceSiteSandbox({ seed: SEED, hugeBytes: HUGE });
    proxy = await startProxySandbox({ users: [{ username: 'u', password: 'p' }] });
    http = new ProxiedHttpClient({ proxyUrl: proxy.url, username: 'u', password: 'p', retries: 0 });
    ({ db, close } = testFirestore());
  });
  afterEach(() => site.misbehave('none'));
  afterAll(async () => {
    await http.close();
    await proxy.stop();
    await site.stop();
    await close();
  });

  const item = (productId: string): WorkItem => ({
    collection: 'buckcheap-historical',
    kind: 'price-history',
    key: `takealot~${productId}`,
    provider: 'smartproxy',
    category: 'buckcheap',
    cost: 1,
    payload: { marketplace: 'takealot', productId },
    deferrals: 0,
  });

  it('aborts a page past its cap, plain or a gzip bomb; the next item is collected', async () => {
    const products = new ProductsRepository(db);
    const handler = createPriceHistoryHandler({ client: http, siteBaseUrl: site.url, products });
    const [bad, good] = site
      .productIds('takealot')
      .filter((id) => sandboxDefect(SEED, 'takealot', id) === null);
    for (const mode of ['huge', 'bomb'] as const) {
      site.misbehave(mode);
      const error = await rejection(handler(item(bad!)));
      expectOversized(error, OPERATIONS.product, PRICE_HISTORY_MAX_BODY_BYTES[OPERATIONS.product]);
    }
    expect(await products.get('takealot', bad!)).toBeUndefined();
    site.misbehave('none');
    await handler(item(good!));
    expect((await products.get('takealot', good!))!.prices).toHaveLength(90);
  });
});

describe('the body reader', () => {
  it('refuses a body declaring a length past the cap without reading it', async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(1024));
      },
    });
    const response = new Response(body, { headers: { 'content-length': String(10 * MIB) } });
    const error = await rejection(
      readBytes(response, { provider: 'keepa', operation: 'product', maxBodyBytes: MIB }),
    );
    expect(error).toMatchObject({ kind: 'oversized' });
    expect(error.message).toContain('refused unread (Content-Length 10485760)');
    expect(pulled).toBeLessThanOrEqual(1); // the stream's own first pull, nothing read
  });

  it('stops pulling an endless body as soon as it passes the cap', async () => {
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(64 * 1024));
      },
    });
    const error = await rejection(
      readBytes(new Response(endless), { provider: 'x', operation: 'y', maxBodyBytes: MIB }),
    );
    expect(error).toMatchObject({ kind: 'oversized' });
    expect(pulled).toBeLessThanOrEqual(MIB / (64 * 1024) + 3);
  });
});
