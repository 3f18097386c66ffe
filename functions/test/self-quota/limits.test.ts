import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Firestore } from 'firebase-admin/firestore';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { attachSelfQuota } from '../../src/adapters/storage/self-quota-runtime';
import { DEFAULT_SELF_QUOTA, SelfQuotaMonitor } from '../../src/core/storage/self-quota';
import { selfQuotaSettings } from '../../src/core/storage/self-quota-config';
import { logger } from '../../src/log';
import { testFirestore } from '../support/firestore';

/** The seed's documents (emulator-data/demo-documents.json), as an operator would find them. */
const seed = JSON.parse(
  readFileSync(join(__dirname, '..', '..', '..', 'emulator-data', 'demo-documents.json'), 'utf8'),
) as Record<string, Record<string, unknown>>;
const seededProvider = seed['providers/firestore']!;
const seededCategory = seed['categories/firestore-pipeline']!;

let db: Firestore;
let close: () => Promise<void>;
beforeEach(() => ({ db, close } = testFirestore()));
afterEach(async () => {
  vi.restoreAllMocks();
  await close();
});

function setup(cacheMs = 60_000) {
  const clock = { ms: Date.UTC(2026, 0, 1, 12) };
  const monitor = new SelfQuotaMonitor({}, () => clock.ms);
  const quota = attachSelfQuota(db, monitor, { now: () => clock.ms, cacheMs });
  return { clock, monitor, quota };
}

describe('self-quota limits from providers/firestore (pure)', () => {
  it('reads the seeded shape: second and minute windows limit writes and deletes', () => {
    const settings = selfQuotaSettings(seededProvider, seededCategory);
    expect(settings.problems).toEqual([]);
    expect(settings.limitsSource).toBe('provider');
    expect(settings.options.limits).toEqual({
      write: { perSecond: 500, perMinute: 20_000 },
      delete: { perSecond: 500, perMinute: 20_000 },
    });
    expect(settings.options.backgroundShare).toBe(1);
  });

  it('lets settings set each op, the tightest window winning otherwise', () => {
    const settings = selfQuotaSettings(
      {
        limits: [
          { kind: 'window', unit: 'second', limit: 300, measure: 'requests' },
          { kind: 'window', unit: 'second', limit: 200 },
          { kind: 'window', unit: 'day', limit: 1_000_000 },
        ],
        settings: { readPerSecond: 2000, deletePerMinute: 900 },
      },
      { provider: 'firestore', sharePercent: 50 },
    );
    expect(settings.options.limits).toEqual({
      read: { perSecond: 2000 },
      write: { perSecond: 200 },
      delete: { perSecond: 200, perMinute: 900 },
    });
    expect(settings.options.backgroundShare).toBe(0.5);
  });

  it.each([
    ['absent', undefined, /does not exist/],
    ['a negative limit', { limits: [{ kind: 'window', unit: 'second', limit: -5 }] }, /limit/],
    ['no limits', { limits: [] }, /limits/],
    [
      'a limit beyond the bound',
      { limits: [{ kind: 'window', unit: 'second', limit: 5e6 }] },
      /at most 1000000/,
    ],
    [
      'a setting that is not a number',
      { limits: [{ kind: 'window', unit: 'second', limit: 5 }], settings: { readPerSecond: 'x' } },
      /readPerSecond/,
    ],
    [
      'only limits that do not apply',
      { limits: [{ kind: 'window', unit: 'hour', limit: 5 }] },
      /no second or minute window/,
    ],
  ])('falls back to the defaults when %s', (_, provider, problem) => {
    const settings = selfQuotaSettings(provider, undefined);
    expect(settings.limitsSource).toBe('default');
    expect(settings.options.limits).toEqual({});
    expect(settings.problems.join()).toMatch(problem);
  });

  it('gives a paused pipeline category the slowest pace and ignores an invalid one', () => {
    const paused = selfQuotaSettings(seededProvider, { ...seededCategory, paused: true });
    expect(paused.options.backgroundShare).toBe(0.01);
    const pinned = selfQuotaSettings(seededProvider, { ...seededCategory, overridePercent: 25 });
    expect(pinned.options.backgroundShare).toBe(0.25);
    const invalid = selfQuotaSettings(seededProvider, { provider: 'firestore', sharePercent: 300 });
    expect(invalid.options.backgroundShare).toBe(1);
    expect(invalid.problems.join()).toMatch(/categories\/firestore-pipeline: sharePercent/);
    const foreign = selfQuotaSettings(seededProvider, { provider: 'keepa', sharePercent: 10 });
    expect(foreign.options.backgroundShare).toBe(1);
  });
});

describe('self-quota limits applied from Firestore', () => {
  it('applies the seeded documents, and takes a change after the cache time only', async () => {
    await db.doc('providers/firestore').set(seededProvider);
    await db.doc('categories/firestore-pipeline').set(seededCategory);
    const { clock, monitor, quota } = setup();
    const status = await quota.status();
    expect(status.limitsSource).toBe('provider');
    expect(status.usage.write.second.limit).toBe(500);
    expect(status.usage.delete.minute.limit).toBe(20_000);
    expect(status.usage.read.second.limit).toBe(DEFAULT_SELF_QUOTA.limits.read.perSecond);

    await db.doc('providers/firestore').update({
      limits: [{ kind: 'window', unit: 'second', limit: 50 }],
    });
    clock.ms += 30_000;
    await quota.status();
    expect(monitor.config.limits.write.perSecond).toBe(500); // still cached
    clock.ms += 30_000;
    await quota.status();
    expect(monitor.config.limits.write.perSecond).toBe(50);
    // The minute limit not given any more: back to the default.
    expect(monitor.config.limits.write.perMinute).toBe(DEFAULT_SELF_QUOTA.limits.write.perMinute);
  });

  it('the provider limits take effect: the monitor throttles at 80% of them', async () => {
    await db.doc('providers/firestore').set({
      limits: [{ kind: 'window', unit: 'second', limit: 10 }],
    });
    const { monitor, quota } = setup();
    await quota.status();
    const batch = db.batch();
    for (let i = 0; i < 9; i++) batch.set(db.doc(`d/${i}`), { i });
    await batch.commit();
    expect(monitor.usage('write', 'second')).toBe(9);
    expect(monitor.throttled()).toBe(true);
    expect(monitor.recent().at(-1)).toMatchObject({ op: 'write', limit: 10, percent: 90 });
  });

  it('falls back to the defaults on an invalid document, warning once, and recovers', async () => {
    const warn = vi.spyOn(logger, 'warn').mockImplementation(() => undefined);
    await db.doc('providers/firestore').set({
      limits: [{ kind: 'window', unit: 'second', limit: 'lots' }],
    });
    const { clock, monitor, quota } = setup(1000);
    expect((await quota.status()).limitsSource).toBe('default');
    expect(monitor.config.limits).toEqual(DEFAULT_SELF_QUOTA.limits);
    const configWarnings = () =>
      warn.mock.calls.filter((c) => String(c.at(-1)).includes('configuration not used'));
    expect(configWarnings()).toHaveLength(1);
    expect(JSON.stringify(configWarnings()[0]![0])).toContain('providers/firestore: limits[0]');
    clock.ms += 5000;
    await quota.status();
    expect(configWarnings()).toHaveLength(1); // the same problem is not logged again

    await db.doc('providers/firestore').set(seededProvider);
    clock.ms += 5000;
    expect((await quota.status()).limitsSource).toBe('provider');
    expect(monitor.config.limits.write.perSecond).toBe(500);
  });

  it('keeps the limits it has when the documents cannot be read', async () => {
    await db.doc('providers/firestore').set(seededProvider);
    const { clock, monitor, quota } = setup(1000);
    await quota.status();
    expect(monitor.config.limits.write.perSecond).toBe(500);
    vi.spyOn(logger, 'warn').mockImplementation(() => undefined);
    vi.spyOn(db, 'getAll').mockRejectedValueOnce(new Error('14 UNAVAILABLE'));
    clock.ms += 5000;
    await expect(quota.status()).resolves.toBeDefined();
    expect(monitor.config.limits.write.perSecond).toBe(500);
  });
});
