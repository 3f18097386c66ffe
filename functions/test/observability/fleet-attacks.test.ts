import { type Firestore, Timestamp } from 'firebase-admin/firestore';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { usageMinutes } from '../../src/adapters/operations/stats';
import type { FleetDoc } from '../../src/core/observability/fleet-documents';
import { latestQueueSamples } from '../../src/core/observability/fleet-summary';
import { queueSampleWrites } from '../../src/core/observability/fleet-writes';
import { minuteKey, USAGE_STATS_COLLECTION } from '../../src/core/storage/write-buffer/usage-stats';
import { testFirestore } from '../support/firestore';
import { quietLogger } from '../support/quiet-logger';

/** What a review of the fleet statistics found, kept as tests (see the fixes they name). */

quietLogger();

const MIN = 60_000;

let db: Firestore;
let close: () => Promise<void>;
beforeEach(() => ({ db, close } = testFirestore()));
afterEach(() => close());

describe('getQuotaStats over long ranges', () => {
  it('keeps the newest usage minutes when the bound cuts the answer', async () => {
    // 30 days of one busy category is 43,200 minute documents against a bound of 5,000: the
    // recent end is what an operator looks at, so the oldest are the ones left out.
    const now = Date.UTC(2026, 0, 10, 12, 0);
    const batch = db.batch();
    for (let i = 0; i < 10; i++) {
      const m = now - i * MIN;
      batch.set(db.doc(`${USAGE_STATS_COLLECTION}/keepa~products~${minuteKey(m)}`), {
        minute: Timestamp.fromMillis(m),
        provider: 'keepa',
        category: 'products',
        calls: 1,
      });
    }
    await batch.commit();
    const { minutes, truncated } = await usageMinutes(db, now - 9 * MIN, {}, 5);
    expect(truncated).toBe(true);
    expect(minutes.map((m) => m.minuteMs)).toEqual([4, 3, 2, 1, 0].map((i) => now - i * MIN));
    const filtered = await usageMinutes(db, now - 9 * MIN, { provider: 'keepa' }, 3);
    expect(filtered.minutes.map((m) => m.minuteMs)).toEqual([2, 1, 0].map((i) => now - i * MIN));
  });
});

describe('queue samples', () => {
  it("says how old a queue's last sample is, so one whose stats became unreadable shows its age", () => {
    const now = Date.UTC(2026, 0, 1, 0, 5, 0);
    const docs = (writes: ReturnType<typeof queueSampleWrites>, atMs: number): FleetDoc[] =>
      writes.slice(0, 1).map((w) => ({ atMs, queues: w.data.queues }));
    // Cloud Tasks answered 4 minutes ago; since then only the Firestore backlog was sampled.
    const old = queueSampleWrites(
      [{ queue: 'keepa', depth: 500, oldestAgeSeconds: 10, source: 'cloud_tasks' }],
      now - 4 * MIN,
    );
    const fresh = queueSampleWrites(
      [{ queue: 'ingest', depth: 1, oldestAgeSeconds: null, source: 'firestore' }],
      now,
    );
    const merged = [...docs(old, now - 4 * MIN), ...docs(fresh, now)].map((d) => ({
      ...d,
      // As stored: the increments applied.
      queues: Object.fromEntries(
        Object.entries(d.queues as Record<string, Record<string, unknown>>).map(([k, v]) => [
          k,
          { ...v, depthSum: 1, samples: 1 },
        ]),
      ),
    }));
    const latest = latestQueueSamples(merged, now - 5 * MIN);
    expect(latest.find((q) => q.queue === 'keepa')?.sampledAtMs).toBe(now - 4 * MIN);
    expect(latest.find((q) => q.queue === 'ingest')?.sampledAtMs).toBe(now);
  });
});
