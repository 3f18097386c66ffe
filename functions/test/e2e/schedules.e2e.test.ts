import { describe, expect, it } from 'vitest';
import { CollectionsRepository } from '../../src/adapters/collections-repository';
import { connectToStack, fireSchedule, stack } from './support';

const SEEDED_PROVIDERS = ['keepa', 'spapi', 'smartproxy', 'firestore'];
const { db } = connectToStack();

describe('scheduled functions on the local stack', () => {
  it('are registered with their cron expressions in UTC', async () => {
    const { schedules } = await (await fetch(`${stack.urls.control}/schedules`)).json();
    expect(schedules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          name: 'allocationUpdate',
          cron: '0 0,12 * * *',
          timeZone: 'UTC',
        }),
        expect.objectContaining({ name: 'payloadCleanup', cron: '30 3 * * *', timeZone: 'UTC' }),
      ]),
    );
  });

  it('allocationUpdate republishes every allocation and marks the idle seed collection stalled', async () => {
    await Promise.all(SEEDED_PROVIDERS.map((p) => db.doc(`quotaAllocations/${p}`).delete()));
    // As seeded, whatever other end-to-end files did to it: running, no progress since 2026-01-01.
    await db
      .doc('collections/buckcheap-historical')
      .update({ status: 'running', lastProgressAt: Date.parse('2026-01-01T00:00:00Z') });
    expect(await fireSchedule('allocationUpdate')).toBe(200);

    for (const provider of SEEDED_PROVIDERS) {
      expect((await db.doc(`quotaAllocations/${provider}`).get()).exists).toBe(true);
    }
    const smartproxy = (await db.doc('quotaAllocations/smartproxy').get()).data();
    // The seed's 15% and 60%, or both grown alike by what other files' categories freed.
    const percent = (c: string) => smartproxy?.categories[c].epochs.at(-1).percent as number;
    expect(percent('buckcheap-historical')).toBeGreaterThanOrEqual(15);
    expect(percent('proxy-live-prices') / percent('buckcheap-historical')).toBeCloseTo(4, 2);
    const total = Object.keys(smartproxy?.categories ?? {}).reduce((sum, c) => sum + percent(c), 0);
    expect(total).toBeLessThanOrEqual(100);

    const repo = new CollectionsRepository(db);
    expect(await repo.get('buckcheap-historical')).toMatchObject({ status: 'stalled' });
    // Running again, so whatever runs next finds the seed collection running.
    expect((await repo.restartStalled('buckcheap-historical')).restarted).toBe(true);
  });

  it('payloadCleanup runs', async () => {
    expect(await fireSchedule('payloadCleanup')).toBe(200);
  });
});
