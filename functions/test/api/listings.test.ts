import type { Firestore } from 'firebase-admin/firestore';
import { Timestamp } from 'firebase-admin/firestore';
import { HttpsError } from 'firebase-functions/v2/https';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HEARTBEAT_DOC } from '../../src/adapters/operations/status';
import type {
  CollectionStatusResult,
  ListAuditLogResult,
  ListCollectionsResult,
  StatusResult,
} from '../../src/core/operations';
import { startCollection } from '../../src/core/pipeline/collections';
import { quietLogger } from '../support/quiet-logger';
import { type ReadRecorder, recordReads } from '../support/reads';
import { type ApiFixture, apiFixture, as, SEED_COLLECTION, T0 } from './support';

/**
 * The listings the dashboard polls (listAuditLog for admins, listCollections for viewers) and
 * getStatus' and getCollectionStatus' additions: roles, bounded reads (documents counted as
 * Firestore bills them), cursors, invalid input naming its fields.
 */

quietLogger();

let f: ApiFixture;

async function run<T>(name: keyof ApiFixture['callables'], data: unknown, role = 'admin') {
  const fn = f.callables[name] as { run: (r: unknown) => Promise<unknown> };
  return (await fn.run(as(role as 'admin', data, `${role}-1`))) as T;
}

async function failure(name: keyof ApiFixture['callables'], data: unknown, role = 'admin') {
  try {
    await run(name, data, role);
  } catch (error) {
    expect(error).toBeInstanceOf(HttpsError);
    return error as HttpsError;
  }
  throw new Error(`${name} did not fail`);
}

function issuePaths(error: HttpsError): string[] {
  const details = error.details as { issues?: Array<{ path: string }> } | undefined;
  return (details?.issues ?? []).map((i) => i.path);
}

async function bulkSet(db: Firestore, docs: Array<{ path: string; data: object }>) {
  for (let i = 0; i < docs.length; i += 500) {
    const batch = db.batch();
    for (const { path, data } of docs.slice(i, i + 500)) batch.set(db.doc(path), data);
    await batch.commit();
  }
}

describe('listAuditLog', () => {
  beforeEach(async () => {
    f = await apiFixture();
  });
  afterEach(() => f.close());

  it('is for admins only', async () => {
    for (const role of ['viewer', 'operator']) {
      expect((await failure('listAuditLog', {}, role)).code).toBe('permission-denied');
    }
    expect((await failure('listAuditLog', {}, 'none')).code).toBe('permission-denied');
  });

  it('lists the entries changes wrote, newest first, as stored', async () => {
    f.clock.now = T0 + 1_000;
    await run('pauseCategory', { category: 'historical' }, 'operator');
    f.clock.now = T0 + 2_000;
    await run('setMaintenanceMode', { enabled: true, reason: 'upgrade' }, 'operator');
    const page = await run<ListAuditLogResult>('listAuditLog', {});
    expect(page.entries.map((e) => e.what)).toEqual(['setMaintenanceMode', 'pauseCategory']);
    const [maintenance, pause] = page.entries;
    expect(maintenance).toMatchObject({
      who: { uid: 'operator-1', role: 'operator' },
      target: 'config/flags',
      atMs: T0 + 2_000,
      reason: 'upgrade',
    });
    expect(pause).toMatchObject({ target: 'categories/historical', atMs: T0 + 1_000 });
    expect(pause!.before).toMatchObject({ sharePercent: 30 });
    expect(page.nextCursor).toBeNull();
    // Plain JSON: no Timestamp survives.
    expect(JSON.parse(JSON.stringify(page))).toEqual(page);
  });

  it('pages with a cursor and filters by what and target in the query', async () => {
    for (let i = 0; i < 5; i++) {
      f.clock.now = T0 + i * 1_000;
      await run('setFlags', { flags: { maxAwaitSeconds: 10 + i } }, 'operator');
    }
    f.clock.now = T0 + 10_000;
    await run('pauseCategory', { category: 'historical' }, 'operator');
    const first = await run<ListAuditLogResult>('listAuditLog', { limit: 4 });
    expect(first.entries).toHaveLength(4);
    expect(first.nextCursor).toBe(first.entries[3]!.id);
    const second = await run<ListAuditLogResult>('listAuditLog', {
      limit: 4,
      startAfter: first.nextCursor,
    });
    expect(second.entries).toHaveLength(2);
    expect(second.nextCursor).toBeNull();
    const ids = [...first.entries, ...second.entries].map((e) => e.id);
    expect(new Set(ids).size).toBe(6);
    const times = [...first.entries, ...second.entries].map((e) => e.atMs);
    expect(times).toEqual([...times].sort((a, b) => b - a));

    const flags = await run<ListAuditLogResult>('listAuditLog', { what: 'setFlags' });
    expect(flags.entries).toHaveLength(5);
    const pauses = await run<ListAuditLogResult>('listAuditLog', {
      target: 'categories/historical',
    });
    expect(pauses.entries.map((e) => e.what)).toEqual(['pauseCategory']);
    const both = await run<ListAuditLogResult>('listAuditLog', {
      what: 'setFlags',
      target: 'categories/historical',
    });
    expect(both.entries).toEqual([]);
    expect((await failure('listAuditLog', { startAfter: 'ghost' })).code).toBe('not-found');
  });

  it('bounds a page: related changes counted, large before/after cut to a preview', async () => {
    const big = { rows: Array.from({ length: 200 }, (_, i) => ({ i, text: 'x'.repeat(40) })) };
    const related = Array.from({ length: 400 }, (_, i) => ({
      path: `collections/c${i}`,
      before: { note: 'b'.repeat(500) },
      after: { note: 'a'.repeat(500) },
    }));
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        f.db.doc(`auditLog/import${String(i).padStart(2, '0')}`).set({
          who: { uid: 'u', email: null, role: 'operator' },
          what: 'importBackup',
          target: 'backups/b',
          before: big,
          after: { small: true },
          atMs: T0 + i,
          at: Timestamp.fromMillis(T0 + i),
          related,
        }),
      ),
    );
    const page = await run<ListAuditLogResult>('listAuditLog', { what: 'importBackup' });
    expect(page.entries).toHaveLength(50);
    expect(JSON.stringify(page).length).toBeLessThan(1_000_000);
    const [entry] = page.entries;
    expect(entry!.relatedCount).toBe(400);
    expect(entry).not.toHaveProperty('related');
    expect(entry!.after).toEqual({ small: true });
    const cut = entry!.before as { truncated: boolean; bytes: number; preview: string };
    expect(cut.truncated).toBe(true);
    expect(cut.bytes).toBe(JSON.stringify(big).length);
    expect(cut.preview).toBe(JSON.stringify(big).slice(0, 1_000));
  }, 120_000);

  it('refuses a cursor naming an entry without a Timestamp at, clearly', async () => {
    await f.db.doc('auditLog/no-at').set({ what: 'setFlags', target: 'config/flags', atMs: 5 });
    const error = await failure('listAuditLog', { startAfter: 'no-at' });
    expect(error.code).toBe('failed-precondition');
    expect(error.message).toContain('no-at');
  });

  it('refuses invalid input naming the fields', async () => {
    const error = await failure('listAuditLog', { limit: 201, what: 'a b', startAfter: 'a/b' });
    expect(error.code).toBe('invalid-argument');
    expect(issuePaths(error).sort()).toEqual(['limit', 'startAfter', 'what']);
  });
});

describe('listAuditLog on more entries than a page', () => {
  let reads: ReadRecorder;
  beforeAll(async () => {
    f = await apiFixture({ seed: false });
    const docs = Array.from({ length: 450 }, (_, i) => ({
      path: `auditLog/e${String(i).padStart(4, '0')}`,
      data: {
        who: { uid: 'u', email: null, role: 'operator' },
        what: i % 2 ? 'setFlags' : 'pauseCategory',
        target: 'config/flags',
        before: null,
        after: { i },
        atMs: T0 + i,
        at: Timestamp.fromMillis(T0 + i),
        related: [],
      },
    }));
    await bulkSet(f.db, docs);
    reads = recordReads();
  }, 60_000);
  afterAll(async () => {
    reads?.restore();
    await f.close();
  });

  it('reads at most a page and one more, filtered or not', async () => {
    reads.reset();
    const page = await run<ListAuditLogResult>('listAuditLog', { limit: 200 });
    expect(page.entries).toHaveLength(200);
    expect(page.entries[0]!.atMs).toBe(T0 + 449);
    expect(reads.documents).toBeLessThanOrEqual(201);
    reads.reset();
    const next = await run<ListAuditLogResult>('listAuditLog', {
      limit: 200,
      startAfter: page.nextCursor,
      what: 'setFlags',
    });
    expect(next.entries.every((e) => e.what === 'setFlags')).toBe(true);
    expect(reads.documents).toBeLessThanOrEqual(1 + 201);
    reads.reset();
    const small = await run<ListAuditLogResult>('listAuditLog', {});
    expect(small.entries).toHaveLength(50);
    expect(reads.documents).toBeLessThanOrEqual(51);
  });
});

describe('listCollections', () => {
  let reads: ReadRecorder;
  beforeAll(async () => {
    f = await apiFixture();
    const docs = [];
    for (let i = 0; i < 230; i++) {
      const { collection } = startCollection(
        undefined,
        {
          id: `c${String(i).padStart(3, '0')}`,
          provider: 'keepa',
          category: 'historical',
          targets: { takealot: 10 },
        },
        T0 - 60_000,
      );
      const status = i % 10 === 0 ? 'paused' : 'running';
      docs.push({ path: `collections/${collection.id}`, data: { ...collection, status } });
    }
    await bulkSet(f.db, docs);
    reads = recordReads();
  }, 60_000);
  afterAll(async () => {
    reads?.restore();
    await f.close();
  });

  it('is for viewers, and reports each collection as getCollectionStatus does', async () => {
    expect((await failure('listCollections', {}, 'none')).code).toBe('permission-denied');
    const all = await run<ListCollectionsResult>('listCollections', { limit: 200 }, 'viewer');
    const one = await run<CollectionStatusResult>(
      'getCollectionStatus',
      { id: SEED_COLLECTION },
      'viewer',
    );
    const listed = all.collections.find((c) => c.id === SEED_COLLECTION);
    // The ids sort the seed's collection after the c### ones: within the first 200 only if it is.
    if (listed) expect(listed).toEqual(one);
    const seed = await run<ListCollectionsResult>('listCollections', {}, 'viewer');
    expect(seed.collections.length).toBe(100);
    expect(one.phaseTimeline).toEqual([
      expect.objectContaining({ phase: 1, fromPercent: 0, endedAt: null }),
    ]);
  });

  it('reads at most its bound and says it was cut', async () => {
    reads.reset();
    const r = await run<ListCollectionsResult>('listCollections', { limit: 200 }, 'viewer');
    expect(r.truncated).toBe(true);
    expect(r.collections).toHaveLength(200);
    expect(r.collections.map((c) => c.id)).toEqual([...r.collections.map((c) => c.id)].sort());
    // The collections (and one more), the categories, the pipeline configuration.
    expect(reads.documents).toBeLessThanOrEqual(201 + 4 + 1);
    expect(r.collections[0]).toMatchObject({ effectiveSharePercent: 30, category: 'historical' });
  });

  it('filters by status in the query', async () => {
    reads.reset();
    const paused = await run<ListCollectionsResult>(
      'listCollections',
      { status: 'paused' },
      'viewer',
    );
    expect(paused.collections).toHaveLength(23);
    expect(paused.truncated).toBe(false);
    expect(paused.collections.every((c) => c.status === 'paused')).toBe(true);
    expect(reads.documents).toBeLessThanOrEqual(23 + 4 + 1);
  });

  it('refuses invalid input naming the fields', async () => {
    const error = await failure('listCollections', { status: 'done', limit: 0 }, 'viewer');
    expect(error.code).toBe('invalid-argument');
    expect(issuePaths(error).sort()).toEqual(['limit', 'status']);
  });
});

describe("getStatus' heartbeat, pending changes, window usage and meter", () => {
  beforeEach(async () => {
    f = await apiFixture();
  });
  afterEach(() => f.close());

  it('answers nulls before the first beat and without a stored meter', async () => {
    const status = await run<StatusResult>('getStatus', {}, 'viewer');
    expect(status.heartbeat).toEqual({ lastBeatMs: null, beats: null });
    expect(status.providers.find((p) => p.id === 'keepa')!.meter).toBeNull();
  });

  it('serves the last beat, the stored meter projected to now, pending shares with their time', async () => {
    await f.db.doc(HEARTBEAT_DOC).set({ at: Timestamp.fromMillis(T0 - 90_000), beats: 7 });
    await f.db.doc('quotaMeters/keepa').set({
      provider: 'keepa',
      balance: -50,
      atMs: T0 + 55_000,
      ratePerSecond: 5,
      capacity: 300,
    });
    // The first publication is in force "always"; a later change waits for its lead time.
    await run('setCategoryAllocation', { category: 'historical', sharePercent: 25 }, 'operator');
    f.clock.now = T0 + 60_000;
    await run('setCategoryAllocation', { category: 'historical', sharePercent: 20 }, 'operator');
    const status = await run<StatusResult>('getStatus', {}, 'viewer');
    expect(status.heartbeat).toEqual({ lastBeatMs: T0 - 90_000, beats: 7 });
    expect(status.providers.find((p) => p.id === 'keepa')!.meter).toEqual({
      balance: -50,
      readingAtMs: T0 + 55_000,
      ratePerSecond: 5,
      capacity: 300,
      projectedBalance: -25,
      deficitEndsAtMs: T0 + 65_000,
    });
    const historical = status.categories.find((c) => c.id === 'historical')!;
    expect(historical.gateSharePercent).toBe(25);
    expect(historical.publishedSharePercent).toBe(20);
    expect(historical.pendingShares).toEqual([{ percent: 20, effectiveAtMs: expect.any(Number) }]);
    expect(historical.pendingShares[0]!.effectiveAtMs).toBeGreaterThan(T0 + 60_000);
    f.clock.now = historical.pendingShares[0]!.effectiveAtMs;
    const later = await run<StatusResult>('getStatus', {}, 'viewer');
    expect(later.categories.find((c) => c.id === 'historical')).toMatchObject({
      gateSharePercent: 20,
      pendingShares: [],
    });
  });

  it('sums minute and hour windows from the usage statistics, and says where it cannot', async () => {
    // A first publication (in force "always"), so the limits edit after it is pending.
    await run('setCategoryAllocation', { category: 'historical', sharePercent: 25 }, 'operator');
    await run(
      'setProviderLimits',
      {
        provider: 'keepa',
        limits: [
          { kind: 'tokenBucket', capacity: 300, refillPerSecond: 5 },
          { kind: 'window', unit: 'minute', limit: 1000, measure: 'requests' },
          { kind: 'window', unit: 'hour', limit: 50000, measure: 'cost' },
          { kind: 'window', unit: 'second', limit: 100, measure: 'requests' },
          { kind: 'window', unit: 'day', limit: 1e6, measure: 'requests' },
        ],
      },
      'operator',
    );
    const status = await run<StatusResult>('getStatus', {}, 'viewer');
    const keepa = status.providers.find((p) => p.id === 'keepa')!;
    expect(keepa.pendingLimits).toHaveLength(1);
    expect(keepa.pendingLimits[0]!.effectiveAtMs).toBeGreaterThan(T0);
    const [minute, hour, second, day] = keepa.windows;
    // The seed: 10 granted in T0's minute, 5 the minute before (same hour? T0 is 06:30).
    expect(minute).toMatchObject({ unit: 'minute', grantedCalls: 10, used: 10 });
    expect(minute!.windowEndMs).toBe(Math.floor(T0 / 60_000) * 60_000 + 60_000);
    expect(hour).toMatchObject({ unit: 'hour', grantedCalls: 15, used: null });
    expect(second).toMatchObject({ grantedCalls: null, unknownBecause: 'finer-than-a-minute' });
    expect(day).toMatchObject({ grantedCalls: null, unknownBecause: 'too-long' });
  });
});

describe("getCollectionStatus' phase timeline", () => {
  beforeEach(async () => {
    f = await apiFixture();
  });
  afterEach(() => f.close());

  it('serves when each phase began and ended, with the schedule marks', async () => {
    const { collection } = startCollection(
      undefined,
      { id: 'timed', provider: 'keepa', category: 'historical', targets: { takealot: 100 } },
      T0 - 3_600_000,
    );
    await f.db.doc('collections/timed').set({
      ...collection,
      phase: 2,
      marketplaces: { takealot: { target: 100, collected: 40 } },
      phaseHistory: [...collection.phaseHistory, { phase: 2, sharePercent: 10, at: T0 - 600_000 }],
    });
    const report = await run<CollectionStatusResult>('getCollectionStatus', { id: 'timed' });
    expect(report.schedule.map((p) => p.fromPercent)).toEqual([0, 30, 75, 95]);
    expect(report.phaseTimeline).toEqual([
      {
        phase: 1,
        sharePercent: 15,
        fromPercent: 0,
        startedAt: T0 - 3_600_000,
        endedAt: T0 - 600_000,
        durationMs: 3_000_000,
      },
      {
        phase: 2,
        sharePercent: 10,
        fromPercent: 30,
        startedAt: T0 - 600_000,
        endedAt: null,
        durationMs: 600_000,
      },
    ]);
  });
});
