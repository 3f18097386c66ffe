import type { Firestore } from 'firebase-admin/firestore';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runAutoSyncCycle } from '../../src/adapters/pipeline/autosync';
import {
  autoSyncFetcher,
  registerAutoSyncFetcher,
} from '../../src/adapters/pipeline/autosync-fetchers';
import type { AutoSyncFetcher, SyncWindow } from '../../src/adapters/pipeline/autosync-input';
import { QuotaEngine } from '../../src/adapters/quota/quota-engine';
import { chunkId } from '../../src/core/pipeline/backfill';
import { QuotaExceededError } from '../../src/core/quota/errors';
import { testFirestore } from '../support/firestore';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const LAG = 5 * MINUTE;
const T0 = Date.UTC(2026, 0, 10, 12, 0, 0);
/** The last completed window ended a day before the safe end: four 6-hour chunks to fetch. */
const W0 = T0 - LAG - 24 * HOUR;
const chunk = (i: number) => {
  const window = { startMs: W0 + (i - 1) * 6 * HOUR, endMs: W0 + i * 6 * HOUR };
  return chunkId(window);
};
const SOURCE = 'spapi-vendor-sales';

let db: Firestore;
let close: () => Promise<void>;
let t: number;
const now = () => t;

async function seed(createReport = { ratePerSecond: 0.0167, burst: 15 }) {
  await db.doc('providers/spapi').set({
    displayName: 'Amazon SP-API Reports',
    limits: [
      { kind: 'operation', operation: 'createReport', ...createReport },
      { kind: 'operation', operation: 'getReport', ratePerSecond: 2, burst: 15 },
    ],
    cooldownSeconds: 1800,
  });
  await db.doc('categories/spapi-realtime-sales').set({
    provider: 'spapi',
    sharePercent: 100,
    priority: 1,
  });
  await db.doc(`autosync/${SOURCE}`).set({ watermarkMs: W0, completed: [] });
}

beforeEach(async () => {
  ({ db, close } = testFirestore());
  t = T0;
});
afterEach(() => close());

/** Records every call; `fail` decides per call what to throw. */
function fakeFetcher(
  fail: (window: SyncWindow, call: number) => Error | undefined = () => undefined,
) {
  const calls: SyncWindow[] = [];
  // Like the sales fetcher: its first request is a createReport, admitted by the cycle's gate.
  const fetchAndStore: AutoSyncFetcher = async (window, options) => {
    await options?.admit?.('createReport');
    calls.push(window);
    const error = fail(window, calls.length);
    if (error) throw error;
  };
  const backfill = () => calls.filter((c) => c.purpose === 'backfill').map((c) => c.id);
  return { calls, backfill, fetchAndStore };
}

function cycle(engine: QuotaEngine, fetchAndStore: AutoSyncFetcher) {
  return runAutoSyncCycle({
    db,
    engine,
    source: SOURCE,
    provider: 'spapi',
    category: 'spapi-realtime-sales',
    fetchAndStore,
    now,
  });
}

async function state() {
  return (await db.doc(`autosync/${SOURCE}`).get()).data();
}

describe('auto-sync cycle', () => {
  it('on a quota error keeps what was stored, cools down, and completes the rest afterwards', async () => {
    await seed();
    const engine = new QuotaEngine(db, { now });
    const fetcher = fakeFetcher((w, call) =>
      w.purpose === 'backfill' && call === 2
        ? new QuotaExceededError('spapi', 'createReport', undefined)
        : undefined,
    );

    const first = await cycle(engine, fetcher.fetchAndStore);
    expect(first).toMatchObject({
      stored: 1,
      failed: 1,
      aborted: 2,
      watermarkMs: W0 + 6 * HOUR,
      stopped: { kind: 'quota', untilMs: T0 + 1800_000 },
      auditsSkipped: true,
      audits: [],
    });
    // Chunks 3 and 4 were never attempted; the audits made no call either.
    expect(fetcher.calls.map((c) => c.id)).toEqual([chunk(1), chunk(2)]);
    // Exactly chunk 1 is marked: the watermark ends where chunk 2 begins, nothing beyond.
    expect(await state()).toMatchObject({ watermarkMs: W0 + 6 * HOUR, completed: [] });
    expect((await state())?.audits).toBeUndefined();
    const cooldown = await db.doc('cooldowns/spapi').get();
    expect(cooldown.get('until').toMillis()).toBe(T0 + 1800_000);

    t = T0 + 10 * MINUTE;
    const during = await cycle(engine, fetcher.fetchAndStore);
    expect(during).toEqual({ skipped: 'cooldown', until: T0 + 1800_000 });
    expect(fetcher.calls).toHaveLength(2);
    expect(await state()).toMatchObject({ watermarkMs: W0 + 6 * HOUR, completed: [] });

    t = T0 + 1800_000 + MINUTE;
    const after = await cycle(engine, fetcher.fetchAndStore);
    expect(fetcher.backfill().slice(2)).toEqual([
      chunk(2),
      chunk(3),
      chunk(4),
      // The half hour that passed meanwhile, up to the new safe end.
      chunkId({ startMs: T0 - LAG, endMs: t - LAG }),
    ]);
    expect(after).toMatchObject({
      stored: 4,
      failed: 0,
      aborted: 0,
      watermarkMs: t - LAG,
      auditsSkipped: false,
      audits: [{ kind: 'daily', stored: 4, failed: 0, aborted: 0, recorded: true }],
    });
    expect(await state()).toMatchObject({
      watermarkMs: t - LAG,
      completed: [],
      audits: { daily: t, weekly: null },
    });
    // Weekly is off by default; the daily audit re-fetched the last 24 hours in 6-hour chunks.
    const audits = fetcher.calls.filter((c) => c.purpose !== 'backfill');
    expect(audits.map((c) => c.purpose)).toEqual(['daily', 'daily', 'daily', 'daily']);
    expect(audits[0]!.startMs).toBe(t - LAG - 24 * HOUR);
    expect(audits.at(-1)!.endMs).toBe(t - LAG);
  });

  it('an ordinary error on one chunk lets the next proceed and leaves that chunk for the next cycle', async () => {
    await seed();
    const engine = new QuotaEngine(db, { now });
    let broken = true;
    const fetcher = fakeFetcher((w) =>
      broken && w.purpose === 'backfill' && w.id === chunk(2)
        ? new Error('report FATAL')
        : undefined,
    );

    const first = await cycle(engine, fetcher.fetchAndStore);
    expect(fetcher.backfill()).toEqual([chunk(1), chunk(2), chunk(3), chunk(4)]);
    expect(first).toMatchObject({
      stored: 3,
      failed: 1,
      aborted: 0,
      watermarkMs: W0 + 6 * HOUR,
      auditsSkipped: false,
      audits: [{ kind: 'daily', stored: 4, recorded: true }],
    });
    expect(first).not.toHaveProperty('stopped');
    expect(await state()).toMatchObject({
      watermarkMs: W0 + 6 * HOUR,
      completed: [{ startMs: W0 + 12 * HOUR, endMs: T0 - LAG }],
    });
    expect(await db.doc('cooldowns/spapi').get()).toHaveProperty('exists', false);

    broken = false;
    t = T0 + 15 * MINUTE;
    fetcher.calls.length = 0;
    const second = await cycle(engine, fetcher.fetchAndStore);
    // Chunk 2 again; chunks 3 and 4 are not re-fetched except the always-fresh last 3 hours.
    expect(fetcher.backfill()).toEqual([
      chunk(2),
      chunkId({ startMs: t - LAG - 3 * HOUR, endMs: t - LAG }),
    ]);
    expect(second).toMatchObject({ stored: 2, failed: 0, watermarkMs: t - LAG });
    expect(await state()).toMatchObject({ watermarkMs: t - LAG, completed: [] });
  });

  it('ends the cycle when the gate says retry beyond its wait bound, without a cooldown', async () => {
    // A few reports at once, then one every 1000 s: a later chunk would wait far past 60 s.
    await seed({ ratePerSecond: 0.001, burst: 3 });
    const engine = new QuotaEngine(db, { now });
    const fetcher = fakeFetcher();

    const summary = await cycle(engine, fetcher.fetchAndStore);
    // How many the burst grants is the gate's business; what matters is what happens after.
    const granted = fetcher.backfill().length;
    expect(granted).toBeGreaterThan(0);
    expect(granted).toBeLessThan(4);
    expect(fetcher.backfill()).toEqual([chunk(1), chunk(2), chunk(3)].slice(0, granted));
    expect(summary).toMatchObject({
      stored: granted,
      failed: 0,
      aborted: 4 - granted,
      watermarkMs: W0 + granted * 6 * HOUR,
      stopped: { kind: 'deferred', reason: 'tokens' },
      auditsSkipped: true,
      audits: [],
    });
    expect(await state()).toMatchObject({ watermarkMs: W0 + granted * 6 * HOUR, completed: [] });
    expect(await db.doc('cooldowns/spapi').get()).toHaveProperty('exists', false);
  });

  it('runs one of two cycles started at once: the other finds the lease held', async () => {
    await seed();
    const fetcher = fakeFetcher();
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    // The winner cannot finish before the loser has returned.
    const blocked = async (w: SyncWindow) => {
      await gate;
      await fetcher.fetchAndStore(w);
    };
    const a = cycle(new QuotaEngine(db, { now, instanceId: 'a' }), blocked);
    const b = cycle(new QuotaEngine(db, { now, instanceId: 'b' }), blocked);

    const loser = await Promise.race([a, b]);
    expect(loser).toMatchObject({ skipped: 'lease' });
    open();
    const [ra, rb] = await Promise.all([a, b]);
    const winner = ra === loser ? rb : ra;
    expect(winner).toMatchObject({ stored: 4, watermarkMs: T0 - LAG });
    expect(fetcher.backfill()).toEqual([chunk(1), chunk(2), chunk(3), chunk(4)]);

    // Released at the end: the next cycle runs.
    t = T0 + 15 * MINUTE;
    const next = await cycle(new QuotaEngine(db, { now }), fetcher.fetchAndStore);
    expect(next).not.toHaveProperty('skipped');
    expect(await db.doc(`autosync/${SOURCE}/lease/current`).get()).toHaveProperty('exists', false);
  });

  it('takes over a lease whose holder crashed once it has expired', async () => {
    await seed();
    await db
      .doc(`autosync/${SOURCE}/lease/current`)
      .set({ holder: 'crashed', source: SOURCE, expiresAt: new Date(T0 + MINUTE) });
    const fetcher = fakeFetcher();
    const engine = new QuotaEngine(db, { now });

    expect(await cycle(engine, fetcher.fetchAndStore)).toEqual({
      skipped: 'lease',
      heldUntil: T0 + MINUTE,
    });
    expect(fetcher.calls).toEqual([]);
    t = T0 + 2 * MINUTE;
    expect(await cycle(engine, fetcher.fetchAndStore)).toMatchObject({ watermarkMs: t - LAG });
  });
});

describe('auto-sync fetcher registry', () => {
  it('registers, replaces and unregisters a source fetcher', async () => {
    const first = async () => {};
    const second = async () => {};
    const unregisterFirst = registerAutoSyncFetcher('test-source', first);
    expect(autoSyncFetcher('test-source')).toBe(first);
    const unregisterSecond = registerAutoSyncFetcher('test-source', second);
    unregisterFirst();
    expect(autoSyncFetcher('test-source')).toBe(second);
    unregisterSecond();
    expect(autoSyncFetcher('test-source')).toBeUndefined();
  });
});
