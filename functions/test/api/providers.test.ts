import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QuotaEngine } from '../../src/adapters/quota/quota-engine';
import type { SetProviderLimitsResult, StartCooldownResult } from '../../src/core/operations';
import { ALLOCATION_LEAD_MS } from '../../src/core/quota/epochs';
import { quietLogger } from '../support/quiet-logger';
import { type ApiFixture, apiFixture, auditEntries, call, fullSnapshot } from './support';

/**
 * Providers by API: limits, cooldowns, URLs and settings changed (or a provider created) through
 * setProviderLimits, validated as the configuration is, checked against the categories' work,
 * audited and republished with the usual lead; a cooldown started by hand stops the gate.
 */

quietLogger();

let f: ApiFixture;
beforeEach(async () => {
  f = await apiFixture();
});
afterEach(() => f.close());

async function set(data: unknown) {
  return call(f, 'setProviderLimits', data, 'operator');
}

describe('setProviderLimits', () => {
  it('replaces the given fields, audits before/after, and republishes with the lead', async () => {
    // Published once as it is (a first allocation is in force from the start)...
    expect(await set({ provider: 'keepa', cooldownSeconds: 700 })).toMatchObject({ ok: true });
    const before = (await f.db.doc('providers/keepa').get()).data();
    // ...then new limits start after the lead, as a share change does.
    const outcome = await set({
      provider: 'keepa',
      limits: [{ kind: 'tokenBucket', capacity: 600, refillPerSecond: 10 }],
      cooldownSeconds: 900,
      settings: { domainId: 3 },
    });
    expect(outcome.ok, JSON.stringify(outcome)).toBe(true);
    const result = (outcome as { result: SetProviderLimitsResult }).result;
    expect(result).toMatchObject({ created: false, changed: true, allocationPublished: true });
    expect(result.effectiveFromMs).toBeGreaterThanOrEqual(f.clock.now + ALLOCATION_LEAD_MS);
    const stored = (await f.db.doc('providers/keepa').get()).data();
    expect(stored).toMatchObject({
      displayName: 'Keepa',
      cooldownSeconds: 900,
      settings: { domainId: 3 },
      limits: [{ kind: 'tokenBucket', capacity: 600, refillPerSecond: 10 }],
    });
    const allocation = (await f.db.doc('quotaAllocations/keepa').get()).data();
    expect(JSON.stringify(allocation)).toContain('600');
    const audit = (await auditEntries(f.db)).find(
      (a) =>
        a.what === 'setProviderLimits' &&
        (a.after as { cooldownSeconds: number }).cooldownSeconds === 900,
    );
    expect(audit).toMatchObject({ target: 'providers/keepa', before, after: stored });
    // The same again changes nothing and writes nothing.
    const again = await set({ provider: 'keepa', cooldownSeconds: 900 });
    expect(again).toMatchObject({ ok: true, result: { changed: false, auditId: null } });
  });

  it('refuses what the configuration refuses, naming the field, and writes nothing', async () => {
    const snapshot = await fullSnapshot(f.db);
    for (const [data, path] of [
      [
        { provider: 'keepa', limits: [{ kind: 'tokenBucket', capacity: 1, refillPerSecond: 1 }] },
        'limits',
      ],
      [{ provider: 'keepa', baseUrl: 'http://169.254.169.254/latest' }, 'baseUrl'],
      [{ provider: 'keepa', baseUrl: 'https://user:pass@keepa.example' }, 'baseUrl'],
      [{ provider: 'callers', limits: [{ kind: 'concurrency', max: 1 }] }, 'provider'],
      [{ provider: 'newcomer', cooldownSeconds: 60 }, 'limits'],
    ] as const) {
      const outcome = await set(data);
      expect(outcome.ok ? 'ok' : outcome.error.code, JSON.stringify(data)).toBe('invalid-argument');
      if (!outcome.ok) expect(JSON.stringify(outcome.error.details)).toContain(path);
    }
    expect(await fullSnapshot(f.db)).toEqual(snapshot);
  });

  it("refuses limits the categories' work cannot carry: failed-precondition naming it", async () => {
    // The seeded Keepa collection asks batches the deals category must carry at its 40%.
    const outcome = await set({
      provider: 'keepa',
      limits: [{ kind: 'tokenBucket', capacity: 20, refillPerSecond: 1 }],
    });
    expect(outcome.ok ? 'ok' : outcome.error.code).toBe('failed-precondition');
    expect((await f.db.doc('providers/keepa').get()).get('limits')[0].capacity).toBe(300);
  });

  it('creates a provider with its limits', async () => {
    const outcome = await set({
      provider: 'newcomer',
      limits: [{ kind: 'window', unit: 'minute', limit: 60, measure: 'requests' }],
      baseUrl: 'https://api.newcomer.example/v2',
    });
    expect(outcome).toMatchObject({ ok: true, result: { created: true, changed: true } });
    expect((await f.db.doc('providers/newcomer').get()).data()).toMatchObject({
      baseUrl: 'https://api.newcomer.example/v2',
    });
  });
});

describe('startCooldown', () => {
  it('starts a cooldown by hand, audited with its reason; the gate stops; a longer one is kept', async () => {
    await f.db.doc('cooldowns/keepa').delete();
    const outcome = await call(
      f,
      'startCooldown',
      { provider: 'keepa', seconds: 600, reason: 'Keepa asked us to pause' },
      'operator',
    );
    expect(outcome.ok, JSON.stringify(outcome)).toBe(true);
    const result = (outcome as { result: StartCooldownResult }).result;
    expect(result).toMatchObject({
      changed: true,
      cooldown: { untilMs: f.clock.now + 600_000, lastOperation: 'manual', hits: 1 },
    });
    const audit = (await auditEntries(f.db)).find((a) => a.what === 'startCooldown');
    expect(audit).toMatchObject({ target: 'cooldowns/keepa', reason: 'Keepa asked us to pause' });
    const engine = new QuotaEngine(f.db, { now: () => f.clock.now });
    expect(await engine.acquire({ provider: 'keepa', category: 'deals' })).toMatchObject({
      kind: 'retryAt',
      reason: 'cooldown',
      atMs: f.clock.now + 600_000,
    });
    // Shorter than what runs: kept as it is, nothing written.
    const shorter = await call(
      f,
      'startCooldown',
      { provider: 'keepa', seconds: 60, reason: 'again' },
      'operator',
    );
    expect(shorter).toMatchObject({ ok: true, result: { changed: false, auditId: null } });
    const unknown = await call(
      f,
      'startCooldown',
      { provider: 'nope', seconds: 60, reason: 'x' },
      'operator',
    );
    expect(unknown.ok ? 'ok' : unknown.error.code).toBe('not-found');
  });
});
