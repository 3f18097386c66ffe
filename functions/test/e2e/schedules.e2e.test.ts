import { randomBytes, randomUUID } from 'node:crypto';
import { getStorage } from 'firebase-admin/storage';
import { describe, expect, it } from 'vitest';
import { backupPrefix } from '../../src/adapters/backup/backup-storage';
import { listScheduledBackups } from '../../src/adapters/backup/scheduled-retention';
import { CollectionsRepository } from '../../src/adapters/pipeline/collections-repository';
import { ProductsRepository } from '../../src/adapters/pipeline/products-repository';
import { INGEST_FUNCTION } from '../../src/adapters/queues/ingest-queue';
import { cloudTasksAdmin } from '../../src/adapters/queues/queue-admin';
import { enqueueTask } from '../../src/adapters/queues/task-queue';
import { PayloadStore } from '../../src/adapters/storage/payload-store';
import { validationRunId } from '../../src/adapters/validation/validation-schedule';
import { LISTING_OPERATION, REALTIME_SALES_SYNC } from '../../src/core/pipeline/category-work';
import { workItemSchema, workItemTaskId, workQueueName } from '../../src/core/pipeline/work-items';
import {
  DEFAULT_PAYLOAD_CONFIG,
  DEFAULT_TEMPORARY_MAX_AGE_MS,
  PAYLOADS_COLLECTION,
  payloadBucketName,
} from '../../src/core/storage/payloads';
import { connectToStack, fireSchedule, stack } from './support';

/**
 * Every scheduled function, fired on the local stack, and what it did: documents written or
 * removed, tasks enqueued, queues brought in line. The stack fires nothing on its own (its
 * schedules are manual), so no cron runs in the middle of a test; a test that needs a time of
 * its own fires the schedule as of that time. Each schedule the stack discovers must have its
 * test here: a new one without one fails the first test.
 */

const SEEDED_PROVIDERS = ['keepa', 'spapi', 'smartproxy', 'firestore'];
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const { app, db } = connectToStack();

/** The schedules tested below, with the expression each is deployed with (all in UTC). */
const tested = new Map<string, string>();

function scheduleTest(
  name: string,
  schedule: string,
  effect: string,
  test: () => Promise<void>,
  timeout?: number,
): void {
  tested.set(name, schedule);
  it(`${name} (${schedule}) ${effect}`, test, timeout);
}

async function until<T>(
  what: string,
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 90_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

const fire = async (name: string, options: { at?: Date } = {}) =>
  expect(await fireSchedule(name, options)).toBe(200);

describe('scheduled functions on the local stack', () => {
  it('are exactly the schedules tested here, with their expressions in UTC, and none fired on its own', async () => {
    const { mode, schedules, history } = await (
      await fetch(`${stack.urls.control}/schedules`)
    ).json();
    expect(mode).toBe('manual');
    const discovered = Object.fromEntries(
      (schedules as Array<{ name: string; schedule: string; timeZone: string }>).map((s) => [
        s.name,
        `${s.schedule} ${s.timeZone}`,
      ]),
    );
    expect(discovered).toEqual(
      Object.fromEntries([...tested].map(([name, schedule]) => [name, `${schedule} UTC`])),
    );
    for (const s of schedules) expect(s.nextRun, s.name).toBeNull();
    for (const run of history) expect(run.trigger, run.name).toBe('manual');
  });

  scheduleTest(
    'heartbeat',
    'every 5 minutes',
    'beats, and puts a provider queue paused or re-rated by hand back in line',
    async () => {
      const beat = db.doc('system/heartbeat');
      await fire('heartbeat'); // the queues in line with the configuration
      const before = (await beat.get()).data();
      const admin = cloudTasksAdmin();
      const work = workQueueName('smartproxy');
      const inLine = await admin.status(work);
      await admin.setRate(work, { maxDispatchesPerSecond: 0.5, maxConcurrentDispatches: 1 });
      await admin.pause(INGEST_FUNCTION);

      const firedAt = Date.now();
      await fire('heartbeat');
      const after = (await beat.get()).data();
      expect(after?.beats).toBe(before?.beats + 1);
      expect(after?.at.toMillis()).toBeGreaterThanOrEqual(firedAt - 1_000);
      expect(await admin.status(work)).toMatchObject({
        state: 'RUNNING',
        maxDispatchesPerSecond: inLine.maxDispatchesPerSecond,
        maxConcurrentDispatches: inLine.maxConcurrentDispatches,
      });
      expect((await admin.status(INGEST_FUNCTION)).state).toBe('RUNNING');
    },
  );

  scheduleTest(
    'collectionBatches',
    '0 0,6,12,18 * * *',
    "hands a running collection its next batch, which its provider's queue then collects",
    async () => {
      const id = `e2e-batches-${randomUUID().slice(0, 8)}`;
      // A category of its own with one phase, so the collection changes no other share.
      await db
        .doc(`categories/${id}`)
        .set({ provider: 'smartproxy', sharePercent: 5, priority: 1 });
      const repo = new CollectionsRepository(db);
      await repo.startCollection({
        id,
        provider: 'smartproxy',
        category: id,
        targets: { takealot: 152 },
        phases: [{ fromPercent: 0, sharePercent: 5 }],
      });
      // Discovery stands at page 4 (products 150-199): products no other test collects, since a
      // product stored already counts for no second collection. Two are left of the target.
      await db.doc(`batches/${id}`).set({ marketplaces: { takealot: { nextPage: 4 } } });

      // The schedule hands every running collection its batch: only this one runs now, so no
      // other collection makes progress behind the tests that follow.
      const others = (await repo.list()).filter((c) => c.status === 'running' && c.id !== id);
      for (const other of others) await repo.pause(other.id);
      try {
        await fire('collectionBatches');
      } finally {
        for (const other of others) await repo.resume(other.id);
      }
      try {
        // The cursor moved past the page the target needs...
        expect((await db.doc(`batches/${id}`).get()).get('marketplaces')).toEqual({
          takealot: { nextPage: 5, exhausted: false },
        });
        // ...whose discovery is on the provider's queue under its deterministic id...
        const discover = workItemSchema.parse({
          collection: id,
          kind: 'discover',
          key: 'takealot~4',
          provider: 'smartproxy',
          category: id,
          operation: LISTING_OPERATION,
          payload: { marketplace: 'takealot', page: 4, limit: 2 },
        });
        expect(
          await enqueueTask(workQueueName('smartproxy'), discover, {
            id: workItemTaskId(discover),
          }),
        ).toBe('duplicate');
        // ...and runs: the two products of the batch are collected.
        await until(
          'the batch to be collected',
          async () => (await repo.get(id))?.marketplaces.takealot?.collected,
          (collected) => collected === 2,
        );
      } finally {
        // No later run hands it more, and it never counts as stalled.
        await repo.pause(id);
      }
    },
    120_000,
  );

  scheduleTest(
    'realtimeSalesSync',
    'every 15 minutes',
    'stores the sales hours after its watermark and advances it',
    async () => {
      const state = db.doc(`autosync/${REALTIME_SALES_SYNC.source}`);
      await db.doc('cooldowns/spapi').delete();
      await db.doc('providers/spapi').update({ 'settings.reportPollMs': 300 });
      // Two whole hours back: the hour after it has ended, so its report has rows.
      const watermarkMs = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 2 * HOUR_MS;
      // The audits count as done: this cycle fetches the backfill's window only (each report is
      // charged at SP-API's published rates, one createReport a minute past the burst, which
      // other files may have spent).
      await state.set({ watermarkMs, completed: [], audits: { daily: Date.now(), weekly: null } });
      // Whatever other files stored of the hours after it is gone: the cycle must store them.
      const since = db.collection('sales').where('hourStartMs', '>=', watermarkMs);
      for (
        let page = await since.limit(400).get();
        !page.empty;
        page = await since.limit(400).get()
      ) {
        const batch = db.batch();
        for (const doc of page.docs) batch.delete(doc.ref);
        await batch.commit();
      }

      await fire('realtimeSalesSync');
      const after = (await state.get()).data();
      expect(after?.watermarkMs).toBeGreaterThan(watermarkMs);
      // Up to now, less the safe lag the upstream needs (5 minutes by default).
      expect(Date.now() - after?.watermarkMs).toBeLessThan(15 * 60_000);
      expect(after?.completed).toEqual([]);
      expect((await since.count().get()).data().count).toBeGreaterThan(0);
    },
    // Every SP-API request is charged at the published rates: with the burst other files spent,
    // the createReport and the getReportDocument each wait up to a minute for a token.
    300_000,
  );

  scheduleTest(
    'allocationUpdate',
    '0 0,12 * * *',
    'republishes every allocation and marks the idle seed collection stalled',
    async () => {
      await Promise.all(SEEDED_PROVIDERS.map((p) => db.doc(`quotaAllocations/${p}`).delete()));
      // As seeded, whatever other end-to-end files did to it: running, no progress since 2026-01-01.
      await db
        .doc('collections/buckcheap-historical')
        .update({ status: 'running', lastProgressAt: Date.parse('2026-01-01T00:00:00Z') });
      await fire('allocationUpdate');

      for (const provider of SEEDED_PROVIDERS) {
        expect((await db.doc(`quotaAllocations/${provider}`).get()).exists).toBe(true);
      }
      const smartproxy = (await db.doc('quotaAllocations/smartproxy').get()).data();
      // The seed's 15% and 60%, or both grown alike by what other files' categories freed.
      const percent = (c: string) => smartproxy?.categories[c].epochs.at(-1).percent as number;
      expect(percent('buckcheap-historical')).toBeGreaterThanOrEqual(15);
      expect(percent('proxy-live-prices') / percent('buckcheap-historical')).toBeCloseTo(4, 2);
      const total = Object.keys(smartproxy?.categories ?? {}).reduce(
        (sum, c) => sum + percent(c),
        0,
      );
      expect(total).toBeLessThanOrEqual(100);

      const repo = new CollectionsRepository(db);
      expect(await repo.get('buckcheap-historical')).toMatchObject({ status: 'stalled' });
      // Running again, so whatever runs next finds the seed collection running.
      expect((await repo.restartStalled('buckcheap-historical')).restarted).toBe(true);
    },
  );

  scheduleTest(
    'dataValidation',
    '0 6,18 * * *',
    'validates the products into the run of the slot it was fired for',
    async () => {
      const marketplace = `e2e-slot-${randomUUID().slice(0, 8)}`;
      await new ProductsRepository(db).upsertPriceHistory({
        marketplace,
        key: 'clean',
        collection: 'e2e-slot',
        identifiers: { plid: 'PLID-clean' },
        prices: Array.from({ length: 10 }, (_, i) => ({
          date: `2026-11-${String(i + 1).padStart(2, '0')}`,
          price: 100 + i,
          confidence: 0.95,
        })),
        confidence: 0.9,
        expectedRange: { from: '2026-11-01', to: '2026-11-10' },
      });
      // The 18:00 slot of 30 days ago: earlier than any run of today's, which stay the latest.
      const slot = new Date((Math.floor(Date.now() / DAY_MS) - 30) * DAY_MS + 18 * HOUR_MS);
      const runId = validationRunId(slot.getTime());
      expect(runId).toBe(`${slot.toISOString().slice(0, 10)}T18`);
      expect((await db.doc(`validationRuns/${runId}`).get()).exists).toBe(false);

      await fire('dataValidation', { at: slot });
      const run = (await db.doc(`validationRuns/${runId}`).get()).data();
      expect(run).toMatchObject({ runId, status: 'completed' });
      expect(run?.marketplaces[marketplace]).toMatchObject({
        products: 1,
        passed: 1,
        failed: 0,
        passRate: 1,
      });
    },
  );

  scheduleTest(
    'payloadCleanup',
    '30 3 * * *',
    'removes the temporary payloads older than the configured age as of its slot, and only those',
    async () => {
      // The bucket the functions use: in the emulator their admin app is initialised with
      // options of its own (adapters/firebase.ts), so it has no default bucket from
      // FIREBASE_CONFIG, and the name falls back to `<project>.firebasestorage.app`.
      const bucket = getStorage(app).bucket(
        payloadBucketName({
          configured: stack.env.TOLLGATE_PAYLOAD_BUCKET,
          project: stack.projectId,
        }),
      );
      const store = new PayloadStore(db, bucket);
      const run = randomUUID().slice(0, 8);
      const large = randomBytes(DEFAULT_PAYLOAD_CONFIG.inlineMaxBytes + 1); // to Cloud Storage
      const put = (name: string, data: Uint8Array | string, temporary: boolean) =>
        store.put(`e2e-cleanup-${run}-${name}`, data, {
          contentType: 'application/octet-stream',
          temporary,
        });

      const older = [await put('old-inline', 'small', true), await put('old-object', large, true)];
      const kept = [
        await put('kept-inline', 'small', false),
        await put('kept-object', large, false),
      ];
      const olderUntil = Date.now();
      await new Promise((r) => setTimeout(r, 1_500));
      const newerFrom = Date.now();
      const newer = [await put('new-inline', 'small', true), await put('new-object', large, true)];
      expect([...older, ...newer].map((p) => p.location)).toEqual([
        'inline',
        'storage',
        'inline',
        'storage',
      ]);

      // Fired as of the day after: the older ones are then past the age, the newer ones not.
      const cutoff = (olderUntil + newerFrom) / 2;
      await fire('payloadCleanup', { at: new Date(cutoff + DEFAULT_TEMPORARY_MAX_AGE_MS) });

      const exists = async (p: { id: string; object?: string }) => ({
        document: (await db.collection(PAYLOADS_COLLECTION).doc(p.id).get()).exists,
        object: p.object ? (await bucket.file(p.object).exists())[0] : undefined,
      });
      for (const p of older) {
        expect(await exists(p), p.id).toEqual({
          document: false,
          object: p.object ? false : undefined,
        });
        expect(await store.get(p.id)).toBeUndefined();
      }
      for (const p of [...newer, ...kept]) {
        expect(await exists(p), p.id).toEqual({
          document: true,
          object: p.object ? true : undefined,
        });
        expect((await store.get(p.id))?.bytes).toBe(p.bytes);
      }
    },
  );

  scheduleTest(
    'scheduledBackup',
    '0 * * * *',
    'backs up configuration and collected data once per due slot (daily at 03:00 UTC by default)',
    async () => {
      const bucket = getStorage(app).bucket(
        payloadBucketName({
          configured: stack.env.TOLLGATE_BACKUP_BUCKET || stack.env.TOLLGATE_PAYLOAD_BUCKET,
          project: stack.projectId,
        }),
      );
      const storage = {
        bucket,
        prefix: backupPrefix(stack.env.TOLLGATE_BACKUP_PREFIX),
        spoolPrefix: DEFAULT_PAYLOAD_CONFIG.temporaryPrefix,
      };
      const complete = async () =>
        (await listScheduledBackups(storage, stack.projectId)).filter(
          (b) => b.state === 'complete',
        );
      const before = (await complete()).length;
      const key = `e2e-backup-${randomUUID().slice(0, 8)}`;
      await new ProductsRepository(db).upsertPriceHistory({
        marketplace: 'takealot',
        key,
        collection: 'e2e-backup',
        prices: [{ date: '2026-12-01', price: 10 }],
      });

      // Fired now: the current daily slot has no backup of this run's product yet.
      const now = new Date();
      await fire('scheduledBackup', { at: now });
      const after = await complete();
      expect(after).toHaveLength(before + 1);
      const newest = after.sort((a, b) => b.createdAtMs - a.createdAtMs)[0]!;
      expect(newest.manifest?.projectId).toBe(stack.projectId);
      expect(newest.manifest?.collections).toEqual(expect.arrayContaining(['products', 'config']));
      expect(newest.manifest?.byCollection.products).toBeGreaterThanOrEqual(1);

      // Fired again in the same slot: nothing more.
      await fire('scheduledBackup', { at: new Date(now.getTime() + 60_000) });
      expect(await complete()).toHaveLength(before + 1);
    },
  );
});
