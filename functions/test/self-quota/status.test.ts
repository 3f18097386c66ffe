import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Firestore } from 'firebase-admin/firestore';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { metricsRegistry } from '../../src/adapters/observability/metrics';
import type { OperationContext } from '../../src/adapters/operations';
import { getStatus } from '../../src/adapters/operations/status';
import {
  attachSelfQuota,
  instanceSelfQuotaMonitor,
} from '../../src/adapters/storage/self-quota-runtime';
import { warningDocument } from '../../src/adapters/storage/self-quota-store';
import { SelfQuotaMonitor } from '../../src/core/storage/self-quota';
import { testFirestore } from '../support/firestore';
import { quietLogger } from '../support/quiet-logger';

quietLogger();

const seed = JSON.parse(
  readFileSync(join(__dirname, '..', '..', '..', 'emulator-data', 'demo-documents.json'), 'utf8'),
) as Record<string, Record<string, unknown>>;

let db: Firestore;
let close: () => Promise<void>;
beforeEach(() => ({ db, close } = testFirestore()));
afterEach(() => close());

const NOW = Date.UTC(2026, 0, 1, 12);

function context(): OperationContext {
  return {
    db,
    now: () => NOW,
    projectId: () => 'demo-test',
    version: () => '0.0.0',
  } as unknown as OperationContext;
}

describe('getStatus shows the Firestore self-quota', () => {
  it('usage against the provider limits, the multiplier, throttling and recent warnings', async () => {
    await db.doc('providers/firestore').set(seed['providers/firestore']!);
    await db.doc('categories/firestore-pipeline').set(seed['categories/firestore-pipeline']!);
    // Two warnings in the last hour (any instance), one older.
    for (const atMs of [NOW - 5 * 60_000, NOW - 30 * 60_000, NOW - 3 * 3_600_000]) {
      const { path, data } = warningDocument({
        atMs,
        op: 'write',
        window: 'second',
        usage: 95,
        limit: 100,
        percent: 95,
      });
      await db.doc(path).set(data);
    }
    const monitor = new SelfQuotaMonitor({}, () => NOW);
    attachSelfQuota(db, monitor, { now: () => NOW });

    const quiet = await getStatus(context(), {});
    expect(quiet.firestore).toMatchObject({
      multiplier: 1,
      pipelineMultiplier: 1,
      pipelineSharePercent: 100,
      throttling: false,
      limitsSource: 'provider',
      recentWarnings: 2,
      recentWarningsSinceMs: NOW - 3_600_000,
    });
    expect(quiet.firestore!.usage.write.second.limit).toBe(500);
    expect(quiet.firestore!.usage.read.second.usage).toBeGreaterThan(0); // its own reads count

    monitor.record('write', 450); // 90% of 500: over the soft limit, and a warning
    const busy = await getStatus(context(), {});
    expect(busy.firestore!.usage.write.second).toEqual({ usage: 450, limit: 500, percent: 90 });
    expect(busy.firestore!.multiplier).toBe(2);
    expect(busy.firestore!.pipelineMultiplier).toBe(2);
    expect(busy.firestore!.throttling).toBe(true);
  });

  it('is null for a Firestore that is not counted', async () => {
    await db.doc('providers/keepa').set({
      limits: [{ kind: 'tokenBucket', capacity: 20, refillPerSecond: 1 }],
    });
    expect((await getStatus(context(), {})).firestore).toBeNull();
  });
});

describe('self-quota metrics', () => {
  it('exposes usage ratios, the multiplier and throttling of the instance monitor at scrape time', async () => {
    const render = async (name: string) =>
      (await metricsRegistry.getSingleMetricAsString(name))
        .split('\n')
        .filter((l) => l.startsWith(name));
    const monitor = instanceSelfQuotaMonitor();
    expect(await render('tollgate_firestore_self_quota_throttling')).toEqual([
      'tollgate_firestore_self_quota_throttling 0',
    ]);
    monitor.record('write', 450);
    expect(await render('tollgate_firestore_self_quota_usage_ratio')).toContain(
      // The minute window: the test cannot be sure the second has not turned meanwhile.
      'tollgate_firestore_self_quota_usage_ratio{op="write",window="minute"} 0.0225',
    );
    expect(await render('tollgate_firestore_self_quota_usage_ratio')).toHaveLength(6);
    expect(await render('tollgate_firestore_self_quota_multiplier')).toEqual([
      'tollgate_firestore_self_quota_multiplier 2',
    ]);
    expect(await render('tollgate_firestore_self_quota_throttling')).toEqual([
      'tollgate_firestore_self_quota_throttling 1',
    ]);
  });
});
