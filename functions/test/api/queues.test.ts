import { HttpsError } from 'firebase-functions/v2/https';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { syncProviderQueues } from '../../src/adapters/queues/queue-rates';
import type {
  PurgeProviderQueuesResult,
  SetCategoryAllocationResult,
  SetMaintenanceModeResult,
} from '../../src/core/operations';
import { quietLogger } from '../support/quiet-logger';
import { type ApiFixture, apiFixture, as, auditEntries } from './support';

/**
 * The provider queues as operations leave them: paused in maintenance, a work queue's rate
 * following its provider's quota, purged only by admins with an audit entry. Cloud Tasks is
 * faked in memory here (FakeQueueAdmin); devstack/test/emulators/cloud-tasks runs the production client
 * against the local stack's Cloud Tasks.
 */

quietLogger();

let f: ApiFixture;
beforeEach(async () => {
  f = await apiFixture();
});
afterEach(() => f.close());

async function run<T>(name: keyof ApiFixture['callables'], data: unknown, role = 'operator') {
  const fn = f.callables[name] as { run: (r: unknown) => Promise<unknown> };
  return (await fn.run(as(role as 'operator', data, 'op-1'))) as T;
}

const ALL = ['keepaWork', 'smartproxyWork', 'keepaIngest'];
const state = (queue: string) => f.queues.queues.get(queue)!.state;
const deployed = () => ({ maxDispatchesPerSecond: 10, maxConcurrentDispatches: 10 });

describe('maintenance mode', () => {
  it('pauses every provider queue, and resumes them when it ends', async () => {
    const on = await run<SetMaintenanceModeResult>('setMaintenanceMode', {
      enabled: true,
      reason: 'upstream migration',
    });
    expect(on.queues).toEqual(ALL.map((queue) => ({ queue, state: 'PAUSED' })));
    expect(ALL.map(state)).toEqual(ALL.map(() => 'PAUSED'));
    const off = await run<SetMaintenanceModeResult>('setMaintenanceMode', { enabled: false });
    expect(off.queues).toEqual(ALL.map((queue) => ({ queue, state: 'RUNNING' })));
    expect(ALL.map(state)).toEqual(ALL.map(() => 'RUNNING'));
  });

  it('commits the flag even when Cloud Tasks fails, says which queue, and mends it on a repeat', async () => {
    f.queues.failing.add('smartproxyWork');
    const on = await run<SetMaintenanceModeResult>('setMaintenanceMode', { enabled: true });
    expect(on.changed).toBe(true);
    expect(on.queues).toContainEqual({
      queue: 'smartproxyWork',
      state: 'UNKNOWN',
      error: '14 UNAVAILABLE: smartproxyWork',
    });
    expect(state('keepaWork')).toBe('PAUSED');
    expect(state('smartproxyWork')).toBe('RUNNING');
    f.queues.failing.clear();
    const again = await run<SetMaintenanceModeResult>('setMaintenanceMode', { enabled: true });
    expect(again).toMatchObject({ changed: false, auditId: null });
    expect(state('smartproxyWork')).toBe('PAUSED');
  });
});

describe('queue rates', () => {
  it("follow the provider's quota when shares change, and never rewrite a queue in line", async () => {
    // Keepa refills 5 tokens/s; deals (40%) has a collection, historical (30%) has no work, so
    // its share grants the queue nothing; the cheapest Keepa work item (a validation
    // re-collection) costs 1 token: 2 items/s, dispatched at 1.25 x.
    await syncProviderQueues({ db: f.db, admin: f.queues, deployed });
    expect(f.queues.queues.get('keepaWork')).toMatchObject({
      maxDispatchesPerSecond: 2.5,
      maxConcurrentDispatches: 10,
    });
    f.queues.calls.length = 0;
    await syncProviderQueues({ db: f.db, admin: f.queues, deployed });
    expect(f.queues.calls.filter((c) => !c.startsWith('status'))).toEqual([]);

    await run<SetCategoryAllocationResult>('setCategoryAllocation', {
      category: 'deals',
      sharePercent: 60,
    });
    // 60% of 5/s = 3 items/s.
    expect(f.queues.queues.get('keepaWork')!.maxDispatchesPerSecond).toBeCloseTo(3.75);
    // Only the changed provider's queues were touched.
    expect(f.queues.calls.filter((c) => c.startsWith('setRate'))).toEqual(['setRate keepaWork']);
    // The ingest queue carries big batches the gate paces itself: its rate is left alone.
    expect(f.queues.queues.get('keepaIngest')!.maxDispatchesPerSecond).toBe(10);
    // Above the deploy-time 10/s too, when the quota grants more: never slower than the gate.
    await f.db.doc('providers/keepa').update({
      limits: [{ kind: 'tokenBucket', capacity: 3000, refillPerSecond: 50 }],
    });
    await syncProviderQueues({ db: f.db, admin: f.queues, deployed });
    expect(f.queues.queues.get('keepaWork')!.maxDispatchesPerSecond).toBeCloseTo(37.5);
  });

  it('rises at once when a collection gives a category work, before any heartbeat', async () => {
    await syncProviderQueues({ db: f.db, admin: f.queues, deployed });
    expect(f.queues.queues.get('keepaWork')!.maxDispatchesPerSecond).toBe(2.5);
    // historical (30%) had no work; a collection on it makes its share count: 70% of 5/s.
    await run('startCollection', {
      id: 'history-2026',
      provider: 'keepa',
      category: 'historical',
      targets: { takealot: 10 },
      // Its share as it is: the queue rises for the work, not for a share change.
      phases: [{ fromPercent: 0, sharePercent: 30 }],
    });
    expect(f.queues.queues.get('keepaWork')!.maxDispatchesPerSecond).toBeCloseTo(4.38);
  });

  it('resumes a queue paused by hand outside maintenance (Tollgate owns the state)', async () => {
    await f.queues.pause('smartproxyWork');
    const synced = await syncProviderQueues({ db: f.db, admin: f.queues, deployed });
    expect(synced.find((s) => s.queue === 'smartproxyWork')?.state).toEqual({
      from: 'PAUSED',
      to: 'RUNNING',
    });
    expect(state('smartproxyWork')).toBe('RUNNING');
  });
});

describe('purgeProviderQueues', () => {
  it("drops a provider's waiting tasks, counts them and audits the purge with its reason", async () => {
    f.queues.queues.get('keepaWork')!.tasks = 120;
    f.queues.queues.get('keepaIngest')!.tasks = 3;
    f.queues.queues.get('smartproxyWork')!.tasks = 7;
    const result = await run<PurgeProviderQueuesResult>(
      'purgeProviderQueues',
      { provider: 'keepa', reason: 'work of a deleted collection' },
      'admin',
    );
    expect(result).toMatchObject({
      provider: 'keepa',
      dropped: 123,
      queues: [
        { queue: 'keepaWork', dropped: 120 },
        { queue: 'keepaIngest', dropped: 3 },
      ],
    });
    expect(f.queues.queues.get('smartproxyWork')!.tasks).toBe(7);
    const [entry] = await auditEntries(f.db);
    expect(entry).toMatchObject({
      id: result.auditId,
      what: 'purgeProviderQueues',
      target: 'queues/keepa',
      reason: 'work of a deleted collection',
      after: { dropped: 123 },
    });
  });

  it('is for admins only, needs a reason and a provider with queues, and purges nothing otherwise', async () => {
    f.queues.queues.get('keepaWork')!.tasks = 5;
    const refused = async (data: unknown, role: string) => {
      try {
        await run('purgeProviderQueues', data, role);
      } catch (error) {
        expect(error).toBeInstanceOf(HttpsError);
        return error as HttpsError;
      }
      throw new Error('not refused');
    };
    expect((await refused({ provider: 'keepa', reason: 'x' }, 'operator')).code).toBe(
      'permission-denied',
    );
    expect((await refused({ provider: 'keepa', reason: '' }, 'admin')).message).toMatch(
      /^reason: /,
    );
    expect((await refused({ provider: 'nope', reason: 'x' }, 'admin')).message).toMatch(
      /^provider: no task queues for nope/,
    );
    expect(f.queues.queues.get('keepaWork')!.tasks).toBe(5);
    expect(f.queues.calls.filter((c) => c.startsWith('purge'))).toEqual([]);
  });
});
