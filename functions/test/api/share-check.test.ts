import { HttpsError } from 'firebase-functions/v2/https';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadRuntimeConfig } from '../../src/adapters/config-repository';
import { quietLogger } from '../support/quiet-logger';
import {
  type ApiFixture,
  apiFixture,
  as,
  changedPaths,
  quickSnapshot,
  SEED_COLLECTION,
} from './support';

/**
 * A share too small for its category's work is refused where configuration is accepted: an
 * operator's change is failed-precondition naming the category and its share field, and writes
 * nothing; a stored configuration like it still loads (see below). The fixture's `deals` category (40% of
 * a 300-token Keepa bucket) runs a Keepa collection, whose commit batches ask 60 tokens (5 ASINs at Keepa's documented 12);
 * `spapi-realtime-sales` (40% of getReport, burst 10) runs the SP-API sync.
 */

quietLogger();

let f: ApiFixture;
beforeEach(async () => {
  f = await apiFixture();
});
afterEach(() => f.close());

async function run(name: keyof ApiFixture['callables'], data: unknown) {
  const fn = f.callables[name] as { run: (r: unknown) => Promise<unknown> };
  return fn.run(as('operator', data, 'op-1'));
}

/** Expects failed-precondition and no document changed; returns the error. */
async function refused(name: keyof ApiFixture['callables'], data: unknown): Promise<HttpsError> {
  const before = await quickSnapshot(f.db);
  const error = await run(name, data).then(
    () => {
      throw new Error(`${name} did not fail`);
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HttpsError);
  expect((error as HttpsError).code, (error as HttpsError).message).toBe('failed-precondition');
  expect(changedPaths(before, await quickSnapshot(f.db))).toEqual([]);
  return error as HttpsError;
}

const data = async (path: string) => (await f.db.doc(path).get()).data();

const DEALS_AT_10 =
  'share 10% of token bucket 300@5/s carries at most 28 per call; the work asks 60 (Keepa ingest commit batch (5 x 12))';

describe('setCategoryAllocation', () => {
  it('refuses a share too small for the work, naming the category, the field and the cost', async () => {
    const error = await refused('setCategoryAllocation', { category: 'deals', sharePercent: 10 });
    expect(error.message).toBe(
      `invalid configuration in categories/deals: sharePercent: ${DEALS_AT_10}`,
    );
    expect(error.details).toEqual({
      document: 'categories/deals',
      issues: [{ path: 'sharePercent', message: DEALS_AT_10 }],
    });
    expect(await data('categories/deals')).toMatchObject({ sharePercent: 40 });
  });

  it('refuses it when redistributing too, and an override that pins a share too small', async () => {
    await refused('setCategoryAllocation', {
      category: 'deals',
      sharePercent: 10,
      redistribute: true,
    });
    const error = await refused('setCategoryAllocation', {
      category: 'deals',
      overridePercent: 10,
    });
    expect(error.details).toMatchObject({ issues: [{ path: 'overridePercent' }] });
  });

  it('accepts the smallest share that carries the work: 20.67% of the bucket for 60 tokens', async () => {
    await refused('setCategoryAllocation', { category: 'deals', sharePercent: 20.66 });
    await run('setCategoryAllocation', { category: 'deals', sharePercent: 20.67 });
    expect(await data('categories/deals')).toMatchObject({ sharePercent: 20.67 });
    // Categories without work (no collection runs on `historical`) take any share.
    await run('setCategoryAllocation', { category: 'historical', sharePercent: 2 });
  });

  it("refuses the SP-API sync's category a share of getReport below one call", async () => {
    const error = await refused('setCategoryAllocation', {
      category: 'spapi-realtime-sales',
      sharePercent: 20,
    });
    expect(error.message).toContain(
      'share 20% of getReport 1/s burst 10 carries at most 0 per call; the work asks 1 (SP-API real-time sales sync: getReport)',
    );
    await run('setCategoryAllocation', { category: 'spapi-realtime-sales', sharePercent: 30 });
  });
});

describe('pause and resume', () => {
  it('a paused category asks nothing, so takes any share; resuming it on one too small is refused', async () => {
    await run('pauseCategory', { category: 'deals' });
    await run('setCategoryAllocation', { category: 'deals', sharePercent: 10 });
    const error = await refused('resumeCategory', { category: 'deals' });
    expect(error.details).toEqual({
      document: 'categories/deals',
      issues: [{ path: 'sharePercent', message: DEALS_AT_10 }],
    });
    expect(await data('categories/deals')).toMatchObject({ paused: true });
    expect(await data(`collections/${SEED_COLLECTION}`)).toMatchObject({ status: 'paused' });
  });
});

describe('startCollection', () => {
  const base = { id: 'hist-2026', provider: 'keepa', category: 'historical', targets: { a: 10 } };

  it("refuses a Keepa collection whose first phase's share cannot carry its batches", async () => {
    // The default schedule starts at 15%: 43 tokens of 300, for 60-token commit batches; its later
    // phases (10%, 7%, 4.2%) are named too.
    const error = await refused('startCollection', base);
    const details = error.details as { document: string; issues: Array<{ message: string }> };
    expect(details.document).toBe('categories/historical');
    expect(details.issues.map((i) => i.message.slice(0, 38))).toEqual([
      'share 15% of token bucket 300@5/s carr',
      'phase 2 of collection hist-2026 (from ',
      'phase 3 of collection hist-2026 (from ',
      'phase 4 of collection hist-2026 (from ',
    ]);
  });

  it('refuses a schedule whose later phase cannot carry the work, before it starts', async () => {
    const error = await refused('startCollection', {
      ...base,
      phases: [
        { fromPercent: 0, sharePercent: 30 },
        { fromPercent: 50, sharePercent: 10 },
      ],
    });
    expect(error.message).toContain(
      'sharePercent: phase 2 of collection hist-2026 (from 50% complete): share 10% of token bucket 300@5/s carries at most 28 per call',
    );
    await run('startCollection', { ...base, phases: [{ fromPercent: 0, sharePercent: 30 }] });
    expect(await data('collections/hist-2026')).toMatchObject({ status: 'running' });
  });
});

describe('setFlags', () => {
  it('refuses batches larger than a category running them can carry', async () => {
    // 40% of the bucket carries 118 tokens a call.
    const error = await refused('setFlags', { pipeline: { batching: { peek: { size: 200 } } } });
    expect(error.message).toContain('the work asks 200 (Keepa ingest peek batch (200 x 1))');
    await run('setFlags', { pipeline: { batching: { peek: { size: 100 } } } });
  });
});

describe('loading a stored configuration', () => {
  it('still loads when a share is too small: one category must not stop every provider', async () => {
    // Phase changes lower shares on their own; refusing to load would stop every gate call,
    // getStatus and allocation publishing. The gate answers such calls "retry later" instead.
    await f.db.doc('categories/deals').update({ sharePercent: 10 });
    await expect(loadRuntimeConfig(f.db)).resolves.toMatchObject({ flags: {} });
    await expect(f.callables.getStatus.run(as('viewer', {}))).resolves.toBeDefined();
  });
});
