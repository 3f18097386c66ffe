import { afterEach, describe, expect, it } from 'vitest';
import {
  KEEPA_SANDBOX_KEY,
  type KeepaSandbox,
  type KeepaSandboxOptions,
  startKeepaSandbox,
} from '../../src/sandbox/keepa.ts';

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

describe('Keepa sandbox', () => {
  it('charges 1 per ASIN, 7 with offers, and serves deterministic products', async () => {
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

    const b = await product('B000000003,B000000004', '&offers=20');
    expect(b.json).toMatchObject({ tokensConsumed: 14, tokensLeft: 283 });
    expect(Array.isArray(b.json.products[0].offers)).toBe(true);
    expect(sb?.state()).toMatchObject({ tokensLeft: 283, tokensConsumed: 17, served: 3 });
  });

  it('serves while positive even into a negative balance, then 429 with Retry-After', async () => {
    await start({ capacity: 10, refillPerMinute: 5 });
    const asins = Array.from({ length: 9 }, (_, i) => `B00000000${i}`).join(',');
    expect((await product(asins)).json.tokensLeft).toBe(1);
    const big = await product('X1,X2,X3', '&offers=50'); // 21 tokens at balance 1
    expect(big.status).toBe(200);
    expect(big.json.tokensLeft).toBe(-20);

    t += 15_000;
    const r = await product('X4');
    expect(r.status).toBe(429);
    expect(r.json).toEqual({ tokensLeft: -20, refillIn: 45_000, refillRate: 5 });
    // -20 needs 5 refills to be positive: 45 s + 4 min.
    expect(r.headers.get('retry-after')).toBe(String(45 + 240));
    expect(sb?.state().rejected).toBe(1);

    t += 45_000 + 3 * 60_000; // 4 refills: balance 0, still refused
    expect((await product('X4')).status).toBe(429);
    t += 60_000;
    const ok = await product('X4');
    expect(ok.status).toBe(200);
    expect(ok.json.tokensLeft).toBe(4);
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
    expect((await get(`/product?key=${KEY}&domain=99&asin=B1`)).status).toBe(400);
    expect(sb?.state().tokensLeft).toBe(300);
  });

  it('answers 401 for a missing or unknown key', async () => {
    await start();
    expect((await get('/product?domain=1&asin=B1')).status).toBe(401);
    expect((await get('/product?key=nope&domain=1&asin=B1')).status).toBe(401);
    expect((await get('/token?key=nope')).status).toBe(401);
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
    expect(Number(r429.headers.get('retry-after'))).toBeGreaterThan(0);
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
});
