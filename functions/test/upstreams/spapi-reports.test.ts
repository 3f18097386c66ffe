import type { Firestore } from 'firebase-admin/firestore';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSpApiSandbox } from '../../../devstack/src/sandbox/spapi.ts';
import { sandboxAsins, sandboxSalesRows } from '../../../devstack/src/sandbox/spapi-sales.ts';
import {
  LWA_TOKEN_PATH,
  SPAPI_SANDBOX_CREDENTIALS,
  SPAPI_SANDBOX_MARKETPLACE_ID,
  type SpApiOperation,
  type SpApiSandbox,
  type SpApiSandboxOptions,
} from '../../../devstack/src/sandbox/spapi-types.ts';
import { SALES_COLLECTION, SalesRepository } from '../../src/adapters/pipeline/sales-repository';
import type { SpApiReportsOperation } from '../../src/adapters/upstreams/spapi-calls';
import { SpApiReportsClient } from '../../src/adapters/upstreams/spapi-reports';
import { ReportProcessingError } from '../../src/adapters/upstreams/spapi-reports-answers';
import type { SpApiReportsClientOptions } from '../../src/adapters/upstreams/spapi-reports-types';
import { createRealtimeSalesFetcher } from '../../src/adapters/upstreams/spapi-sales-fetcher';
import { UpstreamError } from '../../src/adapters/upstreams/upstream-call';
import { QuotaExceededError } from '../../src/core/quota/errors';
import { roundMoney, VENDOR_REAL_TIME_SALES_REPORT } from '../../src/core/upstreams/sales';
import { testFirestore } from '../support/firestore';
import { rejection } from '../support/rejection';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 10, 12, 0, 0);
const SEED = 'spapi-client';
const PROCESSING_MS = 60_000;
const POLL = { pollIntervalMs: 30_000, maxPolls: 10 };
const US = SPAPI_SANDBOX_MARKETPLACE_ID;

let sb: SpApiSandbox;
/** One clock for the sandbox and the client: the client's waits move it. */
let t: number;
let sleeps: number[];
/** Runs at each injected sleep (a retry's back-off or a poll interval). */
let onSleep: (() => void) | undefined;
/** Requests the client sent, by path. */
let requests: string[];
let rateLimits: Array<[SpApiReportsOperation, number]>;

async function startSandbox(options: SpApiSandboxOptions = {}) {
  sb = await startSpApiSandbox({
    now: () => t,
    seed: SEED,
    processingMs: PROCESSING_MS,
    ...options,
  });
}

beforeEach(async () => {
  t = T0;
  sleeps = [];
  onSleep = undefined;
  requests = [];
  rateLimits = [];
  await startSandbox();
});
afterEach(() => sb.stop());

function client(over: Partial<SpApiReportsClientOptions> = {}) {
  const counting: typeof fetch = (input, init) => {
    requests.push(new URL(String(input)).pathname);
    return fetch(input, init);
  };
  return new SpApiReportsClient({
    baseUrl: sb.url,
    lwaUrl: `${sb.url}${LWA_TOKEN_PATH}`,
    credentials: { ...SPAPI_SANDBOX_CREDENTIALS },
    marketplaceIds: [US],
    fetch: counting,
    now: () => t,
    sleep: async (ms) => {
      sleeps.push(ms);
      t += ms;
      onSleep?.();
    },
    random: () => 0.5,
    onRateLimit: (operation, rate) => {
      rateLimits.push([operation, rate]);
    },
    ...over,
  });
}

const count = (fragment: string) => requests.filter((p) => p.includes(fragment)).length;

/** What the sandbox serves for a window, in the client's row shape. */
function expectedRows(startMs: number, endMs: number, asOfMs: number) {
  return sandboxSalesRows(SEED, sandboxAsins(SEED), startMs, endMs, asOfMs)
    .map((r) => ({
      asin: r.asin,
      hourStartMs: Date.parse(r.startTime),
      hourEndMs: Date.parse(r.endTime),
      orderedUnits: r.orderedUnits,
      orderedRevenue: r.orderedRevenue,
    }))
    .sort((a, b) => a.hourStartMs - b.hourStartMs || a.asin.localeCompare(b.asin));
}

const fetchSales = (c: SpApiReportsClient, startMs = T0 - 6 * HOUR, endMs = T0) =>
  c.fetchReport(VENDOR_REAL_TIME_SALES_REPORT, startMs, endMs, POLL);

describe('SpApiReportsClient against the sandbox', () => {
  it('runs the whole flow: token, create, poll until DONE, document, gunzip, rows', async () => {
    const c = client();
    const result = await fetchSales(c);
    expect(result.processingStatus).toBe('DONE');
    expect(result.marketplaceIds).toEqual([US]);
    expect(result.rows.length).toBeGreaterThan(6);
    expect(result.rows).toEqual(expectedRows(T0 - 6 * HOUR, T0, T0));
    for (const row of result.rows) {
      expect(row.hourEndMs - row.hourStartMs).toBe(HOUR);
      expect(row.hourStartMs).toBeGreaterThanOrEqual(T0 - 6 * HOUR);
      expect(row.hourEndMs).toBeLessThanOrEqual(T0);
    }
    // IN_QUEUE, IN_PROGRESS, DONE: two poll waits, on the injected sleep.
    expect(sleeps).toEqual([30_000, 30_000]);
    expect(sb.state()).toMatchObject({
      tokensIssued: 1,
      reportsCreated: 1,
      operations: {
        createReport: { served: 1, rejected: 0 },
        getReport: { served: 3, rejected: 0 },
        getReportDocument: { served: 1, rejected: 0 },
        downloadDocument: { served: 1, rejected: 0 },
      },
    });
  });

  it.each(['createReport', 'getReport', 'getReportDocument', 'downloadDocument'] as const)(
    "turns %s's throttle (429; S3's 503 SlowDown for the download) into the one QuotaExceededError naming it, without retrying",
    async (operation) => {
      const c = client();
      sb.misbehave('429', operation);
      const error = await rejection(fetchSales(c));
      expect(error).toBeInstanceOf(QuotaExceededError);
      expect(error).toMatchObject({ provider: 'spapi', operation, retryAfterSeconds: undefined });
      expect(sb.state().operations[operation as SpApiOperation].rejected).toBe(1);
      if (operation === 'downloadDocument') expect(count('/report-documents/')).toBe(1);
      expect(sleeps.filter((ms) => ms !== POLL.pollIntervalMs)).toEqual([]); // no back-off
      // Nothing after the refused step was called.
      const after = ['createReport', 'getReport', 'getReportDocument', 'downloadDocument'].slice(
        ['createReport', 'getReport', 'getReportDocument', 'downloadDocument'].indexOf(operation) +
          1,
      ) as SpApiOperation[];
      for (const later of after) expect(sb.state().operations[later].served).toBe(0);
    },
  );

  it("takes S3's 503 SlowDown on the download as the quota error, with its Retry-After", async () => {
    // S3 may send Retry-After with a SlowDown; the sandbox does not, so it is added here.
    const c = client({
      fetch: async (input, init) => {
        requests.push(new URL(String(input)).pathname);
        const response = await fetch(input, init);
        if (response.status !== 503) return response;
        const headers = new Headers(response.headers);
        headers.set('retry-after', '7');
        return new Response(await response.text(), { status: 503, headers });
      },
    });
    sb.misbehave('429', 'downloadDocument');
    const error = await rejection(fetchSales(c));
    expect(error).toBeInstanceOf(QuotaExceededError);
    expect(error).toMatchObject({
      provider: 'spapi',
      operation: 'downloadDocument',
      retryAfterSeconds: 7,
    });
    expect(count('/report-documents/')).toBe(1);
  });

  it('keeps a real 5xx on the download (500 InternalError, 503 without SlowDown) a server error, retried', async () => {
    const c = client({ retries: 2 });
    sb.misbehave('5xx', 'downloadDocument');
    const e500 = await rejection(fetchSales(c));
    expect(e500).toBeInstanceOf(UpstreamError);
    expect(e500).not.toBeInstanceOf(QuotaExceededError);
    expect(e500).toMatchObject({ operation: 'downloadDocument', kind: 'http', status: 500 });
    expect(count('/report-documents/')).toBe(3);
    expect(sb.state().operations.downloadDocument.rejected).toBe(0);

    // S3's 503 ServiceUnavailable (and a 503 with no S3 body at all) is a fault, not a throttle.
    for (const body of [
      '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>ServiceUnavailable</Code><Message>Service is unable to handle request.</Message></Error>',
      '',
    ]) {
      requests = [];
      sb.misbehave('none', 'downloadDocument');
      const c503 = client({
        retries: 2,
        fetch: async (input, init) => {
          const path = new URL(String(input)).pathname;
          requests.push(path);
          if (!path.startsWith('/report-documents/')) return fetch(input, init);
          return new Response(body, {
            status: 503,
            headers: { 'content-type': 'application/xml', 'retry-after': '7' },
          });
        },
      });
      const e503 = await rejection(fetchSales(c503));
      expect(e503).toBeInstanceOf(UpstreamError);
      expect(e503).not.toBeInstanceOf(QuotaExceededError);
      expect(e503).toMatchObject({ operation: 'downloadDocument', kind: 'http', status: 503 });
      expect(count('/report-documents/')).toBe(3);
    }

    // A 503 ServiceUnavailable once, then the document: the retry fetches it.
    requests = [];
    let failed = 0;
    const flaky = client({
      retries: 2,
      fetch: async (input, init) => {
        const path = new URL(String(input)).pathname;
        requests.push(path);
        if (path.startsWith('/report-documents/') && failed++ === 0) {
          return new Response('<Error><Code>ServiceUnavailable</Code></Error>', { status: 503 });
        }
        return fetch(input, init);
      },
    });
    const result = await fetchSales(flaky);
    expect(result.processingStatus).toBe('DONE');
    expect(result.rows.length).toBeGreaterThan(0);
    expect(count('/report-documents/')).toBe(2);
  });

  it("turns LWA's throttle (429, an RFC 6749 body) into the quota error of lwaToken, not cached", async () => {
    const c = client();
    sb.misbehave('429', 'lwaToken');
    const error = await rejection(fetchSales(c));
    expect(error).toBeInstanceOf(QuotaExceededError);
    expect(error).toMatchObject({ provider: 'spapi', operation: 'lwaToken' });
    expect(count(LWA_TOKEN_PATH)).toBe(1); // not retried
    expect(count('/reports/')).toBe(0);
    expect(sb.state().operations.lwaToken.rejected).toBe(1);
    // With a Retry-After (LWA does not document one; honoured if sent).
    const withRetryAfter = client({
      fetch: async (input, init) => {
        requests.push(new URL(String(input)).pathname);
        const response = await fetch(input, init);
        if (response.status !== 429) return response;
        const headers = new Headers(response.headers);
        headers.set('retry-after', '30');
        return new Response(await response.text(), { status: 429, headers });
      },
    });
    expect(await rejection(withRetryAfter.getReport('1'))).toMatchObject({
      operation: 'lwaToken',
      retryAfterSeconds: 30,
    });
    // Nothing was cached: once LWA answers again, the next call exchanges a token.
    sb.misbehave('none', 'lwaToken');
    expect((await fetchSales(c)).processingStatus).toBe('DONE');
    expect(sb.state().tokensIssued).toBe(1);
  });

  it('reads zero and negative rows (cancellations exceeding orders) as they are', async () => {
    const c = client();
    // Eight whole hours: every ASIN has a negative hour and a zero one (sandboxSalesRow).
    const result = await fetchSales(c, T0 - 8 * HOUR, T0);
    expect(result.rows).toEqual(expectedRows(T0 - 8 * HOUR, T0, T0));
    expect(result.rows.length).toBe(6 * 8);
    const negative = result.rows.filter((r) => r.orderedUnits < 0);
    expect(negative.length).toBe(6);
    for (const r of negative) expect(r.orderedRevenue).toBeLessThan(0);
    expect(result.rows.filter((r) => r.orderedUnits === 0).length).toBeGreaterThanOrEqual(6);
  });

  it("treats the sandbox's real token bucket running dry like any 429", async () => {
    await sb.stop();
    await startSandbox({ rateLimits: { createReport: { ratePerSecond: 0.0167, burst: 2 } } });
    const c = client();
    const create = () => c.createReport(VENDOR_REAL_TIME_SALES_REPORT, T0 - HOUR, T0);
    await create();
    await create();
    const error = await rejection(create());
    expect(error).toBeInstanceOf(QuotaExceededError);
    expect(error).toMatchObject({ operation: 'createReport' });
    expect(sb.state().operations.createReport).toEqual({ served: 2, rejected: 1 });
    // A minute later the bucket has a token again.
    t += 60_000;
    await create();
    expect(sb.state().reportsCreated).toBe(3);
  });

  it('exchanges the LWA token once for many calls, concurrent ones included, and renews it before expiry', async () => {
    const c = client();
    const ids = await Promise.all(
      Array.from({ length: 5 }, () =>
        c.createReport(VENDOR_REAL_TIME_SALES_REPORT, T0 - 2 * HOUR, T0),
      ),
    );
    expect(new Set(ids).size).toBe(5);
    for (const id of ids) await c.getReport(id);
    expect(sb.state().tokensIssued).toBe(1);
    expect(count(LWA_TOKEN_PATH)).toBe(1);

    t += 3_600_000 - 120_000; // two minutes before expiry: still cached
    await c.getReport(ids[0] as string);
    expect(count(LWA_TOKEN_PATH)).toBe(1);
    t += 61_000; // within the last minute: renewed first
    await c.getReport(ids[0] as string);
    expect(count(LWA_TOKEN_PATH)).toBe(2);
    expect(sb.state().tokensIssued).toBe(2);
  });

  it('fails with a credentials error, not retried, when LWA refuses the client or the refresh token', async () => {
    const badClient = client({
      credentials: { ...SPAPI_SANDBOX_CREDENTIALS, clientSecret: 'wrong' },
    });
    const e1 = await rejection(fetchSales(badClient));
    expect(e1).toBeInstanceOf(UpstreamError);
    expect(e1).toMatchObject({ operation: 'lwaToken', kind: 'credentials', status: 401 });
    expect((e1 as Error).message).toContain('invalid_client');
    expect(count(LWA_TOKEN_PATH)).toBe(1);

    const badGrant = client({
      credentials: { ...SPAPI_SANDBOX_CREDENTIALS, refreshToken: 'Atzr|revoked' },
    });
    const e2 = await rejection(fetchSales(badGrant));
    expect(e2).toMatchObject({ operation: 'lwaToken', kind: 'credentials', status: 400 });
    expect((e2 as Error).message).toContain('invalid_grant');
    expect(count(LWA_TOKEN_PATH)).toBe(2);
    expect(count('/reports/')).toBe(0);
    // A failed exchange is not cached: the next call tries again.
    await rejection(fetchSales(badGrant));
    expect(count(LWA_TOKEN_PATH)).toBe(3);
  });

  it('drops a token the API refuses and retries once with a fresh one', async () => {
    let tamper = true;
    const c = client({
      fetch: (input, init) => {
        requests.push(new URL(String(input)).pathname);
        const headers = new Headers(init?.headers);
        if (tamper && headers.has('x-amz-access-token')) {
          tamper = false;
          headers.set('x-amz-access-token', 'Atza|revoked-early');
        }
        return fetch(input, { ...init, headers });
      },
    });
    await c.createReport(VENDOR_REAL_TIME_SALES_REPORT, T0 - HOUR, T0);
    expect(count(LWA_TOKEN_PATH)).toBe(2);
    expect(count('/reports/2021-06-30/reports')).toBe(2);
    expect(sb.state().reportsCreated).toBe(1);

    // Refused twice: a credentials error.
    const c2 = client({
      fetch: (input, init) => {
        const headers = new Headers(init?.headers);
        if (headers.has('x-amz-access-token')) headers.set('x-amz-access-token', 'Atza|nope');
        return fetch(input, { ...init, headers });
      },
    });
    const error = await rejection(c2.getReport('1'));
    expect(error).toMatchObject({ operation: 'getReport', kind: 'credentials', status: 403 });
    expect((error as Error).message).toContain('Unauthorized');
  });

  it('retries a 5xx and succeeds; once retries are exhausted it is a typed http error', async () => {
    const c = client({ retries: 2 });
    sb.misbehave('5xx', 'getReport');
    onSleep = () => sb.misbehave('none', 'getReport');
    const result = await fetchSales(c);
    expect(result.processingStatus).toBe('DONE');
    // The failed attempt, then IN_QUEUE, IN_PROGRESS, DONE.
    expect(count('/reports/2021-06-30/reports/')).toBe(4);

    onSleep = undefined;
    requests = [];
    sb.misbehave('5xx', 'createReport');
    const error = await rejection(fetchSales(c));
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).not.toBeInstanceOf(QuotaExceededError);
    expect(error).toMatchObject({ operation: 'createReport', kind: 'http', status: 500 });
    expect(count('/reports/2021-06-30/reports')).toBe(3);
  });

  it("turns bad JSON into a typed 'malformed' error", async () => {
    const c = client();
    sb.misbehave('malformed', 'getReport');
    const error = await rejection(fetchSales(c));
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ operation: 'getReport', kind: 'malformed' });

    sb.misbehave('malformed', 'lwaToken');
    const fresh = client();
    expect(await rejection(fresh.getReport('1'))).toMatchObject({
      operation: 'lwaToken',
      kind: 'malformed',
    });
  });

  it("turns gzip that does not inflate into a typed 'malformed' error", async () => {
    const c = client();
    sb.misbehave('malformed', 'downloadDocument');
    const error = await rejection(fetchSales(c));
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ operation: 'downloadDocument', kind: 'malformed' });
    expect((error as Error).message).toContain('gzip');
  });

  it('throws ReportProcessingError for FATAL and resolves with no rows for CANCELLED', async () => {
    const c = client();
    sb.misbehave('fatal');
    const fatal = await rejection(fetchSales(c));
    expect(fatal).toBeInstanceOf(ReportProcessingError);
    expect(fatal).toBeInstanceOf(UpstreamError);
    expect(fatal).toMatchObject({ processingStatus: 'FATAL', provider: 'spapi' });
    expect(sb.state().operations.getReportDocument.served).toBe(0);

    sb.misbehave('cancelled');
    const cancelled = await fetchSales(c);
    expect(cancelled).toMatchObject({ processingStatus: 'CANCELLED', rows: [] });
    expect(sb.state().operations.getReportDocument.served).toBe(0);
  });

  it('gives up after maxPolls with a timeout error', async () => {
    const c = client();
    const error = await rejection(
      c.fetchReport(VENDOR_REAL_TIME_SALES_REPORT, T0 - HOUR, T0, {
        pollIntervalMs: 1_000,
        maxPolls: 3,
      }),
    );
    expect(error).toBeInstanceOf(ReportProcessingError);
    expect(error).toMatchObject({ kind: 'timeout', processingStatus: 'IN_QUEUE' });
    expect(sleeps).toEqual([1_000, 1_000]);
  });

  it('maps an SP-API 400 to a typed http error with its code', async () => {
    const c = client();
    const error = await rejection(c.createReport('GET_NO_SUCH_REPORT', T0 - HOUR, T0));
    expect(error).toMatchObject({ operation: 'createReport', kind: 'http', status: 400 });
    expect((error as Error).message).toContain('InvalidInput');
  });

  it('reports every x-amzn-RateLimit-Limit it receives', async () => {
    const c = client();
    await fetchSales(c);
    expect(rateLimits).toEqual([
      ['createReport', 0.0167],
      ['getReport', 2],
      ['getReport', 2],
      ['getReport', 2],
      ['getReportDocument', 0.0167],
    ]);
  });
});

describe('vendor real-time sales fetcher', () => {
  let db: Firestore;
  let close: () => Promise<void>;

  beforeEach(() => {
    ({ db, close } = testFirestore());
  });
  afterEach(() => close());

  const salesDocs = async () => (await db.collection(SALES_COLLECTION).get()).docs;

  it('stores whole hours idempotently: the same window twice leaves the same documents', async () => {
    const fetchAndStore = createRealtimeSalesFetcher({
      client: client(),
      store: new SalesRepository(db),
      ...POLL,
    });
    // An auto-sync window with the 5-minute lag: the whole hours 06:00..11:00 are its data.
    const window = {
      startMs: T0 - 6 * HOUR - 5 * 60_000 + HOUR,
      endMs: T0 - 5 * 60_000 + HOUR,
      id: 'w1',
      purpose: 'backfill' as const,
    };
    t = T0 + HOUR;
    await fetchAndStore(window);
    const first = await salesDocs();
    const rows = expectedRows(T0 - 6 * HOUR, T0, t);
    expect(first.length).toBe(rows.length);
    expect(first.length).toBeGreaterThan(6);
    const units = (docs: typeof first) => docs.reduce((n, d) => n + d.get('orderedUnits'), 0);
    expect(units(first)).toBe(rows.reduce((n, r) => n + r.orderedUnits, 0));
    // Zero and negative hours are stored as they are (the report's net sales).
    expect(first.some((d) => d.get('orderedUnits') < 0)).toBe(true);
    expect(first.some((d) => d.get('orderedUnits') === 0)).toBe(true);
    const summary = await new SalesRepository(db).summary({ sinceMs: T0 - 6 * HOUR });
    expect(summary.orderedUnits).toBe(units(first));
    expect(summary.orderedRevenue).toBe(
      roundMoney(rows.reduce((sum, r) => sum + r.orderedRevenue, 0)),
    );
    for (const d of first) {
      expect(d.id.startsWith(`${US}~2026-01-10T`)).toBe(true);
      expect(d.get('hourStartMs')).toBeGreaterThanOrEqual(T0 - 6 * HOUR);
      expect(d.get('hourEndMs')).toBeLessThanOrEqual(T0);
    }

    t += 2 * 60_000; // the createReport bucket is fine: it has burst 15
    await fetchAndStore({ ...window, purpose: 'daily' as const });
    const second = await salesDocs();
    expect(second.length).toBe(first.length);
    expect(second.map((d) => [d.id, d.data()])).toEqual(first.map((d) => [d.id, d.data()]));
    expect(units(second)).toBe(units(first));
    expect(sb.state().reportsCreated).toBe(2);
  });

  it('keeps the report document as a raw payload that every bucket of the window references', async () => {
    const kept: Array<{ kind: string; source: string; body: string }> = [];
    const fetchAndStore = createRealtimeSalesFetcher({
      client: client(),
      store: new SalesRepository(db),
      ...POLL,
      raw: {
        async keep(kind, source, body) {
          kept.push({ kind, source, body: String(body) });
          // Kept before any bucket is written.
          expect(await salesDocs()).toHaveLength(0);
          return `raw-${kept.length}`;
        },
      },
    });
    t = T0 + HOUR;
    await fetchAndStore({ startMs: T0 - 6 * HOUR, endMs: T0, id: 'w', purpose: 'backfill' });
    expect(kept).toHaveLength(1);
    expect(kept[0]!.kind).toBe('spapi-report');
    expect(kept[0]!.source.startsWith(`${US}~`)).toBe(true);
    expect(JSON.parse(kept[0]!.body)).toHaveProperty('reportData');
    const docs = await salesDocs();
    expect(docs.length).toBeGreaterThan(0);
    expect(docs.every((d) => d.get('rawPayload') === 'raw-1')).toBe(true);
  });

  it('lets QuotaExceededError through and stores nothing', async () => {
    const fetchAndStore = createRealtimeSalesFetcher({
      client: client(),
      store: new SalesRepository(db),
      ...POLL,
    });
    sb.misbehave('429', 'getReportDocument');
    const error = await rejection(
      fetchAndStore({ startMs: T0 - 6 * HOUR, endMs: T0, id: 'w', purpose: 'backfill' }),
    );
    expect(error).toBeInstanceOf(QuotaExceededError);
    expect(error).toMatchObject({ operation: 'getReportDocument' });
    expect(await salesDocs()).toHaveLength(0);
  });

  it('skips a window with no whole hour, and runs one report per marketplace', async () => {
    const DE = 'A1PA6795UKMFR9';
    const fetchAndStore = createRealtimeSalesFetcher({
      client: client({ marketplaceIds: [US, DE] }),
      store: new SalesRepository(db),
      ...POLL,
    });
    await fetchAndStore({
      startMs: T0 + 60_000,
      endMs: T0 + 50 * 60_000,
      id: 'w',
      purpose: 'backfill',
    });
    expect(requests).toEqual([]);

    await fetchAndStore({ startMs: T0 - 2 * HOUR, endMs: T0, id: 'w', purpose: 'backfill' });
    expect(sb.state().reportsCreated).toBe(2);
    const docs = await salesDocs();
    const byMarket = (m: string) => docs.filter((d) => d.get('marketplaceId') === m).length;
    expect(byMarket(US)).toBe(expectedRows(T0 - 2 * HOUR, T0, t).length);
    expect(byMarket(DE)).toBe(byMarket(US));
  });
});
