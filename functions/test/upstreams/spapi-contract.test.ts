import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSpApiSandbox } from '../../../devstack/src/sandbox/spapi.ts';
import { sandboxAsins } from '../../../devstack/src/sandbox/spapi-sales.ts';
import {
  LWA_TOKEN_PATH,
  REPORTS_API_PATH,
  SPAPI_SANDBOX_CREDENTIALS,
  SPAPI_SANDBOX_MARKETPLACE_ID,
  type SpApiOperation,
  type SpApiSandbox,
  VENDOR_REAL_TIME_SALES_REPORT,
} from '../../../devstack/src/sandbox/spapi-types.ts';
import { SpApiReportsClient } from '../../src/adapters/upstreams/spapi-reports';
import { salesReportSchema, salesRowsFromReport } from '../../src/core/upstreams/sales';
import { quietLogger } from '../support/quiet-logger';

/**
 * The SP-API side of "upstreams true to the real contracts": every request the client sends
 * and every answer the sandbox gives are checked with a JSON-schema validator (Ajv) against
 * Amazon's own published models, not against what either side believes:
 *
 * - `reports_2021-06-30.json`, the Reports API 2021-06-30 model (Swagger 2.0;
 *   amzn/selling-partner-api-models, models/reports-api-model/reports_2021-06-30.json). Used:
 *   the operations `createReport` (POST /reports/2021-06-30/reports), `getReport`
 *   (GET /reports/2021-06-30/reports/{reportId}) and `getReportDocument`
 *   (GET /reports/2021-06-30/documents/{reportDocumentId}): their parameters, `consumes`,
 *   `produces`, declared statuses and headers; and the definitions
 *   `#/definitions/CreateReportSpecification` (createReport's body, with
 *   `#/definitions/ReportOptions`), `#/definitions/CreateReportResponse` (202),
 *   `#/definitions/Report` (getReport 200), `#/definitions/ReportDocument`
 *   (getReportDocument 200) and `#/definitions/ErrorList` / `#/definitions/Error` (every error
 *   status: 400, 401, 403, 404, 415, 429, 500, 503).
 * - `vendorRealTimeSalesReport.json`, the GET_VENDOR_REAL_TIME_SALES_REPORT document (JSON
 *   Schema draft-07; amzn/selling-partner-api-models, schemas/reports/), with its
 *   `#/definitions/reportData` row: every document the sandbox serves.
 *
 * Both files are copied unmodified into refs/ beside this test (see its PROVENANCE.txt), or read
 * from $TOLLGATE_CONFORMANCE_REFS. The Swagger
 * model's definitions become one JSON Schema document (modelSchemas) whose `#/definitions/...`
 * refs Ajv resolves. Schemas are applied closed: an object admits only the properties the
 * model names, so a field either side invented fails too.
 *
 * Outside those models: LWA (the token endpoint: SP-API "Connecting to the Selling Partner API",
 * step 1; RFC 6749 §5.1/§5.2 bodies) and the presigned S3 download (S3 API Reference, "Error
 * responses": XML `<Error>`, SlowDown is 503) are checked against schemas and tables written
 * here from those documents. The sandbox's hostile modes ('malformed', 'huge', 'bomb') break
 * the contract on purpose and are left out.
 */

quietLogger();

// --- the references ------------------------------------------------------------------------

const REFS_DIR = process.env.TOLLGATE_CONFORMANCE_REFS ?? join(__dirname, 'refs');
const REPORTS_MODEL_FILE = 'reports_2021-06-30.json';
const SALES_SCHEMA_FILE = 'vendorRealTimeSalesReport.json';

function readRef(name: string): Record<string, unknown> {
  const path = join(REFS_DIR, name);
  if (!existsSync(path)) {
    throw new Error(
      `conformance reference ${path} is missing: the official models are read from functions/test/upstreams/refs (or $TOLLGATE_CONFORMANCE_REFS)`,
    );
  }
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

// biome-ignore lint/suspicious/noExplicitAny: the Swagger model is walked as plain JSON
type Json = any;

/** Swagger 2.0's own schema keywords, not JSON Schema's (OpenAPI 2.0 "Schema Object"). */
const SWAGGER_ONLY = new Set(['discriminator', 'readOnly', 'xml', 'externalDocs', 'example']);
/** Keywords whose value maps names to schemas (not keywords themselves). */
const NAME_MAPS = new Set(['properties', 'definitions', 'patternProperties']);

/**
 * A Swagger 2.0 (or draft-07) schema as the JSON Schema Ajv compiles: Swagger's own keywords
 * and vendor extensions (`x-docgen-enum-table-extension`, ...) dropped; `$ref`s left as they are
 * (`#/definitions/Name`, resolved in the document that holds the definitions). `closed` gives
 * every object schema that lists its properties `additionalProperties: false` (unless it says
 * otherwise): a property the model does not name is then an error.
 */
function toJsonSchema(node: Json, closed: boolean): Json {
  if (Array.isArray(node)) return node.map((n) => toJsonSchema(n, closed));
  if (node === null || typeof node !== 'object') return node;
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith('x-') || SWAGGER_ONLY.has(key)) continue;
    out[key] = NAME_MAPS.has(key)
      ? Object.fromEntries(
          Object.entries(value as object).map(([name, s]) => [name, toJsonSchema(s, closed)]),
        )
      : toJsonSchema(value, closed);
  }
  if (closed && out.properties && out.additionalProperties === undefined) {
    out.additionalProperties = false;
  }
  return out;
}

interface Operation {
  operationId: string;
  method: string;
  template: string;
  pattern: RegExp;
  pathParams: string[];
  op: Json;
}

interface Model {
  raw: Json;
  ajv: Ajv;
  operations: Operation[];
  /** A definition of the model (`#/definitions/<name>`), closed. */
  definition(name: string): ValidateFunction;
  /** The JSON Schema of a Swagger schema object of the model (a `$ref` or inline), closed. */
  schema(swagger: Json): ValidateFunction;
}

const MODEL_ID = 'https://tollgate.test/refs/reports_2021-06-30.json';

function loadModel(): Model {
  const raw = readRef(REPORTS_MODEL_FILE) as Json;
  const ajv = new Ajv({ allErrors: true, strict: true });
  addFormats(ajv);
  // The Swagger definitions as one JSON Schema document: `#/definitions/...` resolves in it.
  ajv.addSchema({ $id: MODEL_ID, definitions: toJsonSchema(raw.definitions, true) });
  const operations: Operation[] = [];
  for (const [template, item] of Object.entries(raw.paths as Record<string, Json>)) {
    for (const [method, op] of Object.entries(item as Record<string, Json>)) {
      if (method === 'parameters') continue;
      const pathParams: string[] = [];
      const source = template.replace(/\{([^}]+)\}/g, (_m, name: string) => {
        pathParams.push(name);
        return '([^/]+)';
      });
      operations.push({
        operationId: op.operationId,
        method: method.toUpperCase(),
        template,
        pattern: new RegExp(`^${source}$`),
        pathParams,
        op,
      });
    }
  }
  const compiled = new Map<string, ValidateFunction>();
  const schema = (swagger: Json): ValidateFunction => {
    const key = JSON.stringify(swagger);
    let fn = compiled.get(key);
    if (!fn) {
      const converted = toJsonSchema(swagger, true);
      // A `$ref` of the model resolves against the model's document.
      fn = ajv.compile(
        typeof converted.$ref === 'string' && converted.$ref.startsWith('#/')
          ? { $ref: `${MODEL_ID}${converted.$ref}` }
          : converted,
      );
      compiled.set(key, fn);
    }
    return fn;
  };
  return {
    raw,
    ajv,
    operations,
    schema,
    definition: (name) => schema({ $ref: `#/definitions/${name}` }),
  };
}

/** The vendor real-time sales report schema (draft-07), closed as the model is. */
function loadSalesSchema(): { raw: Json; validate: ValidateFunction } {
  const raw = readRef(SALES_SCHEMA_FILE) as Json;
  const ajv = new Ajv({ allErrors: true, strict: true });
  addFormats(ajv);
  const { $schema: _metaSchema, ...schema } = toJsonSchema(raw, true);
  return { raw, validate: ajv.compile(schema) };
}

const errorsOf = (fn: ValidateFunction) =>
  (fn.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message}`).join('; ');

function expectValid(fn: ValidateFunction, value: unknown, what: string) {
  const ok = fn(value);
  expect(ok, `${what}: ${errorsOf(fn)}\n${JSON.stringify(value).slice(0, 400)}`).toBe(true);
}

// --- traffic -------------------------------------------------------------------------------

interface Exchange {
  method: string;
  url: URL;
  requestHeaders: Headers;
  requestBody: string | undefined;
  status: number;
  responseHeaders: Headers;
  responseBytes: Buffer;
}

let sb: SpApiSandbox;
let t: number;
let traffic: Exchange[];
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 10, 12, 0, 0);
const US = SPAPI_SANDBOX_MARKETPLACE_ID;
const DE = 'A1PA6795UKMFR9';
const POLL = { pollIntervalMs: 30_000, maxPolls: 10 };

/** fetch, with every exchange kept whole (the sandbox's answers here are small). */
const recording: typeof fetch = async (input, init) => {
  const request = new Request(input, init);
  const requestBody = init?.body === undefined ? undefined : String(init.body);
  const response = await fetch(request);
  const responseBytes = Buffer.from(await response.clone().arrayBuffer());
  traffic.push({
    method: request.method,
    url: new URL(request.url),
    requestHeaders: request.headers,
    requestBody,
    status: response.status,
    responseHeaders: response.headers,
    responseBytes,
  });
  return response;
};

function client(marketplaceIds: string[] = [US]) {
  return new SpApiReportsClient({
    baseUrl: sb.url,
    lwaUrl: `${sb.url}${LWA_TOKEN_PATH}`,
    credentials: { ...SPAPI_SANDBOX_CREDENTIALS },
    marketplaceIds,
    fetch: recording,
    now: () => t,
    sleep: async (ms) => {
      t += ms;
    },
    random: () => 0.5,
    retries: 0,
  });
}

async function settle(promise: Promise<unknown>): Promise<void> {
  await promise.then(
    () => undefined,
    () => undefined,
  );
}

type Kind = 'model' | 'lwa' | 'download';
function kindOf(e: Exchange): Kind | undefined {
  if (e.url.pathname === LWA_TOKEN_PATH) return 'lwa';
  if (e.url.pathname.startsWith('/report-documents/')) return 'download';
  if (e.url.pathname.startsWith(`${REPORTS_API_PATH}/`)) return 'model';
  return undefined;
}

// --- checks --------------------------------------------------------------------------------

let model: Model;
let sales: { raw: Json; validate: ValidateFunction };

beforeAll(() => {
  model = loadModel();
  sales = loadSalesSchema();
});

beforeEach(async () => {
  t = T0;
  traffic = [];
  sb = await startSpApiSandbox({ now: () => t, seed: 'contract', processingMs: 60_000 });
});
afterEach(() => sb.stop());

function operationOf(e: Exchange): { operation: Operation; params: Record<string, string> } {
  const found = model.operations.filter(
    (o) => o.method === e.method && o.pattern.test(e.url.pathname),
  );
  expect(
    found.map((o) => o.operationId),
    `${e.method} ${e.url.pathname} is one operation of ${REPORTS_MODEL_FILE}`,
  ).toHaveLength(1);
  const operation = found[0]!;
  const match = operation.pattern.exec(e.url.pathname)!;
  const params = Object.fromEntries(
    operation.pathParams.map((name, i) => [name, decodeURIComponent(match[i + 1]!)]),
  );
  return { operation, params };
}

/** A parameter's value against its Swagger type (path and query parameters are not schemas). */
function parameterSchema(p: Json): Json {
  const { name: _n, in: _i, required: _r, description: _d, collectionFormat: _c, ...rest } = p;
  return rest;
}

/** One request of the client: an operation of the model, its parameters, headers and body. */
function checkRequest(e: Exchange): Operation {
  const { operation, params } = operationOf(e);
  const declared = (operation.op.parameters ?? []) as Json[];
  for (const p of declared.filter((p) => p.in === 'path')) {
    expect(params[p.name], `path parameter ${p.name}`).toBeTruthy();
    expectValid(model.schema(parameterSchema(p)), params[p.name], `path ${p.name}`);
  }
  const query = [...e.url.searchParams.keys()];
  const queryParams = declared.filter((p) => p.in === 'query');
  for (const name of query) {
    const p = queryParams.find((q) => q.name === name);
    expect(p, `query parameter ${name} of ${operation.operationId}`).toBeDefined();
  }
  for (const p of queryParams.filter((q) => q.required)) expect(query).toContain(p.name);
  const body = declared.find((p) => p.in === 'body');
  if (body) {
    expect(e.requestBody, `${operation.operationId} body`).toBeDefined();
    const contentType = e.requestHeaders.get('content-type') ?? '';
    expect(model.raw.consumes).toContain(contentType.split(';')[0]!.trim());
    expectValid(model.schema(body.schema), JSON.parse(e.requestBody!), operation.operationId);
  } else {
    expect(e.requestBody ?? '', `${operation.operationId} has no body`).toBe('');
  }
  const accept = e.requestHeaders.get('accept');
  if (accept) expect(model.raw.produces).toContain(accept);
  // SP-API's authorization (not in the model: "Connecting to the Selling Partner API", step 3).
  expect(e.requestHeaders.get('x-amz-access-token')).toMatch(/^Atza\|/);
  return operation;
}

/** One answer of the sandbox: a status the operation declares, its schema, its headers. */
function checkResponse(e: Exchange): { operationId: string; status: number } {
  const { operation } = operationOf(e);
  const responses = operation.op.responses as Record<string, Json>;
  const declared = responses[String(e.status)];
  expect(
    declared,
    `${operation.operationId} answers ${e.status}: one of ${Object.keys(responses).join(', ')}`,
  ).toBeDefined();
  expect(model.raw.produces).toContain(
    (e.responseHeaders.get('content-type') ?? '').split(';')[0]!.trim(),
  );
  const body = JSON.parse(e.responseBytes.toString('utf8'));
  expectValid(model.schema(declared.schema), body, `${operation.operationId} ${e.status}`);
  // Every x-amzn header is one the model declares for that status.
  const allowed = Object.keys(declared.headers ?? {}).map((h) => h.toLowerCase());
  for (const [name] of e.responseHeaders) {
    if (name.startsWith('x-amzn-')) expect(allowed, `${name} on ${e.status}`).toContain(name);
  }
  return { operationId: operation.operationId, status: e.status };
}

/** The LWA token request: SP-API "Connecting to the Selling Partner API", step 1. */
function checkLwaRequest(e: Exchange) {
  expect(e.method).toBe('POST');
  expect(e.requestHeaders.get('content-type')).toMatch(/^application\/x-www-form-urlencoded/);
  const form = new URLSearchParams(e.requestBody);
  expect([...form.keys()].sort()).toEqual(
    ['client_id', 'client_secret', 'grant_type', 'refresh_token'].sort(),
  );
  expect(form.get('grant_type')).toBe('refresh_token');
}

/** LWA's answers: RFC 6749 §5.1 (token) and §5.2 (error), as LWA writes them. */
const LWA_TOKEN_SCHEMA = {
  type: 'object',
  required: ['access_token', 'token_type', 'expires_in'],
  properties: {
    access_token: { type: 'string', pattern: '^Atza\\|' },
    token_type: { const: 'bearer' },
    expires_in: { type: 'integer', minimum: 1 },
    refresh_token: { type: 'string', pattern: '^Atzr\\|' },
  },
  additionalProperties: false,
};
const LWA_ERROR_SCHEMA = {
  type: 'object',
  required: ['error'],
  properties: {
    // RFC 6749 §5.2's codes, and the server's own (server_error, temporarily_unavailable) as
    // Amazon's SP-API auth library (LWAExceptionErrorCode) knows them. No `slow_down`: that is
    // the device flow's (RFC 8628 §3.5), not the refresh_token grant's.
    error: {
      enum: [
        'invalid_request',
        'invalid_client',
        'invalid_grant',
        'unauthorized_client',
        'unsupported_grant_type',
        'invalid_scope',
        'server_error',
        'temporarily_unavailable',
      ],
    },
    error_description: { type: 'string' },
  },
  additionalProperties: false,
};
const lwaAjv = new Ajv({ allErrors: true, strict: true });
const lwaToken = lwaAjv.compile(LWA_TOKEN_SCHEMA);
const lwaError = lwaAjv.compile(LWA_ERROR_SCHEMA);

function checkLwaResponse(e: Exchange) {
  expect(e.responseHeaders.get('content-type')).toMatch(/^application\/json/);
  const body = JSON.parse(e.responseBytes.toString('utf8'));
  if (e.status === 200) return expectValid(lwaToken, body, 'LWA token');
  expectValid(lwaError, body, `LWA ${e.status}`);
  // The status carries the meaning; the code must agree with it.
  const expected: Record<number, string[]> = {
    400: ['invalid_request', 'invalid_grant', 'unsupported_grant_type', 'invalid_scope'],
    401: ['invalid_client', 'unauthorized_client'],
    429: ['invalid_request'],
    500: ['server_error'],
    503: ['temporarily_unavailable'],
  };
  expect(expected[e.status], `LWA status ${e.status}`).toBeDefined();
  expect(expected[e.status]).toContain(body.error);
}

/**
 * S3's error answers for a GET of a presigned URL (S3 API Reference, "Error responses"): the
 * code and its status.
 */
const S3_ERROR_STATUS: Record<string, number> = {
  AccessDenied: 403,
  NoSuchKey: 404,
  InternalError: 500,
  ServiceUnavailable: 503,
  SlowDown: 503,
};

function checkDownload(e: Exchange, documentUrl?: string) {
  expect(e.method).toBe('GET');
  // The presigned URL as given, and no LWA token sent to S3.
  if (documentUrl) expect(e.url.href).toBe(documentUrl);
  expect(e.requestHeaders.get('x-amz-access-token')).toBeNull();
  if (e.status === 200) {
    expect(e.responseBytes.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    const document = JSON.parse(gunzipSync(e.responseBytes).toString('utf8'));
    expectValid(sales.validate, document, SALES_SCHEMA_FILE);
    return document;
  }
  expect(e.responseHeaders.get('content-type')).toBe('application/xml');
  const text = e.responseBytes.toString('utf8');
  expect(text).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error>/);
  const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? '';
  expect(/<Message>[^<]+<\/Message>/.test(text)).toBe(true);
  expect(S3_ERROR_STATUS[code], `S3 error code ${code}`).toBe(e.status);
  return undefined;
}

// --- tests ---------------------------------------------------------------------------------

describe(`SP-API contract: the official models (${REPORTS_MODEL_FILE}, ${SALES_SCHEMA_FILE})`, () => {
  it("converts the Swagger definitions to JSON Schema: the model's own examples pass", () => {
    // The model's x-amzn-api-sandbox examples of the three operations used.
    let checked = 0;
    for (const { operationId, op } of model.operations) {
      if (!['createReport', 'getReport', 'getReportDocument'].includes(operationId)) continue;
      const body = (op.parameters as Json[]).find((p) => p.in === 'body');
      for (const [status, response] of Object.entries(op.responses as Record<string, Json>)) {
        for (const example of response['x-amzn-api-sandbox']?.static ?? []) {
          if (example.response !== undefined) {
            expectValid(
              model.schema(response.schema),
              example.response,
              `${operationId} ${status}`,
            );
            checked++;
          }
          const requestBody = example.request?.parameters?.body?.value;
          if (body && requestBody && status.startsWith('2')) {
            expectValid(model.schema(body.schema), requestBody, `${operationId} request`);
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(6);
    // And the validator is not lenient: a missing required field, a wrong enum, an invented field.
    const report = model.definition('Report');
    const done = {
      reportId: '1',
      reportType: VENDOR_REAL_TIME_SALES_REPORT,
      processingStatus: 'DONE',
      createdTime: '2026-01-10T12:00:00Z',
    };
    expect(report(done)).toBe(true);
    expect(report({ ...done, processingStatus: 'FINISHED' })).toBe(false);
    expect(report({ ...done, createdTime: 'yesterday' })).toBe(false);
    expect(report({ ...done, createdTime: undefined })).toBe(false);
    expect(report({ ...done, documentUrl: 'https://x' })).toBe(false);
    const spec = model.definition('CreateReportSpecification');
    expect(spec({ reportType: 'X', marketplaceIds: [] })).toBe(false); // minItems 1
    expect(spec({ reportType: 'X', marketplaceIds: Array(26).fill(US) })).toBe(false); // max 25
    expect(model.definition('ErrorList')({ errors: [{ code: 'QuotaExceeded' }] })).toBe(false);
  });

  it("takes the sales report schema's example, zero rows included, and negative rows", () => {
    const [example] = sales.raw.examples as Json[];
    expectValid(sales.validate, example, `${SALES_SCHEMA_FILE} example`);
    expect(example.reportData.some((r: Json) => r.orderedUnits === 0)).toBe(true);
    // The client reads the official example as it is: its zero rows are rows.
    const rows = salesRowsFromReport(salesReportSchema.parse(example));
    expect(rows).toHaveLength(example.reportData.length);
    expect(rows.filter((r) => r.orderedUnits === 0)).toHaveLength(2);
    // "This number can be negative if there are more cancellations than orders" (-12 is the
    // schema's own example value).
    const negative = structuredClone(example);
    negative.reportData[0].orderedUnits = -12;
    negative.reportData[0].orderedRevenue = -2005.68;
    expectValid(sales.validate, negative, 'a negative row');
    expect(salesRowsFromReport(salesReportSchema.parse(negative))[0]).toMatchObject({
      orderedUnits: -12,
      orderedRevenue: -2005.68,
    });
    // Not lenient either: fractional units, a missing field, an invented one.
    for (const change of [
      { orderedUnits: 1.5 },
      { orderedRevenue: undefined },
      { orderedUnitsNet: 1 },
    ]) {
      const bad = structuredClone(example);
      bad.reportData[0] = JSON.parse(JSON.stringify({ ...bad.reportData[0], ...change }));
      expect(sales.validate(bad)).toBe(false);
    }
  });
});

describe('SP-API contract: what the client sends', () => {
  it('every request of the flow is an operation of the model: method, path, query, body', async () => {
    const result = await client().fetchReport(
      VENDOR_REAL_TIME_SALES_REPORT,
      T0 - 6 * HOUR,
      T0,
      POLL,
    );
    expect(result.processingStatus).toBe('DONE');
    // Two marketplaces in one report, and a report over one hour.
    await client([US, DE]).fetchReport(VENDOR_REAL_TIME_SALES_REPORT, T0 - 2 * HOUR, T0, POLL);
    await client().createReport(VENDOR_REAL_TIME_SALES_REPORT, T0 - HOUR, T0);

    const seen: string[] = [];
    let documentUrl: string | undefined;
    for (const e of traffic) {
      const kind = kindOf(e);
      expect(kind, `${e.method} ${e.url.pathname}`).toBeDefined();
      if (kind === 'lwa') {
        checkLwaRequest(e);
        seen.push('lwaToken');
      } else if (kind === 'download') {
        checkDownload(e, documentUrl);
        seen.push('downloadDocument');
      } else {
        const operation = checkRequest(e);
        seen.push(operation.operationId);
        if (operation.operationId === 'getReportDocument' && e.status === 200) {
          documentUrl = JSON.parse(e.responseBytes.toString('utf8')).url;
        }
        if (operation.operationId === 'createReport') {
          // "The value must be prior to or equal to the current date and time."
          const body = JSON.parse(e.requestBody!);
          expect(body.reportType).toBe(VENDOR_REAL_TIME_SALES_REPORT);
          expect(Date.parse(body.dataStartTime)).toBeLessThan(Date.parse(body.dataEndTime));
          expect(Date.parse(body.dataEndTime)).toBeLessThanOrEqual(t);
        }
      }
    }
    expect(new Set(seen)).toEqual(
      new Set(['lwaToken', 'createReport', 'getReport', 'getReportDocument', 'downloadDocument']),
    );
    const bodies = traffic
      .filter((e) => e.method === 'POST' && kindOf(e) === 'model')
      .map((e) => JSON.parse(e.requestBody!).marketplaceIds);
    expect(bodies).toEqual([[US], [US, DE], [US]]);
  });

  it('sends ids as one percent-encoded path segment', async () => {
    const c = client();
    await settle(c.getReport('50000000001/../x'));
    await settle(c.getReportDocument('amzn1.spdoc.1.4.na.a b'));
    for (const e of traffic.filter((x) => kindOf(x) === 'model')) checkRequest(e);
    const paths = traffic.filter((x) => kindOf(x) === 'model').map((x) => x.url.pathname);
    expect(paths).toEqual([
      `${REPORTS_API_PATH}/reports/50000000001%2F..%2Fx`,
      `${REPORTS_API_PATH}/documents/amzn1.spdoc.1.4.na.a%20b`,
    ]);
  });
});

/** A refresh-token grant to LWA, as the client sends it (fields in `over` replace its own). */
function lwaForm(over: Record<string, string>): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: SPAPI_SANDBOX_CREDENTIALS.refreshToken,
      client_id: SPAPI_SANDBOX_CREDENTIALS.clientId,
      client_secret: SPAPI_SANDBOX_CREDENTIALS.clientSecret,
      ...over,
    }).toString(),
  };
}

describe('SP-API contract: what the sandbox answers', () => {
  /** Direct calls (with the client's token), recorded like the client's. */
  async function direct(path: string, init: RequestInit = {}) {
    return recording(`${sb.url}${path}`, init);
  }
  async function token(): Promise<string> {
    const r = await direct(LWA_TOKEN_PATH, lwaForm({}));
    return ((await r.json()) as { access_token: string }).access_token;
  }
  const authorized = (tok: string, init: RequestInit = {}): RequestInit => ({
    ...init,
    headers: { 'content-type': 'application/json', 'x-amz-access-token': tok },
  });
  const spec = (over: Record<string, unknown> = {}) =>
    JSON.stringify({
      reportType: VENDOR_REAL_TIME_SALES_REPORT,
      dataStartTime: new Date(T0 - 3 * HOUR).toISOString(),
      dataEndTime: new Date(T0).toISOString(),
      marketplaceIds: [US],
      ...over,
    });

  it("every answer of the Reports API, refusals included, is the model's: status, body, x-amzn headers", async () => {
    const c = client();
    // The flow: 202, IN_QUEUE, IN_PROGRESS, DONE, the document.
    await c.fetchReport(VENDOR_REAL_TIME_SALES_REPORT, T0 - 6 * HOUR, T0, POLL);
    // FATAL, CANCELLED (no data), and one that never ends.
    for (const outcome of ['fatal', 'cancelled', 'stuck'] as const) {
      sb.misbehave(outcome);
      await settle(
        c.fetchReport(VENDOR_REAL_TIME_SALES_REPORT, T0 - 2 * HOUR, T0, {
          ...POLL,
          maxPolls: 3,
        }),
      );
      sb.misbehave('none');
    }
    await settle(c.fetchReport(VENDOR_REAL_TIME_SALES_REPORT, T0 + HOUR, T0 + 2 * HOUR, POLL));

    const tok = await token();
    // 400 InvalidInput, each way the sandbox refuses a body.
    for (const body of [
      spec({ reportType: 'GET_MERCHANT_LISTINGS_ALL_DATA' }),
      spec({ marketplaceIds: [] }),
      spec({ dataStartTime: 'yesterday' }),
      spec({
        dataStartTime: new Date(T0).toISOString(),
        dataEndTime: new Date(T0 - HOUR).toISOString(),
      }),
      '{not json',
    ]) {
      await direct(`${REPORTS_API_PATH}/reports`, authorized(tok, { method: 'POST', body }));
    }
    // 404 NotFound.
    await direct(`${REPORTS_API_PATH}/reports/404`, authorized(tok));
    await direct(`${REPORTS_API_PATH}/documents/amzn1.spdoc.nope`, authorized(tok));
    // 403 Unauthorized: no token, a forged one, an expired one.
    await direct(`${REPORTS_API_PATH}/reports/1`);
    await direct(`${REPORTS_API_PATH}/reports`, {
      ...authorized('Atza|forged', { method: 'POST', body: spec() }),
    });
    // 429 QuotaExceeded and 500 InternalFailure, forced, for each operation.
    const id = (
      (await (
        await direct(
          `${REPORTS_API_PATH}/reports`,
          authorized(tok, { method: 'POST', body: spec() }),
        )
      ).json()) as { reportId: string }
    ).reportId;
    for (const mode of ['429', '5xx'] as const) {
      for (const op of ['createReport', 'getReport', 'getReportDocument'] as SpApiOperation[]) {
        sb.misbehave(mode, op);
      }
      await direct(
        `${REPORTS_API_PATH}/reports`,
        authorized(tok, { method: 'POST', body: spec() }),
      );
      await direct(`${REPORTS_API_PATH}/reports/${id}`, authorized(tok));
      await direct(`${REPORTS_API_PATH}/documents/amzn1.spdoc.nope`, authorized(tok));
      sb.misbehave('none');
    }
    // 429 from the real bucket running dry (getReport: burst 15).
    for (let i = 0; i < 17; i++) await direct(`${REPORTS_API_PATH}/reports/${id}`, authorized(tok));
    t += 3_600_000;
    await direct(`${REPORTS_API_PATH}/reports/${id}`, authorized(tok)); // expired token: 403

    const seen = new Set<string>();
    for (const e of traffic.filter((x) => kindOf(x) === 'model')) {
      const { operationId, status } = checkResponse(e);
      seen.add(`${operationId} ${status}`);
    }
    expect([...seen].sort()).toEqual(
      [
        'createReport 202',
        'createReport 400',
        'createReport 403',
        'createReport 429',
        'createReport 500',
        'getReport 200',
        'getReport 403',
        'getReport 404',
        'getReport 429',
        'getReport 500',
        'getReportDocument 200',
        'getReportDocument 404',
        'getReportDocument 429',
        'getReportDocument 500',
      ].sort(),
    );
    // Every processing status of the model was served and passed.
    const statuses = traffic
      .filter((e) => e.status === 200 && e.url.pathname.startsWith(`${REPORTS_API_PATH}/reports/`))
      .map((e) => JSON.parse(e.responseBytes.toString('utf8')).processingStatus);
    expect(new Set(statuses)).toEqual(
      new Set(['IN_QUEUE', 'IN_PROGRESS', 'DONE', 'FATAL', 'CANCELLED']),
    );
  });

  it("LWA's answers: the token, RFC 6749 errors, and its throttle (429, not `slow_down`)", async () => {
    await direct(LWA_TOKEN_PATH, lwaForm({}));
    await direct(LWA_TOKEN_PATH, lwaForm({ client_secret: 'wrong' }));
    await direct(LWA_TOKEN_PATH, lwaForm({ refresh_token: 'Atzr|revoked' }));
    await direct(LWA_TOKEN_PATH, lwaForm({ grant_type: 'client_credentials' }));
    await direct(LWA_TOKEN_PATH, lwaForm({ client_id: '' }));
    sb.misbehave('429', 'lwaToken');
    await direct(LWA_TOKEN_PATH, lwaForm({}));
    sb.misbehave('5xx', 'lwaToken');
    await direct(LWA_TOKEN_PATH, lwaForm({}));
    const statuses = traffic.map((e) => {
      checkLwaResponse(e);
      return e.status;
    });
    expect(statuses).toEqual([200, 401, 400, 400, 400, 429, 500]);
  });

  it('the S3 download: documents per vendorRealTimeSalesReport.json, errors in S3 XML with S3 statuses (SlowDown is 503)', async () => {
    const c = client();
    const windows: Array<[number, number]> = [
      [T0 - HOUR, T0],
      [T0 - 6 * HOUR - 15 * 60_000, T0 + 2 * HOUR], // partial and future hours around
      [T0 - 24 * HOUR, T0],
    ];
    const documents: Json[] = [];
    for (const [start, end] of windows) {
      const result = await c.fetchReport(VENDOR_REAL_TIME_SALES_REPORT, start, end, POLL);
      documents.push(JSON.parse(result.document!));
    }
    const url = JSON.parse(
      traffic
        .filter((e) => e.url.pathname.includes('/documents/'))
        .at(-1)!
        .responseBytes.toString(),
    ).url as string;
    // S3's refusals: throttled, a fault, an unknown key, an expired URL.
    sb.misbehave('429', 'downloadDocument');
    await recording(url);
    sb.misbehave('5xx', 'downloadDocument');
    await recording(url);
    sb.misbehave('none');
    await recording(url.replace(/report-documents\/[^?]+/, 'report-documents/nope'));
    t += 5 * 60_000 + 1;
    await recording(url);

    const downloads = traffic.filter((e) => kindOf(e) === 'download');
    for (const e of downloads) checkDownload(e);
    expect(downloads.map((e) => e.status)).toEqual([200, 200, 200, 503, 500, 404, 403]);
    expect(downloads[3]!.responseBytes.toString()).toContain('<Code>SlowDown</Code>');

    // What the documents hold: one row per ASIN and whole ended hour, zero and negative rows
    // among them, the specification as asked.
    const asins = sandboxAsins('contract');
    expect(documents.map((d) => d.reportData.length)).toEqual([6, 6 * 6, 6 * 24]);
    const day = documents[2].reportData as Json[];
    expect(day.filter((r) => r.orderedUnits === 0).length).toBeGreaterThanOrEqual(asins.length);
    expect(day.filter((r) => r.orderedUnits < 0)).toHaveLength(asins.length * 3);
    for (const r of day.filter((r: Json) => r.orderedUnits < 0)) {
      expect(r.orderedRevenue).toBeLessThan(0);
    }
    expect(documents[1].reportSpecification).toMatchObject({
      reportType: VENDOR_REAL_TIME_SALES_REPORT,
      marketplaceIds: [US],
      reportOptions: { currencyCode: 'USD' },
    });
  });
});
