import type { SimulatePolicyResult } from '@tollgate/client';
import { simulatePolicyInput } from '@tollgate/client';
import { describe, expect, it } from 'vitest';
import { replayPolicyOf, replayRows } from '../src/replay-model.ts';

/** The replay view's policy (what it sends) and its side-by-side rows (what it shows). */

describe('replayPolicyOf', () => {
  const configured = { deals: 70, history: 30 };

  it('sends the shares that changed, and nothing for an empty or unchanged box', () => {
    expect(replayPolicyOf({ deals: '50', history: '30' }, configured, '')).toEqual({
      policy: { categories: [{ id: 'deals', sharePercent: 50 }] },
    });
    expect(replayPolicyOf({ deals: ' ', history: '' }, configured, '')).toEqual({ policy: {} });
  });

  it('merges the documents written as JSON, by id, with the shares', () => {
    const made = replayPolicyOf(
      { deals: '50' },
      configured,
      '{"categories": [{"id": "deals", "paused": true}, {"id": "history", "sharePercent": 40}],' +
        ' "providers": [{"id": "keepa", "safetyMarginMs": 50}], "flags": {"maintenance": false}}',
    );
    expect(made).toEqual({
      policy: {
        categories: [
          { id: 'deals', sharePercent: 50, paused: true },
          { id: 'history', sharePercent: 40 },
        ],
        providers: [{ id: 'keepa', safetyMarginMs: 50 }],
        flags: { maintenance: false },
      },
    });
    // What it makes is what the callable takes.
    if (!('policy' in made)) throw new Error('no policy');
    expect(
      simulatePolicyInput.safeParse({ from: 0, to: 60_000, policy: made.policy }).success,
    ).toBe(true);
  });

  it('names the field of a box or JSON it cannot read, and sends nothing', () => {
    expect(replayPolicyOf({ deals: '5O' }, configured, '')).toEqual({
      issues: [{ path: 'share.deals', message: 'not a number: "5O"' }],
    });
    const bad = replayPolicyOf({}, configured, '{"categories": [');
    expect('issues' in bad && bad.issues[0]!.path).toBe('documents');
    expect(replayPolicyOf({}, configured, '[1, 2]')).toEqual({
      issues: [
        { path: 'documents', message: 'an object with "providers", "categories" and/or "flags"' },
      ],
    });
  });

  it('leaves a malformed categories field for the callable to name', () => {
    expect(replayPolicyOf({ deals: '50' }, configured, '{"categories": 3}')).toEqual({
      policy: { categories: 3 },
    });
  });
});

describe('replayRows', () => {
  const outcome = (granted: number, p50: number): SimulatePolicyResult['current'] => ({
    categories: [
      {
        provider: 'keepa',
        category: 'deals',
        asked: 1_000,
        granted,
        grantedCost: granted,
        deferrals: 1_000 - granted,
        deferralsByReason: {},
        refused: 0,
        waitingAtEnd: 0,
        waitMs: { p50, p90: p50, p99: 2 * p50, max: 2 * p50 },
        quota429: 0,
      },
    ],
    limits: [
      {
        provider: 'keepa',
        limit: 'bucket',
        used: granted,
        allowance: 1_000,
        utilization: granted / 1_000,
      },
    ],
    upstream429: granted > 900 ? [{ provider: 'keepa', limit: 'bucket', count: 3 }] : [],
    collections: [
      {
        id: 'c1',
        category: 'deals',
        remaining: 50,
        ratePerSecond: 1,
        etaMs: granted * 1_000,
        deadlineMs: null,
        status: 'no-deadline',
      },
    ],
    claims: { won: 1, lost: 0 },
  });

  it('shows current → proposed for every limit, category and collection', () => {
    const rows = replayRows({
      fromMs: 0,
      toMs: 3_600_000,
      seed: 1,
      instances: 10,
      demand: { minutes: 60, asked: 1_000, firstAsks: 1_000 },
      current: outcome(800, 1_000),
      proposed: outcome(950, 90_000),
      speedup: 100,
      wallMs: 72_000,
      documents: 60,
      changed: { providers: [], categories: ['deals'], flags: [] },
    });
    expect(rows.limits).toEqual([
      expect.objectContaining({ limit: 'bucket', utilization: '80% → 95%', used: '800 → 950' }),
    ]);
    expect(rows.categories).toEqual([
      expect.objectContaining({
        key: 'keepa/deals',
        asked: '1,000',
        granted: '800 → 950',
        deferrals: '200 → 50',
        waitP50: '1 s → 1 min 30 s',
      }),
    ]);
    expect(rows.upstream429).toEqual({ current: 'none', proposed: 'keepa bucket: 3' });
    expect(rows.collections[0]).toMatchObject({
      id: 'c1',
      eta: '1970-01-01 00:13:20 → 1970-01-01 00:15:50',
      status: 'no-deadline → no-deadline',
    });
  });
});
