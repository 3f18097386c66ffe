import type { Firestore } from 'firebase-admin/firestore';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startKeepaSandbox } from '../../../devstack/src/sandbox/keepa.ts';
import { sandboxProduct } from '../../../devstack/src/sandbox/keepa-products.ts';
import { KEEPA_SANDBOX_KEY } from '../../../devstack/src/sandbox/keepa-rules.ts';
import type { KeepaSandbox } from '../../../devstack/src/sandbox/keepa-types.ts';
import { runIngestSlice } from '../../src/adapters/pipeline/ingest';
import { addIngestItems } from '../../src/adapters/pipeline/ingest-queue-writes';
import { ProductsRepository } from '../../src/adapters/pipeline/products-repository';
import { QuotaEngine } from '../../src/adapters/quota/quota-engine';
import { KeepaClient } from '../../src/adapters/upstreams/keepa';
import { createKeepaIngestFetchers } from '../../src/adapters/upstreams/keepa-ingest';
import { UpstreamError } from '../../src/adapters/upstreams/upstream-call';
import { providerSchema } from '../../src/core/config';
import { pipelineConfigSchema } from '../../src/core/pipeline/config';
import { QuotaExceededError } from '../../src/core/quota/errors';
import { KEEPA_DEAL_PRICE_TYPES } from '../../src/core/upstreams/keepa-deal-request';
import { KEEPA_DOMAIN_IDS, KEEPA_DOMAINS } from '../../src/core/upstreams/keepa-domains';
import { keepaSecondsUntilPositive } from '../../src/core/upstreams/keepa-meter';
import {
  KEEPA_MAX_ASINS,
  KEEPA_MAX_ASINS_WITH_OFFERS,
  keepaProductCost,
  keepaProductTokensPerAsin,
} from '../../src/core/upstreams/keepa-product-request';
import { testFirestore } from '../support/firestore';
import { rejection } from '../support/rejection';

/**
 * Keepa's contract, checked against Keepa's own references rather than against our sandbox:
 * every rule below names where it comes from, and checks the client's requests, the
 * configuration and the sandbox's answers against it. The references (read at):
 *
 * - JAVA: keepacom/api_backend, Keepa's Java client, commit 8a8bc62bfeb41dad8c879a89bfcbdb5284cea792
 *   (src/main/java/com/keepa/api/backend/...).
 * - PHP: keepacom/php_api, Keepa's PHP client, commit 7770c799612e481919a9503293316293f3efa34c.
 * - DOCS: Keepa's API documentation on discuss.keepa.com ("Product Request", "Browsing Deals"),
 *   read from the copy at http://www.agentarbitrage.co/Documentation/Archive/Keepa_Documentation-official-2.md
 *   (where the clients say nothing about prices, the documentation does).
 */

/** JAVA structs/AmazonLocale.java: the domain id is the ordinal (PHP src/objects/AmazonLocale.php: RESERVED = 0 ... BR = 12). */
const AMAZON_LOCALE = [
  'RESERVED',
  'US',
  'GB',
  'DE',
  'FR',
  'JP',
  'CA',
  'RESERVED2',
  'IT',
  'ES',
  'IN',
  'MX',
  'BR',
] as const;

/**
 * JAVA KeepaAPI.java sendRequest: `switch (responseCode) { case 400: REQUEST_REJECTED; case
 * 402: PAYMENT_REQUIRED; case 404: NOT_FOUND; case 405: METHOD_NOT_ALLOWED; case 429:
 * NOT_ENOUGH_TOKEN; case 500: INTERNAL_SERVER_ERROR; default: FAIL }`. PHP src/KeepaAPI.php
 * sendRequest: `503` (FAIL, retried), then 400, 402, 404, 405, 429 the same way.
 */
const OFFICIAL_STATUS_CODES = new Map<number, string>([
  [400, 'REQUEST_REJECTED'],
  [402, 'PAYMENT_REQUIRED'],
  [404, 'NOT_FOUND'],
  [405, 'METHOD_NOT_ALLOWED'],
  [429, 'NOT_ENOUGH_TOKEN'],
  [500, 'INTERNAL_SERVER_ERROR'],
  [503, 'FAIL'],
]);

/** JAVA structs/Response.java: the meter fields every answer has (int, long for timestamp). */
const RESPONSE_METER_FIELDS = [
  'timestamp',
  'tokensLeft',
  'refillIn',
  'refillRate',
  'tokensConsumed',
  'processingTimeInMs',
] as const;

/** JAVA structs/RequestError.java: `String type, message, details;` */
const REQUEST_ERROR_FIELDS = ['type', 'message', 'details'];

/**
 * JAVA structs/DealRequest.java, its fields in order; `int` and `boolean` ones are primitives,
 * which gson (Request.getDealsRequest: `r.postData = gson.toJson(dealRequest)`) always writes.
 */
const DEAL_REQUEST_FIELDS: Record<string, 'int' | 'boolean' | 'object'> = {
  page: 'int',
  domainId: 'int',
  priceTypes: 'object',
  isLowest: 'boolean',
  isLowest90: 'boolean',
  isLowestOffer: 'boolean',
  dateRange: 'int',
  deltaRange: 'object',
  excludeCategories: 'object',
  includeCategories: 'object',
  deltaPercentRange: 'object',
  currentRange: 'object',
  titleSearch: 'object',
  isBackInStock: 'boolean',
  isOutOfStock: 'boolean',
  isRangeEnabled: 'boolean',
  filterErotic: 'boolean',
  sortType: 'int',
  salesRankRange: 'object',
  isFilterEnabled: 'boolean',
  deltaLastRange: 'object',
  hasReviews: 'boolean',
  isPrimeExclusive: 'boolean',
  mustHaveAmazonOffer: 'boolean',
  mustNotHaveAmazonOffer: 'boolean',
  minRating: 'object',
  warehouseConditions: 'object',
  singleVariation: 'object',
  material: 'object',
  type: 'object',
  manufacturer: 'object',
  brand: 'object',
  productGroup: 'object',
  model: 'object',
  color: 'object',
  size: 'object',
  unitType: 'object',
  scent: 'object',
  itemForm: 'object',
  pattern: 'object',
  style: 'object',
  itemTypeKeyword: 'object',
  targetAudienceKeyword: 'object',
  edition: 'object',
  format: 'object',
  author: 'object',
  binding: 'object',
  languages: 'object',
  brandStoreName: 'object',
  brandStoreUrlName: 'object',
  websiteDisplayGroup: 'object',
  websiteDisplayGroupName: 'object',
  salesRankDisplayGroup: 'object',
};

/** JAVA structs/DealResponse.java: `Deal[] dr; byte[] drDateIndex; long[] categoryIds; String[] categoryNames; int[] categoryCount;` */
const DEAL_RESPONSE_FIELDS = ['dr', 'drDateIndex', 'categoryIds', 'categoryNames', 'categoryCount'];

/** JAVA structs/Deal.java, its fields and their Java types. */
const DEAL_FIELDS: Record<string, string> = {
  asin: 'String',
  parentAsin: 'String',
  title: 'String',
  delta: 'int[][]',
  deltaPercent: 'short[][]',
  deltaLast: 'int[]',
  avg: 'int[][]',
  current: 'int[]',
  rootCat: 'long',
  creationDate: 'int',
  image: 'byte[]',
  categories: 'long[]',
  lastUpdate: 'int',
  lightningEnd: 'int',
  minRating: 'int',
  warehouseCondition: 'byte',
  warehouseConditionComment: 'String',
  currentSince: 'int[]',
};

const INT32 = [-(2 ** 31), 2 ** 31 - 1] as const;
const RANGES: Record<string, readonly [number, number]> = {
  int: INT32,
  short: [-(2 ** 15), 2 ** 15 - 1],
  byte: [-128, 127],
  long: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

/** Whether a JSON value is what gson reads into the Java type (String, int, int[][]...). */
function fitsJava(value: unknown, type: string): boolean {
  if (value === null) return true; // gson reads null into any object field
  if (type === 'String') return typeof value === 'string';
  if (type.endsWith('[]')) {
    return Array.isArray(value) && value.every((v) => fitsJava(v, type.slice(0, -2)));
  }
  const range = RANGES[type];
  if (!range) throw new Error(`no rule for ${type}`);
  return Number.isInteger(value) && (value as number) >= range[0] && (value as number) <= range[1];
}

const T0 = Date.UTC(2026, 0, 10, 12, 0, 0);
const t = T0;
const now = () => t;

let sandbox: KeepaSandbox;
beforeAll(async () => {
  sandbox = await startKeepaSandbox({ now, capacity: 100_000, refillPerMinute: 1_000 });
});
afterAll(() => sandbox.stop());
afterEach(() => sandbox.misbehave('none'));

/** A client of the sandbox that records the URLs it asks for. */
function client(domainId = 3, options: { fetch?: typeof fetch; apiKey?: string } = {}) {
  const urls: URL[] = [];
  const inner = options.fetch ?? fetch;
  const keepa = new KeepaClient({
    baseUrl: sandbox.url,
    apiKey: options.apiKey ?? KEEPA_SANDBOX_KEY,
    domainId,
    now,
    retries: 0,
    sleep: async () => {},
    fetch: (input, init) => {
      urls.push(new URL(String(input)));
      return inner(input, init);
    },
  });
  return { keepa, urls };
}

// biome-ignore lint/suspicious/noExplicitAny: loosely typed answer bodies in assertions
type Json = any;

async function get(
  path: string,
  init?: RequestInit,
): Promise<{ status: number; headers: Headers; json: Json }> {
  const response = await fetch(`${sandbox.url}${path}`, init);
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, json };
}

const KEY = KEEPA_SANDBOX_KEY;
const product = (domain: number | string, asins: string[], extra = '') =>
  get(`/product?key=${KEY}&domain=${domain}&asin=${asins.join(',')}${extra}`);
const dealGet = (query: unknown) =>
  get(`/deal?key=${KEY}&selection=${encodeURIComponent(JSON.stringify(query))}`);

/** The offers a sandbox product has (it returns min(offers asked, these)). */
const offersOf = (asin: string) =>
  (sandboxProduct(asin, 3, 0, { offers: 100 }).offers as unknown[]).length;

/** ASINs whose product has `min` to `max` offers, deterministic. */
function asinsWithOffers(count: number, min: number, max = 100): string[] {
  const found: string[] = [];
  for (let i = 0; found.length < count; i++) {
    const asin = `C${String(i).padStart(9, '0')}`;
    const n = offersOf(asin);
    if (n >= min && n <= max) found.push(asin);
  }
  return found;
}

const plain = (n: number, prefix = 'A') =>
  Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(9, '0')}`);

/** An answer is an official error answer: RequestError fields and Response's meter fields. */
function expectOfficialError(json: Record<string, unknown>, meter = true) {
  expect(json.error).toBeTypeOf('object');
  for (const field of Object.keys(json.error as object)) {
    expect(REQUEST_ERROR_FIELDS).toContain(field);
  }
  if (!meter) return;
  for (const field of RESPONSE_METER_FIELDS) expect(fitsJava(json[field], 'long')).toBe(true);
}

describe('rule 1: a product request carries 1 to 100 ASINs, at most 20 with offers', () => {
  // JAVA structs/Request.java getProductRequest, @param asins: "ASINs to request, must contain
  // between 1 and 100 ASINs - or max 20 ASINs if the offers parameter is used."
  // PHP src/API/Request.php getProductRequest / getDetailedProductRequest, @param $asins: same.

  it('the client cuts requests with offers at 20 ASINs, without offers at 100', async () => {
    expect([KEEPA_MAX_ASINS, KEEPA_MAX_ASINS_WITH_OFFERS]).toEqual([100, 20]);
    const { keepa, urls } = client();
    const withOffers = plain(45, 'O');
    const answer = await keepa.products(withOffers, { stats: 90, offers: 20, history: true });
    expect(answer.products.map((p) => p.asin)).toEqual(withOffers);
    const sizes = urls.map((u) => u.searchParams.get('asin')!.split(',').length);
    expect(sizes).toEqual([20, 20, 5]);
    expect(urls.every((u) => u.searchParams.get('offers') === '20')).toBe(true);

    urls.length = 0;
    await keepa.products(plain(101, 'P'), { stats: 90, history: false });
    expect(urls.map((u) => u.searchParams.get('asin')!.split(',').length)).toEqual([100, 1]);
    expect(urls.some((u) => u.searchParams.has('offers'))).toBe(false);
  });

  it('the sandbox refuses 21 ASINs with offers (and 101 without) as Keepa does: 400, uncharged', async () => {
    const before = sandbox.state().tokensConsumed;
    for (const [asins, extra] of [
      [plain(21), '&offers=20'],
      [plain(21), '&offers=100'],
      [plain(101), ''],
    ] as const) {
      const r = await product(3, [...asins], extra);
      // JAVA KeepaAPI.java: `case 400: response.status = ResponseStatus.REQUEST_REJECTED`.
      expect(OFFICIAL_STATUS_CODES.get(r.status)).toBe('REQUEST_REJECTED');
      expectOfficialError(r.json);
      expect(r.json.tokensConsumed).toBe(0);
    }
    expect(sandbox.state().tokensConsumed).toBe(before);
    expect((await product(3, plain(20), '&offers=20')).status).toBe(200);
    expect((await product(3, plain(100))).status).toBe(200);
  });

  it('the configuration bounds commit batches (requests with offers) at 20, naming the field', () => {
    const parse = (size: number) =>
      pipelineConfigSchema.safeParse({ batching: { commit: { size, minItems: 1 } } });
    expect(parse(20).success).toBe(true);
    const refused = parse(21);
    expect(refused.success).toBe(false);
    const issue = refused.error?.issues[0];
    expect(issue?.path).toEqual(['batching', 'commit', 'size']);
    expect(issue?.message).toContain('batching.commit.size must be at most 20');
  });
});

describe('rule 2: offers cost 6 tokens per page of 10 found, and the estimate follows the parameters', () => {
  // DOCS "Product Request": "Token Cost: 1 per product"; offers: "Token Cost: 6 for every found
  // offer page (contains up to 10 offers) per product", "When using the offers parameter, the
  // basic 1 token cost per ASIN of the product request does not apply", the example
  // "&offers=40 (Requested up to 40 offers, but the product only has 18 offers.) Total token
  // cost for the request: 6 per found offer page = 12 tokens"; update: "Use the value 0. If our
  // last update was less than 1 hour ago, this consumes 1 extra token"; stats, history: "No
  // extra token cost"; buybox: "2 per product", "If the offers parameter is used, the buybox
  // parameter is ignored"; stock: "2 per product"; rating: "Up to 1 extra token per product".
  // The clients carry no prices; JAVA structs/Response.java `tokensConsumed`: "Tokens used for
  // call", what the ingest settles and learns from.

  it('the estimate is a function of the parameters, by the documented price list', () => {
    expect(keepaProductTokensPerAsin()).toBe(1);
    expect(keepaProductTokensPerAsin({ stats: 90, history: false })).toBe(1);
    expect(keepaProductTokensPerAsin({ stats: 90, history: true, offers: 20 })).toBe(12);
    expect(keepaProductTokensPerAsin({ offers: 40 })).toBe(24);
    expect(keepaProductTokensPerAsin({ offers: 100 })).toBe(60);
    expect(keepaProductTokensPerAsin({ update: 0 })).toBe(2);
    expect(keepaProductTokensPerAsin({ update: 48 })).toBe(1);
    expect(keepaProductTokensPerAsin({ buybox: true })).toBe(3);
    expect(keepaProductTokensPerAsin({ buybox: true, offers: 20 })).toBe(12);
    expect(keepaProductTokensPerAsin({ stock: true, offers: 20 })).toBe(14);
    expect(keepaProductTokensPerAsin({ rating: true })).toBe(2);
    expect(keepaProductCost(5, { offers: 20 })).toBe(60);
  });

  it('the sandbox charges the documented example and rule, no base token with offers', async () => {
    const [eighteen] = asinsWithOffers(1, 18, 18);
    const [one] = asinsWithOffers(1, 1, 1);
    const [ten] = asinsWithOffers(1, 10, 10);
    // "&offers=40 ... the product only has 18 offers ... 12 tokens".
    expect((await product(3, [eighteen!], '&offers=40')).json.tokensConsumed).toBe(12);
    expect((await product(3, [one!], '&offers=20')).json.tokensConsumed).toBe(6);
    expect((await product(3, [ten!], '&offers=20')).json.tokensConsumed).toBe(6);
    expect((await product(3, plain(3), '&stats=90&history=0')).json.tokensConsumed).toBe(3);
    expect((await product(3, plain(3), '&update=0')).json.tokensConsumed).toBe(6);
  });

  it('the estimate bounds what the sandbox charges, and meets it when every page is found', async () => {
    const params = { stats: 90, offers: 20, history: true };
    const { keepa } = client();
    const full = asinsWithOffers(20, 11);
    const paid = await keepa.products(full, params);
    expect(paid.meter.consumed).toBe(keepaProductCost(20, params));
    const mixed = plain(20, 'M');
    const cheaper = await keepa.products(mixed, params);
    expect(cheaper.meter.consumed).toBeLessThanOrEqual(keepaProductCost(20, params));
    expect(cheaper.meter.consumed).toBe(
      mixed.reduce((sum, asin) => sum + Math.ceil(Math.min(offersOf(asin), 20) / 10) * 6, 0),
    );
  });

  describe('the ingest reserves the documented price and settles what Keepa charged', () => {
    let db: Firestore;
    let close: () => Promise<void>;
    beforeEach(async () => {
      ({ db, close } = testFirestore());
      await db.doc('providers/keepa').set({
        limits: [{ kind: 'tokenBucket', capacity: 100_000, refillPerSecond: 1_000 / 60 }],
        cooldownSeconds: 300,
      });
      await db.doc('categories/keepa-ingest').set({ provider: 'keepa', sharePercent: 100 });
    });
    afterEach(() => close());

    it('commits at 12 per ASIN (offers=20), settled by tokensConsumed', async () => {
      const { keepa } = client();
      const fetchers = createKeepaIngestFetchers({
        client: keepa,
        products: new ProductsRepository(db, { now }),
        collection: 'contract',
        peekFilter: () => true,
        now,
      });
      expect(fetchers.costPerItem).toEqual({
        peek: keepaProductTokensPerAsin({ stats: 90, history: false }),
        commit: keepaProductTokensPerAsin({ stats: 90, offers: 20, history: true }),
        light: keepaProductTokensPerAsin({ stats: 90, history: false }),
      });
      // Seven ASINs of one or two offer pages: 6 or 12 tokens each.
      const asins = [...asinsWithOffers(4, 11, 30), ...asinsWithOffers(3, 1, 10)];
      await addIngestItems(
        db,
        'contract',
        asins.map((key) => ({ key })),
        { nowMs: t },
      );
      const engine = new QuotaEngine(db, { now });
      const asked: Array<{ operation: string; cost: number }> = [];
      const acquire = engine.acquire.bind(engine);
      engine.acquire = (request) => {
        asked.push({ operation: String(request.operation), cost: request.cost ?? 1 });
        return acquire(request);
      };
      const consumedBefore = sandbox.state().tokensConsumed;
      const summary = await runIngestSlice({
        db,
        engine,
        collection: 'contract',
        provider: 'keepa',
        category: 'keepa-ingest',
        fetchers,
        now,
      });
      expect(asked).toEqual([
        { operation: 'peek', cost: 7 },
        { operation: 'commit', cost: 5 * 12 },
        { operation: 'commit', cost: 2 * 12 },
      ]);
      const charged = sandbox.state().tokensConsumed - consumedBefore;
      expect(summary).toMatchObject({ tokensSpent: charged });
      expect(charged).toBe(
        7 + asins.reduce((sum, asin) => sum + Math.ceil(Math.min(offersOf(asin), 20) / 10) * 6, 0),
      );
    });
  });
});

describe('rule 3: Keepa serves domains 1-6 and 8-12', () => {
  // JAVA structs/AmazonLocale.java `enum AmazonLocale { RESERVED, US, GB, DE, FR, JP, CA,
  // RESERVED2, IT, ES, IN, MX, BR }` (the requests send `domainId.ordinal()`); PHP
  // src/objects/AmazonLocale.php `RESERVED = 0 ... RESERVED2 = 7 ... BR = 12`; DOCS "Product
  // Request" domain table: 1 com ... 6 ca, 8 it ... 12 com.br.
  const served = AMAZON_LOCALE.flatMap((name, id) => (name.startsWith('RESERVED') ? [] : [id]));

  it('the domain table is the official locale list: no 7, no 13', () => {
    expect(served).toEqual([1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12]);
    expect(KEEPA_DOMAIN_IDS).toEqual(served);
    expect(Object.keys(KEEPA_DOMAINS).map(Number)).toEqual(served);
    expect(served.map((id) => KEEPA_DOMAINS[id]?.host)).toEqual([
      'amazon.com',
      'amazon.co.uk',
      'amazon.de',
      'amazon.fr',
      'amazon.co.jp',
      'amazon.ca',
      'amazon.it',
      'amazon.es',
      'amazon.in',
      'amazon.com.mx',
      'amazon.com.br',
    ]);
  });

  it('the configuration refuses a keepa settings.domainId outside the list', () => {
    const keepa = (domainId: unknown) =>
      providerSchema.safeParse({
        id: 'keepa',
        limits: [{ kind: 'tokenBucket', capacity: 300, refillPerSecond: 5 }],
        settings: { domainId },
      });
    for (const id of [3, '3', 12, 1]) expect(keepa(id).success).toBe(true);
    for (const id of [7, 13, 0, '7', 'de', 3.5]) {
      const result = keepa(id);
      expect(result.success).toBe(false);
      expect(result.error?.issues[0]?.path).toEqual(['settings', 'domainId']);
      expect(result.error?.issues[0]?.message).toContain('1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12');
    }
  });

  it('the client refuses them before sending anything', async () => {
    for (const id of [0, 7, 13]) expect(() => client(id)).toThrow(RangeError);
    const { keepa, urls } = client(12);
    expect(await rejection(keepa.deals({ domainId: 7 }))).toBeInstanceOf(RangeError);
    expect(await rejection(keepa.deals({ domainId: 13 }))).toBeInstanceOf(RangeError);
    expect(urls).toHaveLength(0);
    expect((await keepa.products(['B1'])).products).toHaveLength(1);
  });

  it('the sandbox refuses them with 400', async () => {
    for (const domain of [0, 7, 13]) {
      const r = await product(domain, ['B1']);
      expect(OFFICIAL_STATUS_CODES.get(r.status)).toBe('REQUEST_REJECTED');
      expectOfficialError(r.json);
      expect((await dealGet({ domainId: domain, priceTypes: [1] })).status).toBe(400);
    }
    for (const domain of served) expect((await product(domain, ['B1'])).status).toBe(200);
  });
});

describe('rule 4: a deal request sends a complete DealRequest and gets a DealResponse', () => {
  // JAVA structs/DealRequest.java (the fields), structs/Request.java getDealsRequest
  // (`r.path = "deal"; r.postData = gson.toJson(dealRequest)`); PHP src/API/DealRequest.php,
  // src/API/Request.php getDealsRequest (`json_encode($dealRequest)`); DOCS "Browsing Deals":
  // "GET Format /deal?key=<yourAccessKey>&selection=<queryJSON>" or POST; priceTypes "Not
  // optional: exactly [one] price type must be specified"; dateRange 0 day, 1 week, 2 month,
  // 3 ninety days. The answer: JAVA structs/DealResponse.java, structs/Deal.java; DOCS
  // "Response": dr, categoryIds, categoryNames, categoryCount.

  it('the client sends every DealRequest field gson always writes, and only DealRequest fields', async () => {
    const { keepa, urls } = client(3);
    await keepa.deals({ page: 1, deltaPercentRange: [20, 100], includeCategories: [1001] });
    expect(urls).toHaveLength(1);
    expect(urls[0]?.pathname).toBe('/deal');
    const sent = JSON.parse(urls[0]!.searchParams.get('selection')!) as Record<string, unknown>;
    for (const [field, value] of Object.entries(sent)) {
      expect(Object.keys(DEAL_REQUEST_FIELDS)).toContain(field);
      const type = DEAL_REQUEST_FIELDS[field];
      if (type === 'int') expect(Number.isInteger(value)).toBe(true);
      if (type === 'boolean') expect(typeof value).toBe('boolean');
    }
    const primitives = Object.entries(DEAL_REQUEST_FIELDS)
      .filter(([, type]) => type !== 'object')
      .map(([field]) => field);
    for (const field of primitives) expect(sent).toHaveProperty(field);
    expect(sent).toMatchObject({
      page: 1,
      domainId: 3,
      deltaPercentRange: [20, 100],
      includeCategories: [1001],
    });
    expect(sent.priceTypes).toHaveLength(1);
    expect(KEEPA_DEAL_PRICE_TYPES).toContain((sent.priceTypes as number[])[0]);
    expect([0, 1, 2, 3]).toContain(sent.dateRange);
    expect(sandbox.state().dealQueries.at(-1)).toEqual(sent);
  });

  it('the client refuses a query Keepa would refuse, before sending it', async () => {
    const { keepa, urls } = client(3);
    for (const selection of [
      { priceTypes: [] },
      { priceTypes: [0, 1] },
      { priceTypes: [4] }, // LISTPRICE: not deal relevant (JAVA Product.java CsvType)
      { dateRange: 4 },
      { page: -1 },
    ]) {
      expect(await rejection(keepa.deals(selection))).toBeInstanceOf(RangeError);
    }
    expect(urls).toHaveLength(0);
  });

  it('the sandbox answers a DealResponse of Deal objects, in the Java types', async () => {
    const { keepa } = client(3);
    const answer = await get(
      `/deal?key=${KEY}&selection=${encodeURIComponent(JSON.stringify((await keepa.deals()).query))}`,
    );
    expect(answer.status).toBe(200);
    const deals = answer.json.deals as Record<string, unknown>;
    for (const field of Object.keys(deals)) expect(DEAL_RESPONSE_FIELDS).toContain(field);
    expect(deals).not.toHaveProperty('sortType'); // a request field, not a response one
    if (deals.drDateIndex != null) expect(fitsJava(deals.drDateIndex, 'byte[]')).toBe(true);
    expect(fitsJava(deals.categoryIds, 'long[]')).toBe(true);
    expect(fitsJava(deals.categoryNames, 'String[]')).toBe(true);
    expect(fitsJava(deals.categoryCount, 'int[]')).toBe(true);
    const ids = deals.categoryIds as number[];
    expect((deals.categoryNames as string[]).length).toBe(ids.length);
    expect((deals.categoryCount as number[]).length).toBe(ids.length);
    const dr = deals.dr as Array<Record<string, unknown>>;
    expect(dr.length).toBeGreaterThan(0);
    for (const deal of dr) {
      for (const [field, value] of Object.entries(deal)) {
        expect(Object.keys(DEAL_FIELDS)).toContain(field);
        expect(fitsJava(value, DEAL_FIELDS[field]!), `${field}: ${JSON.stringify(value)}`).toBe(
          true,
        );
      }
      expect(ids).toContain(deal.rootCat);
      // Deal.java delta: "First dimension uses the Date Range indexing, second the Price Type".
      expect(deal.deltaPercent).toHaveLength(4);
    }
    for (const field of RESPONSE_METER_FIELDS)
      expect(fitsJava(answer.json[field], 'long')).toBe(true);
  });

  it('the sandbox takes the official clients’ form, a POSTed queryJSON, and requires a price type', async () => {
    // DOCS "Browsing Deals", "Example Query" (PHP src/tests/DealRequestTest.php sends the same).
    const example = {
      page: 0,
      domainId: 1,
      excludeCategories: [1064954, 11091801],
      includeCategories: [16310101],
      priceTypes: [0],
      deltaRange: [0, 10000],
      deltaPercentRange: [20, 100],
      deltaLastRange: null,
      salesRankRange: [0, 40000],
      currentRange: [500, 40000],
      minRating: -1,
      isLowest: false,
      isLowestOffer: false,
      isOutOfStock: false,
      titleSearch: null,
      isRangeEnabled: true,
      isFilterEnabled: false,
      filterErotic: true,
      hasReviews: false,
      singleVariation: true,
      sortType: 4,
      dateRange: 1,
    };
    const posted = await get(`/deal?key=${KEY}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=UTF-8' },
      body: JSON.stringify(example),
    });
    expect(posted.status).toBe(200);
    const viaGet = await dealGet(example);
    expect(viaGet.json.deals.dr).toEqual(posted.json.deals.dr);
    const { priceTypes: _, ...withoutType } = example;
    const refused = await dealGet(withoutType);
    expect(OFFICIAL_STATUS_CODES.get(refused.status)).toBe('REQUEST_REJECTED');
    expectOfficialError(refused.json);
  });
});

describe('rule 5: error answers use the codes the official clients know; the wait is the body’s refillIn', () => {
  // JAVA KeepaAPI.java sendRequest (the switch above) and sendRequestWithRetry: `if
  // (lastResponse[0].status == ResponseStatus.NOT_ENOUGH_TOKEN && lastResponse[0].refillIn > 0)
  // delay = lastResponse[0].refillIn + 100;`. PHP src/KeepaAPI.php sendRequestWithRetry:
  // `$delay = $lastResponse->refillIn + 100;`. Neither client reads a Retry-After header (the
  // word appears in neither repository); JAVA structs/Response.java refillIn: "Milliseconds till
  // new tokens are generated. Use this if your contigent is depleted to wait before you try a
  // new request."

  it('every error the sandbox answers has a status the official clients handle: a bad key is 400, not 401', async () => {
    const answers = {
      badKey: await get('/product?key=nope&domain=3&asin=B1'),
      noKey: await get('/token'),
      badParameter: await product(3, ['B1'], '&offers=5'),
      noEndpoint: await get(`/nothing?key=${KEY}`),
      wrongMethod: await get(`/product?key=${KEY}&domain=3&asin=B1`, { method: 'DELETE' }),
    };
    expect(Object.values(answers).map((a) => a.status)).toEqual([400, 400, 400, 404, 405]);
    sandbox.misbehave('5xx');
    const failed = await product(3, ['B1']);
    sandbox.misbehave('429');
    const limited = await product(3, ['B1']);
    for (const answer of [...Object.values(answers), failed, limited]) {
      expect(OFFICIAL_STATUS_CODES.has(answer.status)).toBe(true);
      if (answer.status !== 429) expectOfficialError(answer.json, false);
    }
    expect(answers.badKey.json.error.type).toBe('invalidKey');
  });

  it('the sandbox’s 429 carries no Retry-After, in its default mode too: the meter fields say when', async () => {
    const small = await startKeepaSandbox({ now, capacity: 10, refillPerMinute: 5 });
    try {
      const at = (path: string) => fetch(`${small.url}${path}`);
      await at(`/product?key=${KEY}&domain=3&asin=${plain(10).join(',')}`); // balance 0
      const refused = await at(`/product?key=${KEY}&domain=3&asin=B1`);
      expect(refused.status).toBe(429);
      expect(refused.headers.has('retry-after')).toBe(false);
      const body = (await refused.json()) as Record<string, number>;
      for (const field of RESPONSE_METER_FIELDS) expect(fitsJava(body[field], 'long')).toBe(true);
      expect(body).toMatchObject({ tokensLeft: 0, refillRate: 5, tokensConsumed: 0 });
      expect(body.refillIn).toBeGreaterThan(0);

      // The client waits by the body (the official clients: refillIn, then retry).
      const keepa = new KeepaClient({
        baseUrl: small.url,
        apiKey: KEY,
        domainId: 3,
        now,
        retries: 0,
      });
      const error = await rejection(keepa.products(['B1']));
      expect(error).toBeInstanceOf(QuotaExceededError);
      const seconds = (error as QuotaExceededError).retryAfterSeconds;
      expect(seconds).toBe(keepaSecondsUntilPositive(body as never));
      expect((seconds as number) * 1000).toBeGreaterThanOrEqual(body.refillIn!);
    } finally {
      await small.stop();
    }
  });

  it('the client maps each official code: 400, 402, 404, 405 typed; 429 quota; 500 http', async () => {
    const meter = { tokensLeft: -40, refillIn: 20_000, refillRate: 20, timestamp: T0 };
    const answering =
      (status: number, body: unknown, headers: Record<string, string> = {}): typeof fetch =>
      async () =>
        new Response(JSON.stringify(body), { status, headers });
    const kind = async (status: number, body: unknown, headers?: Record<string, string>) =>
      rejection(client(3, { fetch: answering(status, body, headers) }).keepa.products(['B1']));

    expect(
      await kind(400, { error: { type: 'invalidParameter', message: 'offers out of range' } }),
    ).toMatchObject({ kind: 'configuration', status: 400 });
    expect(
      await kind(400, { error: { type: 'invalidKey', message: 'unknown API key' } }),
    ).toMatchObject({ kind: 'credentials', status: 400 });
    expect(await kind(402, { error: { type: 'paymentRequired' } })).toMatchObject({
      kind: 'credentials',
      status: 402,
    });
    expect(await kind(404, {})).toMatchObject({ kind: 'configuration', status: 404 });
    expect(await kind(405, {})).toMatchObject({ kind: 'configuration', status: 405 });
    // 429: the body's meter, whatever a header says (-40 at 20 a minute: 20 s, then 2 minutes).
    for (const headers of [{}, { 'retry-after': '5' }] as Array<Record<string, string>>) {
      const limited = await kind(429, { ...meter, tokensConsumed: 0 }, headers);
      expect(limited).toBeInstanceOf(QuotaExceededError);
      expect(limited).toMatchObject({ retryAfterSeconds: 20 + 120 });
    }
    const failed = await kind(500, { error: { type: 'internal' } });
    expect(failed).toBeInstanceOf(UpstreamError);
    expect(failed).toMatchObject({ kind: 'http', status: 500 });
  });
});
