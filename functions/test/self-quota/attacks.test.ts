import type { Firestore } from 'firebase-admin/firestore';
import { afterAll, describe, expect, it } from 'vitest';
import { metricsRegistry } from '../../src/adapters/observability/metrics';
import type { OperationContext } from '../../src/adapters/operations';
import { getStatus } from '../../src/adapters/operations/status';
import { commitInBatches } from '../../src/adapters/storage/batch-writes';
import { SelfQuotaLimits } from '../../src/adapters/storage/self-quota-limits';
import {
  attachSelfQuota,
  instanceSelfQuotaMonitor,
  paceFirestoreWork,
} from '../../src/adapters/storage/self-quota-runtime';
import {
  FIRESTORE_OPS,
  type FirestoreOp,
  SelfQuotaMonitor,
} from '../../src/core/storage/self-quota';
import { selfQuotaSettings } from '../../src/core/storage/self-quota-config';
import { testFirestore } from '../support/firestore';
import { quietLogger } from '../support/quiet-logger';

/**
 * Findings of a hostile review of the Firestore self-quota, kept as regression tests (with the
 * review's controls). Clocks and sleeps are injected: no test depends on wall-clock time.
 */

quietLogger();

const opened: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const close of opened) await close();
});

function firestore(): Firestore {
  const { db, close } = testFirestore();
  opened.push(close);
  return db;
}

const NOW = Date.UTC(2026, 0, 1, 12);

function writesOf(db: Firestore, n: number, prefix = 'w') {
  return Array.from({ length: n }, (_, i) => ({
    ref: db.doc(`${prefix}/${String(i).padStart(6, '0')}`),
    data: { i },
  }));
}

/**
 * Virtual time for work without I/O: sleeps are timers that fire, earliest first, only once
 * everything runnable has run, so what a task does between its sleeps takes no time at all.
 */
class VirtualTime {
  ms = NOW;
  private seq = 0;
  private timers: Array<{ at: number; seq: number; fire: () => void }> = [];
  readonly now = () => this.ms;
  readonly sleep = (ms: number) =>
    new Promise<void>((fire) => {
      this.timers.push({ at: this.ms + ms, seq: this.seq++, fire });
    });

  async run<T>(work: Promise<T>): Promise<T> {
    let done = false;
    const settled = work.finally(() => {
      done = true;
    });
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve));
      if (done) return settled;
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers.shift();
      if (!next) throw new Error('deadlock: nothing runs and no timer is set');
      this.ms = Math.max(this.ms, next.at);
      next.fire();
    }
  }
}

describe('pacing holds heavy work to the limits it is given (finding 11)', () => {
  it('one worker: batched writes stay near the per-second limit (20/s)', async () => {
    const db = firestore();
    const clock = { ms: NOW };
    const monitor = new SelfQuotaMonitor(
      { limits: { write: { perSecond: 20, perMinute: 1_200 } } },
      () => clock.ms,
    );
    // The clock moves only while heavy work sleeps: Firestore calls are instantaneous here,
    // which is what a fast emulator or a warm production connection looks like to the monitor.
    attachSelfQuota(db, monitor, {
      limits: false,
      now: () => clock.ms,
      sleep: async (ms) => {
        clock.ms += ms;
      },
    });
    const started = clock.ms;
    await commitInBatches(db, writesOf(db, 3_000));
    const seconds = Math.max(1, (clock.ms - started) / 1000);
    const rate = 3_000 / seconds;
    // Before: 3,000 writes within one second (pauses of 200 ms, at most 2 s).
    expect(rate, `${rate.toFixed(0)} writes/s against a 20/s limit`).toBeLessThanOrEqual(40);
  });

  it('concurrent heavy work on one instance: let through one at a time, the minute limit held', async () => {
    const db = firestore();
    const time = new VirtualTime();
    const monitor = new SelfQuotaMonitor(
      { limits: { write: { perSecond: 50, perMinute: 1_000 } } },
      time.now,
    );
    // A bound long enough for every waiter (past the bound work goes on: see pacing.test.ts).
    attachSelfQuota(db, monitor, {
      limits: false,
      now: time.now,
      sleep: time.sleep,
      paceMaxWaitMs: 10 * 60_000,
    });
    const spent: Array<{ second: number; writes: number }> = [];
    // Four tasks of one instance, each pacing before every batch of 200 writes, a commit
    // taking 50 ms.
    const task = async () => {
      for (let batch = 0; batch < 4; batch++) {
        await paceFirestoreWork(db, 'batch');
        await time.sleep(50);
        monitor.record('write', 200);
        spent.push({ second: Math.floor(time.ms / 1000), writes: 200 });
      }
    };
    await time.run(Promise.all([task(), task(), task(), task()]));
    expect(spent).toHaveLength(16);
    const bySecond = new Map<number, number>();
    for (const { second, writes } of spent) {
      bySecond.set(second, (bySecond.get(second) ?? 0) + writes);
    }
    const seconds = [...bySecond.keys()].sort((a, b) => a - b);
    const first = seconds[0]!;
    for (const second of seconds) {
      // The sliding minute the monitor counts: this second and the 59 before it.
      let minute = 0;
      for (const [s, writes] of bySecond) if (s > second - 60 && s <= second) minute += writes;
      expect(minute, `writes in the minute to second ${second - first}`).toBeLessThanOrEqual(1_000);
      // Before pacing had anything to go by (all four start at once), nothing holds them;
      // afterwards waiters are let into a window one at a time, not all together.
      if (second !== first) expect(bySecond.get(second), `second ${second - first}`).toBe(200);
    }
  });
});

describe('hostile providers/firestore documents (finding 13)', () => {
  it('a window limit of 0.000001 per second is refused (fall back), not applied as "throttle forever"', () => {
    const settings = selfQuotaSettings(
      { limits: [{ kind: 'window', unit: 'second', limit: 0.000001, measure: 'requests' }] },
      undefined,
    );
    expect(settings.limitsSource).toBe('default');
    expect(settings.problems.join()).toMatch(/at least 1 per second/);
    const monitor = new SelfQuotaMonitor({}, () => NOW);
    monitor.configure(settings.options);
    monitor.record('write', 1);
    expect(monitor.throttled()).toBe(false);
  });

  it('a minute window under 60 and settings under 1/s or 60/min are refused too', () => {
    for (const doc of [
      { limits: [{ kind: 'window', unit: 'minute', limit: 59 }] },
      {
        limits: [{ kind: 'window', unit: 'second', limit: 500 }],
        settings: { readPerSecond: 0.001 },
      },
      {
        limits: [{ kind: 'window', unit: 'second', limit: 500 }],
        settings: { writePerMinute: 59 },
      },
    ]) {
      expect(selfQuotaSettings(doc, undefined).limitsSource, JSON.stringify(doc)).toBe('default');
    }
    const least = selfQuotaSettings(
      {
        limits: [{ kind: 'window', unit: 'second', limit: 1 }],
        settings: { readPerSecond: 1, readPerMinute: 60 },
      },
      undefined,
    );
    expect(least.limitsSource).toBe('provider');
    expect(least.options.limits).toEqual({
      read: { perSecond: 1, perMinute: 60 },
      write: { perSecond: 1 },
      delete: { perSecond: 1 },
    });
  });

  it('wrong types, NaN, Infinity, negative and zero limits fall back to the defaults without throwing (control)', () => {
    const bad: unknown[] = [
      { limits: [{ kind: 'window', unit: 'second', limit: Number.NaN }] },
      { limits: [{ kind: 'window', unit: 'second', limit: Number.POSITIVE_INFINITY }] },
      { limits: [{ kind: 'window', unit: 'second', limit: -5 }] },
      { limits: [{ kind: 'window', unit: 'second', limit: 0 }] },
      { limits: 'lots' },
      { limits: [{ kind: 'window', unit: 'second', limit: 5 }], settings: { writePerSecond: '5' } },
      { limits: [{ kind: 'window', unit: 'second', limit: 5 }], settings: { writePerSecond: 0 } },
      null,
      42,
      [],
    ];
    for (const doc of bad) {
      const s = selfQuotaSettings(doc, { provider: 'firestore', sharePercent: Number.NaN });
      expect(s.limitsSource, JSON.stringify(doc)).toBe('default');
      const monitor = new SelfQuotaMonitor({}, () => NOW);
      expect(() => monitor.configure(s.options)).not.toThrow();
      expect(s.options.backgroundShare).toBe(1);
    }
  });
});

describe('counting what Firestore bills', () => {
  const db = firestore();
  const monitor = new SelfQuotaMonitor(
    {
      limits: {
        read: { perSecond: 1e6, perMinute: 6e7 },
        write: { perSecond: 1e6, perMinute: 6e7 },
        delete: { perSecond: 1e6, perMinute: 6e7 },
      },
    },
    () => NOW,
  );
  attachSelfQuota(db, monitor, { limits: false });
  const counts = () =>
    Object.fromEntries(FIRESTORE_OPS.map((op) => [op, monitor.usage(op, 'second')])) as Record<
      FirestoreOp,
      number
    >;
  async function cost(fn: () => Promise<unknown>) {
    const before = counts();
    await fn();
    const after = counts();
    return Object.fromEntries(FIRESTORE_OPS.map((op) => [op, after[op] - before[op]]));
  }

  it('a query with offset is billed for the skipped documents too (finding 14)', async () => {
    const batch = db.batch();
    for (let i = 0; i < 10; i++) batch.set(db.doc(`off/${i}`), { i });
    await batch.commit();
    // Firestore: "your application is billed for the read operations required to retrieve"
    // the documents an offset skips.
    expect(await cost(() => db.collection('off').offset(5).limit(1).get())).toMatchObject({
      read: 6,
    });
    expect(await cost(() => db.collection('off').offset(2).limit(3).get())).toMatchObject({
      read: 5,
    });
    // Past the end: nothing returned, nothing reported skipped: the query's minimum.
    expect(await cost(() => db.collection('off').offset(50).get())).toMatchObject({ read: 1 });
  });

  it('a listener pays for each document of its first snapshot (control)', async () => {
    const batch = db.batch();
    for (let i = 0; i < 3; i++) batch.set(db.doc(`lis/${i}`), { i });
    await batch.commit();
    const spent = await cost(
      () =>
        new Promise<void>((resolve, reject) => {
          const off = db.collection('lis').onSnapshot((s) => {
            if (s.size === 3) {
              off();
              resolve();
            }
          }, reject);
        }),
    );
    expect(spent).toMatchObject({ read: 3 });
  });

  it('a transaction retried on contention pays its reads once per attempt (control)', async () => {
    await db.doc('tx/a').set({ n: 0 });
    let attempts = 0;
    const spent = await cost(async () => {
      await db.runTransaction(async (tx) => {
        attempts++;
        const a = await tx.get(db.doc('tx/a'));
        if (attempts === 1) await db.doc('tx/a').set({ n: 100 }); // a concurrent writer
        tx.set(db.doc('tx/a'), { n: (a.get('n') as number) + 1 });
      });
    });
    // Each attempt's read, the concurrent set, the final commit.
    expect(spent).toMatchObject({ read: attempts, write: 2 });
  });
});

describe('getStatus and metrics', () => {
  it('says so when the Firestore is not counted (SDK without the request funnel), instead of showing 0% usage (finding 15)', async () => {
    const db = firestore();
    // What a @google-cloud/firestore release without the internal `request` looks like.
    Object.defineProperty(db, 'request', { value: undefined, configurable: true });
    attachSelfQuota(db, new SelfQuotaMonitor({}, () => NOW), { now: () => NOW });
    const ctx = {
      db,
      now: () => NOW,
      projectId: () => 'demo-test',
      version: () => '0.0.0',
    } as unknown as OperationContext;
    const status = await getStatus(ctx, {});
    // results.ts: "Null when the answering instance's Firestore is not counted".
    expect(status.firestore).toBeNull();
  });

  it('metrics expose the pipeline (heavy work) multiplier, not only the buffer one (finding 16)', async () => {
    const monitor = instanceSelfQuotaMonitor();
    monitor.configure({ backgroundShare: 0.1 });
    try {
      monitor.record('write', 100); // 20% of 500/s: over the pipeline's 8%, under the 80%
      const multiplier = monitor.backgroundMultiplier();
      expect(multiplier).toBeGreaterThan(1);
      const text = await metricsRegistry.getSingleMetricAsString(
        'tollgate_firestore_self_quota_pipeline_multiplier',
      );
      // The second may turn between the two readings: the multiplier only grows meanwhile.
      const served = Number(
        text
          .split('\n')
          .find((l) => l.startsWith('tollgate_firestore_self_quota_pipeline_multiplier '))
          ?.split(' ')[1],
      );
      expect(served).toBeGreaterThanOrEqual(multiplier);
    } finally {
      monitor.configure({ backgroundShare: 1 });
    }
  });
});

describe('limits refresh (control)', () => {
  it('a provider document that flips between valid and invalid never leaves the monitor unconfigured', async () => {
    const db = firestore();
    const clock = { ms: NOW };
    const monitor = new SelfQuotaMonitor({}, () => clock.ms);
    const limits = new SelfQuotaLimits(db, monitor, { now: () => clock.ms, cacheMs: 1 });
    for (const doc of [
      { limits: [{ kind: 'window', unit: 'second', limit: 10 }] },
      { limits: [{ kind: 'window', unit: 'second', limit: 2e6 }] },
      { limits: [] },
      { limits: [{ kind: 'window', unit: 'minute', limit: 100 }] },
    ]) {
      await db.doc('providers/firestore').set(doc);
      clock.ms += 10;
      await limits.refresh();
      for (const op of FIRESTORE_OPS) {
        expect(monitor.config.limits[op].perSecond).toBeGreaterThan(0);
        expect(monitor.config.limits[op].perMinute).toBeGreaterThan(0);
      }
    }
  });
});
