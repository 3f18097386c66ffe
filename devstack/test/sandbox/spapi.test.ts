import { gunzipSync, constants as zlibConstants } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { startSpApiSandbox } from '../../src/sandbox/spapi.ts';
import {
  SANDBOX_SALES_CYCLE_HOURS,
  sandboxAsins,
  sandboxSalesRow,
  sandboxSalesRows,
} from '../../src/sandbox/spapi-sales.ts';
import {
  LWA_TOKEN_PATH,
  REPORTS_API_PATH,
  SPAPI_SANDBOX_CREDENTIALS,
  SPAPI_SANDBOX_MARKETPLACE_ID,
  type SpApiSandbox,
  type SpApiSandboxOptions,
  VENDOR_REAL_TIME_SALES_REPORT,
} from '../../src/sandbox/spapi-types.ts';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 10, 12, 0, 0);
let sb: SpApiSandbox | undefined;
let t = T0;

afterEach(async () => {
  await sb?.stop();
  sb = undefined;
});

async function start(o: SpApiSandboxOptions = {}) {
  t = T0;
  sb = await startSpApiSandbox({ now: () => t, processingMs: 20_000, seed: 'test', ...o });
  return sb;
}

interface Reply {
  status: number;
  headers: Headers;
  bytes: Buffer;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: loosely typed response bodies in assertions
  json: any;
}

async function call(path: string, init: RequestInit = {}): Promise<Reply> {
  const res = await fetch(path.startsWith('http') ? path : `${sb?.url}${path}`, init);
  const bytes = Buffer.from(await res.arrayBuffer());
  const text = bytes.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, bytes, text, json };
}

function lwa(params: Record<string, string>) {
  return call(LWA_TOKEN_PATH, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' },
    body: new URLSearchParams(params).toString(),
  });
}

const grant = (over: Partial<Record<string, string>> = {}) =>
  ({
    grant_type: 'refresh_token',
    refresh_token: SPAPI_SANDBOX_CREDENTIALS.refreshToken,
    client_id: SPAPI_SANDBOX_CREDENTIALS.clientId,
    client_secret: SPAPI_SANDBOX_CREDENTIALS.clientSecret,
    ...over,
  }) as Record<string, string>;

async function token(): Promise<string> {
  const r = await lwa(grant());
  expect(r.status).toBe(200);
  return r.json.access_token;
}

const window = (startMs: number, endMs: number) => ({
  reportType: VENDOR_REAL_TIME_SALES_REPORT,
  dataStartTime: new Date(startMs).toISOString(),
  dataEndTime: new Date(endMs).toISOString(),
  marketplaceIds: [SPAPI_SANDBOX_MARKETPLACE_ID],
});

const createReport = (tok: string, body: unknown = window(T0 - 6 * HOUR, T0)) =>
  call(`${REPORTS_API_PATH}/reports`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-amz-access-token': tok },
    body: JSON.stringify(body),
  });
const getReport = (tok: string, id: string) =>
  call(`${REPORTS_API_PATH}/reports/${id}`, { headers: { 'x-amz-access-token': tok } });
const getDocument = (tok: string, id: string) =>
  call(`${REPORTS_API_PATH}/documents/${encodeURIComponent(id)}`, {
    headers: { 'x-amz-access-token': tok },
  });

const QUOTA_BODY = {
  errors: [
    {
      code: 'QuotaExceeded',
      message: 'You exceeded your quota for the requested resource.',
      details: '',
    },
  ],
};

/** Runs the flow to a document body (gunzipped, parsed). */
async function report(tok: string, startMs: number, endMs: number) {
  const created = await createReport(tok, window(startMs, endMs));
  t += 20_000;
  const done = await getReport(tok, created.json.reportId);
  expect(done.json.processingStatus).toBe('DONE');
  const doc = await getDocument(tok, done.json.reportDocumentId);
  const bytes = (await call(doc.json.url)).bytes;
  return JSON.parse(gunzipSync(bytes).toString('utf8'));
}

describe('SP-API sandbox: LWA', () => {
  it('exchanges a refresh token for a bearer access token valid an hour', async () => {
    await start();
    const r = await lwa(grant());
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      token_type: 'bearer',
      expires_in: 3600,
      refresh_token: SPAPI_SANDBOX_CREDENTIALS.refreshToken,
    });
    expect(r.json.access_token).toMatch(/^Atza\|/);
    const again = await lwa(grant());
    expect(again.json.access_token).not.toBe(r.json.access_token);
    expect(sb?.state()).toMatchObject({ tokensIssued: 2 });
    expect(sb?.state().operations.lwaToken.served).toBe(2);
  });

  it('answers 401 invalid_client for a wrong client and 400 invalid_grant for a wrong token', async () => {
    await start();
    for (const over of [{ client_id: 'amzn1.application-oa2-client.x' }, { client_secret: 'x' }]) {
      const r = await lwa(grant(over));
      expect(r.status).toBe(401);
      expect(r.json).toEqual({
        error: 'invalid_client',
        error_description: 'Client authentication failed',
      });
    }
    const badGrant = await lwa(grant({ refresh_token: 'Atzr|revoked' }));
    expect(badGrant.status).toBe(400);
    expect(badGrant.json.error).toBe('invalid_grant');
    expect(typeof badGrant.json.error_description).toBe('string');
    expect((await lwa(grant({ grant_type: 'client_credentials' }))).json.error).toBe(
      'unsupported_grant_type',
    );
    const missing = await lwa({ grant_type: 'refresh_token' });
    expect(missing.status).toBe(400);
    expect(missing.json.error).toBe('invalid_request');
    expect(sb?.state().tokensIssued).toBe(0);
  });

  it('honours configured credentials', async () => {
    await start({ clientId: 'cid', clientSecret: 'sec', refreshToken: 'Atzr|mine' });
    expect((await lwa(grant())).status).toBe(401);
    const r = await lwa({
      grant_type: 'refresh_token',
      refresh_token: 'Atzr|mine',
      client_id: 'cid',
      client_secret: 'sec',
    });
    expect(r.status).toBe(200);
  });
});

describe('SP-API sandbox: Reports API', () => {
  it('requires an issued, unexpired access token', async () => {
    await start();
    const denied = {
      errors: [
        { code: 'Unauthorized', message: 'Access to requested resource is denied.', details: '' },
      ],
    };
    const none = await call(`${REPORTS_API_PATH}/reports/1`);
    expect(none.status).toBe(403);
    expect(none.json).toEqual(denied);
    const forged = await createReport('Atza|forged');
    expect(forged.status).toBe(403);
    expect(forged.json).toEqual(denied);
    // Refused calls spend no quota.
    expect(sb?.state().buckets.createReport).toBe(15);

    const tok = await token();
    expect((await createReport(tok)).status).toBe(202);
    t += 3_600_000;
    const expired = await createReport(tok);
    expect(expired.status).toBe(403);
    expect(expired.json.errors[0].code).toBe('Unauthorized');
    expect(sb?.state().reportsCreated).toBe(1);
  });

  it('runs the flow: create, IN_QUEUE, IN_PROGRESS, DONE, document, gzipped hourly rows', async () => {
    await start();
    const tok = await token();
    const start0 = T0 - 6 * HOUR - 15 * 60_000; // 05:45: the 05:00 hour is not whole
    const end0 = T0 + 2 * HOUR; // the future hours have not happened yet
    const created = await createReport(tok, window(start0, end0));
    expect(created.status).toBe(202);
    expect(created.json).toEqual({ reportId: expect.any(String) });
    const id = created.json.reportId;

    const queued = await getReport(tok, id);
    expect(queued.status).toBe(200);
    expect(queued.json).toMatchObject({
      reportId: id,
      reportType: VENDOR_REAL_TIME_SALES_REPORT,
      processingStatus: 'IN_QUEUE',
      dataStartTime: new Date(start0).toISOString(),
      dataEndTime: new Date(end0).toISOString(),
      createdTime: new Date(T0).toISOString(),
      marketplaceIds: [SPAPI_SANDBOX_MARKETPLACE_ID],
    });
    expect(queued.json.reportDocumentId).toBeUndefined();
    expect(queued.json.processingEndTime).toBeUndefined();
    t += 10_000;
    expect((await getReport(tok, id)).json.processingStatus).toBe('IN_PROGRESS');
    t += 9_999;
    expect((await getReport(tok, id)).json.processingStatus).toBe('IN_PROGRESS');
    t += 1;
    const done = await getReport(tok, id);
    expect(done.json).toMatchObject({
      processingStatus: 'DONE',
      processingEndTime: new Date(T0 + 20_000).toISOString(),
      reportDocumentId: expect.any(String),
    });

    const doc = await getDocument(tok, done.json.reportDocumentId);
    expect(doc.status).toBe(200);
    expect(doc.json).toEqual({
      reportDocumentId: done.json.reportDocumentId,
      url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\//),
      compressionAlgorithm: 'GZIP',
    });
    const download = await call(doc.json.url);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-encoding')).toBeNull();
    expect(download.bytes.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    const body = JSON.parse(gunzipSync(download.bytes).toString('utf8'));
    expect(body.reportSpecification).toMatchObject({
      reportType: VENDOR_REAL_TIME_SALES_REPORT,
      marketplaceIds: [SPAPI_SANDBOX_MARKETPLACE_ID],
    });
    const rows = body.reportData as Array<Record<string, unknown>>;
    // Whole hours 06:00..11:00 only: not 05:00 (cut), not 12:00 and later (not over yet).
    const hours = [...new Set(rows.map((r) => r.startTime))].sort();
    expect(hours).toEqual(
      [6, 7, 8, 9, 10, 11].map((h) => `2026-01-10T${String(h).padStart(2, '0')}:00:00Z`),
    );
    const asins = sandboxAsins('test');
    expect(asins).toHaveLength(6);
    // One row per ASIN and hour, as the report lists them (zero rows included).
    expect(rows).toHaveLength(6 * 6);
    for (const row of rows) {
      expect(asins).toContain(row.asin);
      expect(Date.parse(row.endTime as string) - Date.parse(row.startTime as string)).toBe(HOUR);
      expect(Number.isInteger(row.orderedUnits)).toBe(true);
      // Revenue has the sign of the units: none without units, negative after cancellations.
      expect(Math.sign(row.orderedRevenue as number)).toBe(Math.sign(row.orderedUnits as number));
    }
    expect(rows.some((r) => (r.orderedUnits as number) > 0)).toBe(true);
    expect(sb?.state()).toMatchObject({
      reportsCreated: 1,
      operations: {
        createReport: { served: 1, rejected: 0 },
        getReport: { served: 4, rejected: 0 },
        getReportDocument: { served: 1, rejected: 0 },
        downloadDocument: { served: 1, rejected: 0 },
      },
    });

    // The presigned URL lives five minutes.
    t += 5 * 60_000 + 1;
    const late = await call(doc.json.url);
    expect(late.status).toBe(403);
    expect(late.text).toContain('AccessDenied');
  });

  it('generates the same rows for the same seed and hours, other rows for another seed', async () => {
    await start();
    const a = await report(await token(), T0 - 6 * HOUR, T0 - 3 * HOUR);
    const b = await report(await token(), T0 - 4 * HOUR, T0 - 2 * HOUR);
    const at = (rows: Array<{ startTime: string }>, hour: string) =>
      rows.filter((r) => r.startTime === hour);
    const overlap = `2026-01-10T08:00:00Z`;
    expect(at(a.reportData, overlap).length).toBeGreaterThan(0);
    expect(at(b.reportData, overlap)).toEqual(at(a.reportData, overlap));
    await sb?.stop();
    await start({ seed: 'other' });
    const c = await report(await token(), T0 - 6 * HOUR, T0 - 3 * HOUR);
    expect(c.reportData).not.toEqual(a.reportData);
  });

  it('has zero rows and negative ones (cancellations exceeding orders), deterministically', () => {
    const asins = sandboxAsins('test');
    // Any SANDBOX_SALES_CYCLE_HOURS whole hours hold, for every ASIN, one negative hour and one
    // with nothing sold.
    const rows = sandboxSalesRows('test', asins, T0 - 8 * HOUR, T0, T0);
    expect(SANDBOX_SALES_CYCLE_HOURS).toBe(8);
    for (const asin of asins) {
      const mine = rows.filter((r) => r.asin === asin);
      expect(mine).toHaveLength(8);
      const negative = mine.filter((r) => r.orderedUnits < 0);
      expect(negative).toHaveLength(1);
      expect(negative[0]!.orderedRevenue).toBeLessThan(0);
      expect(mine.filter((r) => r.orderedUnits === 0).length).toBeGreaterThanOrEqual(1);
    }
    for (const r of rows.filter((r) => r.orderedUnits === 0)) {
      expect(Object.is(r.orderedRevenue, 0)).toBe(true); // 0, never -0
    }
    // The same seed and hour, the same row.
    expect(sandboxSalesRow('test', asins[0]!, T0 - HOUR)).toEqual(
      sandboxSalesRow('test', asins[0]!, T0 - HOUR),
    );
    expect(sandboxSalesRows('test', asins, T0 - 8 * HOUR, T0, T0)).toEqual(rows);
  });

  it('ends CANCELLED when the window holds no data, with no document', async () => {
    await start();
    const tok = await token();
    const created = await createReport(tok, window(T0 + HOUR, T0 + 3 * HOUR));
    t += 20_000;
    const r = await getReport(tok, created.json.reportId);
    expect(r.json.processingStatus).toBe('CANCELLED');
    expect(r.json.processingEndTime).toBeDefined();
    expect(r.json.reportDocumentId).toBeUndefined();
  });

  it('rejects invalid input with 400 InvalidInput and unknown ids with 404', async () => {
    await start();
    const tok = await token();
    for (const body of [
      { ...window(T0 - HOUR, T0), reportType: 'GET_MERCHANT_LISTINGS_ALL_DATA' },
      { ...window(T0 - HOUR, T0), marketplaceIds: [] },
      { ...window(T0, T0 - HOUR) },
      { ...window(T0 - HOUR, T0), dataStartTime: 'yesterday' },
    ]) {
      const r = await createReport(tok, body);
      expect(r.status).toBe(400);
      expect(r.json.errors[0].code).toBe('InvalidInput');
    }
    expect((await getReport(tok, '404')).status).toBe(404);
    expect((await getDocument(tok, 'amzn1.spdoc.nope')).json.errors[0].code).toBe('NotFound');
    expect(sb?.state().reportsCreated).toBe(0);
  });
});

describe('SP-API sandbox: rate limits', () => {
  it('createReport: burst 15, the 16th is 429, one more after 60 s at 0.0167/s', async () => {
    await start();
    const tok = await token();
    for (let i = 0; i < 15; i++) {
      const r = await createReport(tok);
      expect(r.status).toBe(202);
      expect(r.headers.get('x-amzn-ratelimit-limit')).toBe('0.0167');
    }
    const refused = await createReport(tok);
    expect(refused.status).toBe(429);
    expect(refused.json).toEqual(QUOTA_BODY);
    expect(refused.headers.get('retry-after')).toBeNull();
    expect(refused.headers.get('x-amzn-ratelimit-limit')).toBeNull();

    t += 59_000;
    expect((await createReport(tok)).status).toBe(429);
    t += 1_000;
    expect((await createReport(tok)).status).toBe(202);
    expect((await createReport(tok)).status).toBe(429);
    expect(sb?.state()).toMatchObject({
      reportsCreated: 16,
      operations: { createReport: { served: 16, rejected: 3 } },
    });
  });

  it('getReport: burst 15 at 2/s, its own bucket', async () => {
    await start();
    const tok = await token();
    const id = (await createReport(tok)).json.reportId;
    for (let i = 0; i < 15; i++) {
      const r = await getReport(tok, id);
      expect(r.status).toBe(200);
      expect(r.headers.get('x-amzn-ratelimit-limit')).toBe('2');
    }
    const refused = await getReport(tok, id);
    expect(refused.status).toBe(429);
    expect(refused.json).toEqual(QUOTA_BODY);
    t += 499;
    expect((await getReport(tok, id)).status).toBe(429);
    t += 1;
    expect((await getReport(tok, id)).status).toBe(200);
    expect((await getReport(tok, id)).status).toBe(429);
    // The other operations' buckets are untouched.
    expect((await createReport(tok)).status).toBe(202);
  });

  it('getReportDocument: burst 15 at 0.0167/s', async () => {
    await start({ processingMs: 0 });
    const tok = await token();
    const id = (await createReport(tok, window(T0 - 3 * HOUR, T0))).json.reportId;
    const docId = (await getReport(tok, id)).json.reportDocumentId;
    for (let i = 0; i < 15; i++) {
      const r = await getDocument(tok, docId);
      expect(r.status).toBe(200);
      expect(r.headers.get('x-amzn-ratelimit-limit')).toBe('0.0167');
    }
    expect((await getDocument(tok, docId)).json).toEqual(QUOTA_BODY);
    t += 60_000;
    expect((await getDocument(tok, docId)).status).toBe(200);
    expect(sb?.state().operations.getReportDocument).toEqual({ served: 16, rejected: 1 });
  });

  it('takes configured rates and bursts', async () => {
    await start({ rateLimits: { createReport: { ratePerSecond: 0.5, burst: 2 } } });
    const tok = await token();
    expect((await createReport(tok)).headers.get('x-amzn-ratelimit-limit')).toBe('0.5');
    expect((await createReport(tok)).status).toBe(202);
    expect((await createReport(tok)).status).toBe(429);
    t += 2_000;
    expect((await createReport(tok)).status).toBe(202);
  });
});

describe('SP-API sandbox: misbehaviour', () => {
  it("'429' for one operation, then for all", async () => {
    await start({ processingMs: 0 });
    const tok = await token();
    sb?.misbehave('429', 'createReport');
    const r = await createReport(tok);
    expect(r.status).toBe(429);
    expect(r.json).toEqual(QUOTA_BODY);
    expect(r.headers.get('retry-after')).toBeNull();
    expect(sb?.state().buckets.createReport).toBe(15);
    expect((await getReport(tok, '1')).status).toBe(404);

    sb?.misbehave('none', 'createReport');
    const id = (await createReport(tok, window(T0 - 2 * HOUR, T0))).json.reportId;
    const docId = (await getReport(tok, id)).json.reportDocumentId;
    const url = (await getDocument(tok, docId)).json.url;
    // S3 throttles the presigned download with 503 SlowDown (XML), never 429.
    sb?.misbehave('429', 'downloadDocument');
    const slowDown = await call(url);
    expect(slowDown.status).toBe(503);
    expect(slowDown.headers.get('content-type')).toBe('application/xml');
    expect(slowDown.text).toContain('<Code>SlowDown</Code>');
    expect(slowDown.text).toContain('<Message>Please reduce your request rate.</Message>');
    expect((await getDocument(tok, docId)).status).toBe(200);

    // LWA throttles with 429 and an RFC 6749 body; `slow_down` is no LWA error.
    sb?.misbehave('429');
    const lwaThrottled = await lwa(grant());
    expect(lwaThrottled.status).toBe(429);
    expect(lwaThrottled.json).toEqual({
      error_description: expect.any(String),
      error: 'invalid_request',
    });
    expect((await getReport(tok, id)).status).toBe(429);
    expect((await getDocument(tok, docId)).status).toBe(429);
    expect(sb?.state().operations).toMatchObject({
      createReport: { rejected: 1 },
      getReport: { rejected: 1 },
      getReportDocument: { rejected: 1 },
      downloadDocument: { rejected: 1 },
      lwaToken: { rejected: 1 },
    });
    sb?.misbehave('none');
    expect((await getReport(tok, id)).status).toBe(200);
  });

  it("'5xx' answers 500 in each API's error format", async () => {
    await start({ processingMs: 0 });
    const tok = await token();
    sb?.misbehave('5xx', 'getReport');
    const r = await getReport(tok, '1');
    expect(r.status).toBe(500);
    expect(r.json.errors[0].code).toBe('InternalFailure');
    const id = (await createReport(tok, window(T0 - 2 * HOUR, T0))).json.reportId;
    sb?.misbehave('none', 'getReport');
    const docId = (await getReport(tok, id)).json.reportDocumentId;
    const url = (await getDocument(tok, docId)).json.url;
    sb?.misbehave('5xx');
    const l = await lwa(grant());
    expect(l.status).toBe(500);
    expect(l.json.error).toBe('server_error');
    const d = await call(url);
    expect(d.status).toBe(500);
    expect(d.text).toContain('<Code>InternalError</Code>');
    // Faults are not throttles.
    expect(sb?.state().operations.downloadDocument.rejected).toBe(0);
    expect(sb?.state().operations.lwaToken.rejected).toBe(0);
  });

  it("'slow' waits slowMs on the injected sleep, then answers", async () => {
    const slept: number[] = [];
    await start({
      slowMs: 4_000,
      sleep: async (ms) => {
        slept.push(ms);
      },
    });
    const tok = await token();
    sb?.misbehave('slow', 'createReport');
    expect((await createReport(tok)).status).toBe(202);
    expect(slept).toEqual([4_000]);
    await getReport(tok, '1');
    expect(slept).toEqual([4_000]);
  });

  it("'malformed' answers JSON that does not parse and gzip that does not inflate", async () => {
    await start({ processingMs: 0 });
    const tok = await token();
    sb?.misbehave('malformed', 'createReport');
    const bad = await createReport(tok, window(T0 - 2 * HOUR, T0));
    expect(bad.status).toBe(202);
    expect(bad.text.length).toBeGreaterThan(0);
    expect(bad.json).toBeUndefined();
    sb?.misbehave('none');

    const id = (await createReport(tok, window(T0 - 2 * HOUR, T0))).json.reportId;
    const docId = (await getReport(tok, id)).json.reportDocumentId;
    const url = (await getDocument(tok, docId)).json.url;
    sb?.misbehave('malformed', 'downloadDocument');
    const gz = await call(url);
    expect(gz.status).toBe(200);
    expect(gz.bytes.length).toBeGreaterThan(2);
    expect(() => gunzipSync(gz.bytes)).toThrow();

    sb?.misbehave('malformed');
    expect((await lwa(grant())).json).toBeUndefined();
  });

  it("'stuck' reports never end; 'huge' and 'bomb' answers are far larger than they look", async () => {
    const MIB = 1024 * 1024;
    await start({ processingMs: 0, hugeBytes: 3 * MIB });
    const tok = await token();
    sb?.misbehave('stuck');
    const stuck = (await createReport(tok, window(T0 - 2 * HOUR, T0))).json.reportId;
    t += 30 * 60_000; // long past any processing time, within the token's hour
    expect((await getReport(tok, stuck)).json.processingStatus).toBe('IN_PROGRESS');
    sb?.misbehave('none');

    const id = (await createReport(tok, window(T0 - 12 * HOUR, T0 - 2 * HOUR))).json.reportId;
    const docId = (await getReport(tok, id)).json.reportDocumentId;
    const url = (await getDocument(tok, docId)).json.url;
    sb?.misbehave('bomb', 'downloadDocument');
    const bomb = await call(url);
    expect(bomb.bytes.length).toBeLessThan(10 * 1024);
    const inflated = gunzipSync(bomb.bytes).toString('utf8');
    expect(inflated.length).toBe(3 * MIB);
    expect(JSON.parse(inflated)).toMatchObject({ reportData: [] }); // valid JSON, all of it
    sb?.misbehave('huge', 'downloadDocument');
    const huge = await call(url);
    expect(huge.headers.get('content-length')).toBeNull();
    expect(huge.bytes.length).toBeGreaterThanOrEqual(3 * MIB);
    // A valid gzip stream (read as far as it came), of incompressible data after the head.
    const opening = gunzipSync(huge.bytes.subarray(0, 64 * 1024), {
      finishFlush: zlibConstants.Z_SYNC_FLUSH,
    });
    expect(opening.toString('latin1')).toMatch(/^\{"reportSpecification"/);

    sb?.misbehave('huge', 'getReport');
    const report = await getReport(tok, id);
    expect(report.text.length).toBe(3 * MIB);
    sb?.misbehave('bomb', 'getReport');
    const encoded = await getReport(tok, id); // fetch undoes the Content-Encoding
    expect(encoded.headers.get('content-encoding')).toBe('gzip');
    expect(encoded.text.length).toBe(3 * MIB);
  });

  it("'fatal' and 'cancelled' end the reports requested meanwhile", async () => {
    await start();
    const tok = await token();
    const w = window(T0 - 6 * HOUR, T0);
    sb?.misbehave('fatal');
    const fatal = (await createReport(tok, w)).json.reportId;
    sb?.misbehave('cancelled');
    const cancelled = (await createReport(tok, w)).json.reportId;
    sb?.misbehave('none');
    const fine = (await createReport(tok, w)).json.reportId;
    expect((await getReport(tok, fatal)).json.processingStatus).toBe('IN_QUEUE');
    t += 20_000;
    const f = await getReport(tok, fatal);
    expect(f.json.processingStatus).toBe('FATAL');
    expect(f.json.reportDocumentId).toBeUndefined();
    const c = await getReport(tok, cancelled);
    expect(c.json.processingStatus).toBe('CANCELLED');
    expect(c.json.reportDocumentId).toBeUndefined();
    expect((await getReport(tok, fine)).json.processingStatus).toBe('DONE');
    expect(sb?.state().reportOutcome).toBe('none');
  });
});
