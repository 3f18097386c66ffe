import { afterEach, describe, expect, it } from 'vitest';
import { startKeepaSandbox } from '../../src/sandbox/keepa.ts';
import { sandboxDealAsin } from '../../src/sandbox/keepa-deals.ts';
import { sandboxProduct } from '../../src/sandbox/keepa-products.ts';
import {
  DEAL_COST,
  DEALS_PER_PAGE,
  KEEPA_SANDBOX_KEY,
  OFFERS_PER_PAGE,
  TOKENS_PER_OFFER_PAGE,
} from '../../src/sandbox/keepa-rules.ts';
import type { KeepaSandbox, KeepaSandboxOptions } from '../../src/sandbox/keepa-types.ts';

const KEY = KEEPA_SANDBOX_KEY;
let sb: KeepaSandbox | undefined;
let t = 0;

afterEach(async () => {
  await sb?.stop();
  sb = undefined;
});

async function start(o: KeepaSandboxOptions = {}) {
  t = 1_700_000_000_000;
  sb = await startKeepaSandbox({ now: () => t, ...o });
  return sb;
}

async function get(path: string) {
  const res = await fetch(`${sb?.url}${path}`);
  const text = await res.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  // biome-ignore lint/suspicious/noExplicitAny: loosely typed response bodies in assertions
  return { status: res.status, headers: res.headers, text, json: json as Record<string, any> };
}

const product = (asins: string, extra = '') =>
  get(`/product?key=${KEY}&domain=1&asin=${asins}${extra}`);

const deal = (selection: unknown) =>
  get(`/deal?key=${KEY}&selection=${encodeURIComponent(JSON.stringify(selection))}`);

/** A deal query with what Keepa requires besides the domain: one price type. */
const query = (selection: Record<string, unknown>) => ({ priceTypes: [1], ...selection });

/** How many offers a sandbox product has (whatever is asked for, it returns at most these). */
const offerCount = (asin: string) =>
  (sandboxProduct(asin, 1, 0, { offers: 100 }).offers as unknown[]).length;

/** Keepa's price of a product with offers: 6 tokens per page of 10 offers found. */
const offerTokens = (asins: string[], offers: number) =>
  asins.reduce(
    (sum, asin) =>
      sum + Math.ceil(Math.min(offerCount(asin), offers) / OFFERS_PER_PAGE) * TOKENS_PER_OFFER_PAGE,
    0,
  );

const METER_FIELDS = ['timestamp', 'tokensLeft', 'refillIn', 'refillRate', 'tokensConsumed'];

describe('Keepa sandbox', () => {
  it('charges 1 per ASIN, 6 per offer page found with offers, and serves deterministic products', async () => {
    await start({ capacity: 300, refillPerMinute: 20 });
    const a = await product('B000000001,B000000002', '&stats=180');
    expect(a.status).toBe(200);
    expect(a.json).toMatchObject({
      tokensLeft: 298,
      tokensConsumed: 2,
      refillRate: 20,
      refillIn: 60_000,
      tokenFlowReduction: 0,
    });
    expect(a.json.products).toHaveLength(2);
    const p = a.json.products[0];
    expect(p).toMatchObject({ asin: 'B000000001', domainId: 1 });
    expect(typeof p.title).toBe('string');
    expect(p.stats.current[0]).toBeGreaterThan(0);
    expect(p.csv[0].length).toBeGreaterThan(2);
    const again = await product('B000000001', '&stats=180');
    expect(again.json.products[0]).toEqual(p);

    // 20 and 26 offers: two pages each at offers=20, two and three at offers=100.
    expect([offerCount('B000000001'), offerCount('B000000002')]).toEqual([20, 26]);
    const b = await product('B000000001,B000000002', '&offers=20');
    expect(b.json).toMatchObject({ tokensConsumed: 24, tokensLeft: 273 });
    expect(b.json.products[0].offers).toHaveLength(20);
    expect(b.json.products[1].offers).toHaveLength(20);
    const c = await product('B000000001,B000000002', '&offers=100');
    expect(c.json).toMatchObject({ tokensConsumed: 18 + 12, tokensLeft: 243 });
    // One offer: one page.
    expect(offerCount('B27')).toBe(1);
    expect((await product('B27', '&offers=20')).json.tokensConsumed).toBe(6);
    // update=0 forces live data: a token more per ASIN (the sandbox's data is always fresh).
    expect((await product('B1,B2', '&update=0')).json.tokensConsumed).toBe(4);
    expect(sb?.state()).toMatchObject({
      tokensLeft: 300 - 2 - 1 - 24 - 30 - 6 - 4,
      tokensConsumed: 2 + 1 + 24 + 30 + 6 + 4,
      served: 6,
    });
  });

  it('takes at most 100 ASINs, 20 with offers, and refuses more with 400 uncharged', async () => {
    await start({ capacity: 3_000 });
    const asins = (n: number) => Array.from({ length: n }, (_, i) => `A${i}`).join(',');
    expect((await product(asins(100))).status).toBe(200);
    expect((await product(asins(20), '&offers=20')).status).toBe(200);
    const before = sb?.state().tokensConsumed;
    for (const [list, extra] of [
      [asins(101), ''],
      [asins(21), '&offers=20'],
      [asins(21), '&offers=100'],
    ] as const) {
      const r = await product(list, extra);
      expect(r.status).toBe(400);
      expect(r.json.error).toMatchObject({ type: 'invalidParameter' });
      expect(r.json.tokensConsumed).toBe(0);
    }
    expect(sb?.state().tokensConsumed).toBe(before);
  });

  it('serves while positive even into a negative balance, then 429 without Retry-After', async () => {
    await start({ capacity: 10, refillPerMinute: 5 });
    const asins = Array.from({ length: 9 }, (_, i) => `B00000000${i}`).join(',');
    expect((await product(asins)).json.tokensLeft).toBe(1);
    // 5, 14 and 1 offers: 6 + 12 + 6 = 24 tokens at balance 1.
    expect(['X9', 'X17', 'B27'].map(offerCount)).toEqual([5, 14, 1]);
    expect(offerTokens(['X9', 'X17', 'B27'], 50)).toBe(24);
    const big = await product('X9,X17,B27', '&offers=50');
    expect(big.status).toBe(200);
    expect(big.json.tokensLeft).toBe(-23);

    t += 15_000;
    const r = await product('X4');
    expect(r.status).toBe(429);
    expect(r.json).toEqual({
      timestamp: t,
      tokensLeft: -23,
      refillIn: 45_000,
      refillRate: 5,
      tokensConsumed: 0,
      tokenFlowReduction: 0,
      processingTimeInMs: 0,
    });
    // Keepa says when in the body (refillIn, with tokensLeft and refillRate), never in a header.
    expect(r.headers.get('retry-after')).toBeNull();
    expect(sb?.state().rejected).toBe(1);

    // -23 needs 5 refills of 5 to be positive: at 4 it is still refused.
    t += 45_000 + 3 * 60_000; // 4 refills: balance -3
    expect((await product('X4')).status).toBe(429);
    t += 60_000;
    const ok = await product('X4');
    expect(ok.status).toBe(200);
    expect(ok.json.tokensLeft).toBe(1);
  });

  it('refills discretely per minute, capped at capacity', async () => {
    await start({ capacity: 30, refillPerMinute: 20 });
    await product(Array.from({ length: 25 }, (_, i) => `A${i}`).join(','));
    expect(sb?.state().tokensLeft).toBe(5);
    t += 59_999;
    expect(sb?.state()).toMatchObject({ tokensLeft: 5, refillIn: 1 });
    t += 1;
    expect(sb?.state()).toMatchObject({ tokensLeft: 25, refillIn: 60_000 });
    t += 10 * 60_000;
    expect(sb?.state().tokensLeft).toBe(30);
  });

  it('rejects offers out of range with 400 invalidParameter, without charging', async () => {
    await start();
    for (const o of ['0', '19', '101', 'abc']) {
      const r = await product('B1', `&offers=${o}`);
      expect(r.status).toBe(400);
      expect(r.json.error.type).toBe('invalidParameter');
      expect(typeof r.json.error.message).toBe('string');
    }
    for (const domain of ['0', '7', '13', '99', 'x']) {
      expect((await get(`/product?key=${KEY}&domain=${domain}&asin=B1`)).status).toBe(400);
    }
    expect(sb?.state().tokensLeft).toBe(300);
  });

  it('rejects a missing or unknown key with 400, as Keepa does (no 401)', async () => {
    await start();
    for (const path of ['/product?domain=1&asin=B1', '/product?key=nope&domain=1&asin=B1']) {
      const r = await get(path);
      expect(r.status).toBe(400);
      expect(r.json.error).toMatchObject({ type: 'invalidKey' });
    }
    expect((await get('/token?key=nope')).status).toBe(400);
    expect(sb?.state().tokensLeft).toBe(300);
  });

  it('answers 404 for an unknown endpoint and 405 for another method', async () => {
    await start();
    expect((await get(`/nothing?key=${KEY}`)).status).toBe(404);
    const put = await fetch(`${sb?.url}/product?key=${KEY}&domain=1&asin=B1`, { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(sb?.state().tokensLeft).toBe(300);
  });

  it('/token is free', async () => {
    await start();
    await product('B1,B2');
    for (let i = 0; i < 3; i++) {
      const r = await get(`/token?key=${KEY}`);
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ tokensLeft: 298, refillRate: 20, tokensConsumed: 0 });
    }
    expect(sb?.state().tokensLeft).toBe(298);
  });

  it('misbehaves on demand', async () => {
    const slept: number[] = [];
    await start({
      slowMs: 3_000,
      sleep: async (ms) => {
        slept.push(ms);
      },
    });
    sb?.misbehave('429');
    const r429 = await product('B1');
    expect(r429.status).toBe(429);
    expect(r429.headers.get('retry-after')).toBeNull();
    expect(r429.json).toMatchObject({ refillIn: 60_000, tokensConsumed: 0 });
    expect((await get(`/token?key=${KEY}`)).status).toBe(429);

    sb?.misbehave('5xx');
    expect((await product('B1')).status).toBe(500);

    sb?.misbehave('malformed');
    const bad = await product('B1');
    expect(bad.status).toBe(200);
    expect(bad.json).toBeUndefined();

    sb?.misbehave('slow');
    const slow = await product('B1');
    expect(slow.status).toBe(200);
    expect(slept).toEqual([3_000]);

    sb?.misbehave('none');
    expect((await product('B1')).status).toBe(200);
    expect(sb?.state()).toMatchObject({ mode: 'none', tokensLeft: 298 });
  });

  it('answers hostile on demand: huge, a gzip bomb, a far Retry-After', async () => {
    const MIB = 1024 * 1024;
    await start({ hugeBytes: 3 * MIB, farRetryAfter: 'Fri, 01 Jan 2343 00:00:00 GMT' });
    sb?.misbehave('huge');
    const huge = await product('B1');
    expect(huge.status).toBe(200);
    expect(huge.headers.get('content-length')).toBeNull(); // streamed: no length announced
    expect(huge.text.length).toBe(3 * MIB);
    expect(huge.json).toMatchObject({ tokensLeft: expect.any(Number), products: [] });

    sb?.misbehave('gzip-bomb');
    const bomb = await product('B1'); // fetch undoes the Content-Encoding
    expect(Number(bomb.headers.get('content-length'))).toBeLessThan(10 * 1024);
    expect(bomb.text.length).toBe(3 * MIB);
    expect(bomb.json).toMatchObject({ products: [] });

    sb?.misbehave('far-retry-after');
    const far = await product('B1');
    expect(far.status).toBe(429);
    expect(far.headers.get('retry-after')).toBe('Fri, 01 Jan 2343 00:00:00 GMT');
    // A body far too long to look in for the meter fields: only the header says anything.
    expect(far.text.length).toBe(3 * MIB);
    expect(far.text.startsWith('{"error"')).toBe(true);
    expect(sb?.state()).toMatchObject({ tokensConsumed: 0 });
  });

  it('/deal serves deterministic pages of up to 150 deals for 5 tokens each, then empty pages', async () => {
    await start({ capacity: 300, refillPerMinute: 20, deals: 320 });
    const first = await deal(query({ domainId: 3, page: 0 }));
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({
      timestamp: t,
      tokensLeft: 300 - DEAL_COST,
      tokensConsumed: DEAL_COST,
      refillRate: 20,
      refillIn: 60_000,
    });
    // DealResponse: the deals and the root categories of all matched deals, nothing else.
    expect(Object.keys(first.json.deals).sort()).toEqual([
      'categoryCount',
      'categoryIds',
      'categoryNames',
      'dr',
    ]);
    expect(first.json.deals.categoryIds).toHaveLength(7);
    expect(first.json.deals.categoryNames).toHaveLength(7);
    expect(
      (first.json.deals.categoryCount as number[]).reduce((sum: number, n: number) => sum + n, 0),
    ).toBe(320);
    const dr = first.json.deals.dr;
    expect(dr).toHaveLength(DEALS_PER_PAGE);
    expect(dr[0]).toMatchObject({ asin: sandboxDealAsin(0, 3) });
    expect(typeof dr[0].title).toBe('string');
    expect(dr[0].current[1]).toBeGreaterThan(0);
    expect(dr[0].deltaPercent).toHaveLength(4);
    expect(dr[0].deltaPercent[0][1]).toBeLessThan(0);
    expect(first.json.deals.categoryIds).toContain(dr[0].rootCat);

    // The deal's current prices are the product's.
    const p = await get(`/product?key=${KEY}&domain=3&asin=${dr[0].asin}&stats=1`);
    expect(p.json.products[0].stats.current).toEqual(dr[0].current);

    const second = await deal(query({ domainId: 3, page: 1 }));
    const third = await deal(query({ domainId: 3, page: 2, deltaPercentRange: [20, 100] }));
    const past = await deal(query({ domainId: 3, page: 3 }));
    expect(second.json.deals.dr).toHaveLength(150);
    expect(third.json.deals.dr).toHaveLength(20);
    expect(past.status).toBe(200);
    expect(past.json.deals.dr).toEqual([]);
    // 320 distinct ASINs over the pages; the same page again is the same page.
    const all = [first, second, third].flatMap((r) =>
      (r.json.deals.dr as Array<{ asin: string }>).map((d) => d.asin),
    );
    expect(new Set(all).size).toBe(320);
    expect((await deal(query({ domainId: 3, page: 0 }))).json.deals.dr).toEqual(dr);
    // Another domain has other deals.
    expect((await deal(query({ domainId: 1 }))).json.deals.dr[0].asin).not.toBe(dr[0].asin);
    expect(sb?.state()).toMatchObject({
      dealsServed: 6,
      served: 1,
      tokensConsumed: 6 * DEAL_COST + 1,
      tokensLeft: 300 - 6 * DEAL_COST - 1,
    });
    expect(sb?.state().dealQueries[2]).toEqual(
      query({ domainId: 3, page: 2, deltaPercentRange: [20, 100] }),
    );
  });

  it('/deal takes the query as a POST body too, as the official clients send it', async () => {
    await start();
    const res = await fetch(`${sb?.url}/deal?key=${KEY}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=UTF-8' },
      body: JSON.stringify(query({ domainId: 3, page: 0 })),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { deals: { dr: Array<{ asin: string }> } };
    expect(body.deals.dr[0]?.asin).toBe(sandboxDealAsin(0, 3));
    const post = (path: string) => fetch(`${sb?.url}${path}`, { method: 'POST', body: '{}' });
    expect((await post(`/product?key=${KEY}&domain=1&asin=B1`)).status).toBe(405);
    expect((await post(`/deal?key=${KEY}`)).status).toBe(400); // no domain, no price type
  });

  it('/deal follows the bucket rule: runs on a positive balance, 429 at zero', async () => {
    await start({ capacity: 6, refillPerMinute: 5 });
    expect((await deal(query({ domainId: 1 }))).json.tokensLeft).toBe(1);
    const last = await deal(query({ domainId: 1, page: 1 }));
    expect(last.status).toBe(200);
    expect(last.json.tokensLeft).toBe(-4);
    const refused = await deal(query({ domainId: 1, page: 2 }));
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBeNull();
    expect(refused.json).toMatchObject({ tokensLeft: -4, tokensConsumed: 0, refillIn: 60_000 });
    expect(sb?.state()).toMatchObject({ dealsServed: 2, rejected: 1, tokensConsumed: 10 });
  });

  it('/deal rejects a missing or malformed query with 400, without charging', async () => {
    await start();
    const noSelection = await get(`/deal?key=${KEY}`);
    expect(noSelection.status).toBe(400);
    expect(noSelection.json.error.type).toBe('invalidParameter');
    for (const selection of [
      [1],
      'x',
      { page: 0, priceTypes: [1] },
      { domainId: 99, priceTypes: [1] },
      { domainId: 7, priceTypes: [1] },
      { domainId: 13, priceTypes: [1] },
      { domainId: 1, page: -1, priceTypes: [1] },
      { domainId: 1 },
      { domainId: 1, priceTypes: [] },
      { domainId: 1, priceTypes: [0, 1] },
      { domainId: 1, priceTypes: [4] },
      { domainId: 1, priceTypes: [1], dateRange: 4 },
      { domainId: 1, priceTypes: [1], sortType: -1 },
    ]) {
      const r = await deal(selection);
      expect(r.status).toBe(400);
      expect(r.json.error.type).toBe('invalidParameter');
    }
    expect(
      (await get(`/deal?key=nope&selection=${encodeURIComponent('{"domainId":1}')}`)).status,
    ).toBe(400);
    expect(sb?.state()).toMatchObject({ tokensLeft: 300, tokensConsumed: 0, dealsServed: 0 });
  });

  it('every /product and /deal answer carries the meter fields', async () => {
    await start({ capacity: 3, refillPerMinute: 1 });
    const answers = [
      await product('B1', '&stats=30'),
      await product('B1', '&offers=0'),
      await deal(query({ domainId: 1 })),
      await deal(query({ domainId: 1 })), // balance <= 0 now: 429
      await product('B1'),
      await get(`/deal?key=${KEY}&selection=%7B`),
      await get(`/token?key=${KEY}`),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 400, 200, 429, 429, 400, 200]);
    for (const answer of answers) {
      for (const field of METER_FIELDS) expect(typeof answer.json[field]).toBe('number');
    }
    expect(answers.map((a) => a.json.tokensConsumed)).toEqual([1, 0, 5, 0, 0, 0, 0]);
  });

  it('history=0 leaves out the price histories at the same cost', async () => {
    await start();
    const r = await product('B1,B2', '&stats=30&history=0');
    expect(r.json.tokensConsumed).toBe(2);
    expect(r.json.products[0].csv).toBeNull();
    expect(r.json.products[0].stats.current[1]).toBeGreaterThan(0);
  });
});
