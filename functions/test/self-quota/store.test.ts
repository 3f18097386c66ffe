import type { Firestore } from 'firebase-admin/firestore';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { attachSelfQuota } from '../../src/adapters/storage/self-quota-runtime';
import {
  connectSelfQuota,
  recentWarnings,
  SELF_QUOTA_WARNINGS,
  warningDocument,
} from '../../src/adapters/storage/self-quota-store';
import { WriteBuffer } from '../../src/adapters/storage/write-buffer';
import { SelfQuotaMonitor } from '../../src/core/storage/self-quota';
import { increment } from '../../src/core/storage/write-buffer';
import { testFirestore } from '../support/firestore';
import { ManualTimers } from '../write-buffer/support';

let db: Firestore;
let close: () => Promise<void>;
beforeEach(() => ({ db, close } = testFirestore()));
afterEach(() => close());

describe('self-quota warnings in Firestore', () => {
  it('counts the buffer’s committed writes, stores warnings through it, and reads them back', async () => {
    const clock = { ms: Date.UTC(2024, 0, 1, 12) };
    const monitor = new SelfQuotaMonitor(
      { limits: { write: { perSecond: 10, perMinute: 1000 } } },
      () => clock.ms,
    );
    // The buffer's commits are counted with every other operation of its Firestore, once.
    attachSelfQuota(db, monitor, { limits: false });
    const timers = new ManualTimers();
    const buffer = new WriteBuffer(db, { timers, now: () => clock.ms });
    connectSelfQuota(monitor, buffer);

    const writes = Array.from({ length: 9 }, (_, i) =>
      buffer.update(`c/d${i}`, { n: increment(1) }),
    );
    await buffer.flush();
    await Promise.all(writes);
    // Nine documents plus the batch marker: ten real writes, 100% of the per-second limit.
    expect(monitor.usage('write', 'second')).toBe(10);
    expect(monitor.recent()).toHaveLength(1);
    expect(monitor.throttled()).toBe(true);
    await buffer.flush(); // the warning is written through the buffer too

    const stored = await recentWarnings(db);
    expect(stored).toEqual([
      { atMs: clock.ms, op: 'write', window: 'second', usage: 10, limit: 10, percent: 100 },
    ]);
    const docs = await db.collection(SELF_QUOTA_WARNINGS).get();
    expect(docs.docs[0]!.data().expiresAt.toMillis()).toBeGreaterThan(clock.ms);
    // While throttled, the buffer waits longer for others to join a batch.
    const before = timers.delays.length;
    void buffer.update('c/late', { n: increment(1) }).catch(() => {});
    expect(timers.delays.slice(before)).toEqual([250 * monitor.multiplier()]);
    expect(monitor.multiplier()).toBe(2);
    await buffer.flush();
  });

  it('returns the newest warnings first, limited and since a time', async () => {
    const base = Date.UTC(2024, 0, 1);
    for (const [i, op] of (['read', 'write', 'delete', 'write'] as const).entries()) {
      const { path, data } = warningDocument({
        atMs: base + i * 1000,
        op,
        window: 'minute',
        usage: 95,
        limit: 100,
        percent: 95,
      });
      await db.doc(path).set(data);
    }
    const newest = await recentWarnings(db, { limit: 2 });
    expect(newest.map((w) => [w.atMs - base, w.op])).toEqual([
      [3000, 'write'],
      [2000, 'delete'],
    ]);
    const since = await recentWarnings(db, { sinceMs: base + 1000 });
    expect(since.map((w) => w.atMs - base)).toEqual([3000, 2000, 1000]);
  });
});
