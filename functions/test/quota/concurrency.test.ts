import type { Firestore } from 'firebase-admin/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QuotaEngine } from '../../src/adapters/quota/quota-engine';
import { testFirestore } from '../support/firestore';
import { type GrantRecord, lowestBalance, maxPerWindow } from './grant-log';

let db: Firestore;
let close: () => Promise<void>;
beforeAll(async () => {
  ({ db, close } = testFirestore());
  await db.doc('providers/bucket').set({
    limits: [{ kind: 'tokenBucket', capacity: 40, refillPerSecond: 40, blockTokens: 5 }],
    safetyMarginMs: 0,
  });
  await db.doc('categories/all').set({ provider: 'bucket', sharePercent: 100 });
  await db.doc('providers/windowed').set({
    limits: [{ kind: 'window', unit: 'second', limit: 30, measure: 'requests', blockTokens: 3 }],
  });
  await db.doc('categories/win').set({ provider: 'windowed', sharePercent: 100 });
});
afterAll(() => close());

/** Runs `workers` acquirers spread over `instances` engines for `durationMs`; logs every grant. */
async function drive(options: {
  provider: string;
  category: string;
  instances: number;
  workers: number;
  durationMs: number;
  engineFor?: (i: number) => QuotaEngine;
  /** HTTP requests worker `w` makes per call (1 by default), for windows counting requests. */
  requestsOf?: (w: number) => number;
}) {
  const engines = Array.from({ length: options.instances }, (_, i) =>
    options.engineFor ? options.engineFor(i) : new QuotaEngine(db, { instanceId: `instance-${i}` }),
  );
  const grants: GrantRecord[] = [];
  const startMs = Date.now();
  const endMs = startMs + options.durationMs;
  let deferrals = 0;
  await Promise.all(
    Array.from({ length: options.workers }, async (_, w) => {
      const engine = engines[w % engines.length]!;
      const requests = options.requestsOf?.(w) ?? 1;
      while (Date.now() < endMs) {
        const decision = await engine.acquire({
          provider: options.provider,
          category: options.category,
          cost: 1,
          requests,
          maxWaitMs: 500,
        });
        if (decision.kind === 'granted') {
          if (decision.atMs < endMs) grants.push({ atMs: decision.atMs, cost: requests });
          decision.release();
        } else {
          deferrals++;
          await new Promise((r) =>
            setTimeout(r, Math.max(1, Math.min(decision.atMs, endMs) - Date.now())),
          );
        }
      }
    }),
  );
  return { grants, startMs, endMs, deferrals, engines };
}

describe('distributed token accounting on the local stack', () => {
  it('50 concurrent acquirers on 5 instances never exceed the bucket in any interval', async () => {
    const { grants, startMs, endMs, engines } = await drive({
      provider: 'bucket',
      category: 'all',
      instances: 5,
      workers: 50,
      durationMs: 3_000,
    });
    expect(
      lowestBalance({ capacity: 40, ratePerSecond: 40 }, grants, startMs),
    ).toBeGreaterThanOrEqual(0);
    const allowed = 40 + (40 * (endMs - startMs)) / 1000;
    expect(grants.length).toBeLessThanOrEqual(allowed);
    expect(grants.length).toBeGreaterThan(0);
    // Each claim document buys 5 grants: far fewer writes than calls.
    const writes = engines.reduce((sum, e) => sum + e.firestoreWrites(), 0);
    expect(writes).toBeLessThanOrEqual(Math.ceil(grants.length / 5) + 5 * engines.length);
  });

  it('the same check catches an accounting that double-spends (claims not exclusive)', async () => {
    const { grants, startMs } = await drive({
      provider: 'bucket',
      category: 'all',
      instances: 5,
      workers: 50,
      durationMs: 1_500,
      engineFor: (i) => {
        const engine = new QuotaEngine(db, { instanceId: `broken-${i}` });
        // A broken claim: every instance believes it owns every block.
        const ports = (
          engine.gate as unknown as {
            ports: {
              claim: () => Promise<boolean>;
              claimPage: () => Promise<string>;
              claimRun: () => Promise<string[]>;
            };
          }
        ).ports;
        ports.claim = async () => true;
        ports.claimRun = async () => [];
        ports.claimPage = async () => 'won';
        return engine;
      },
    });
    expect(lowestBalance({ capacity: 40, ratePerSecond: 40 }, grants, startMs)).toBeLessThan(0);
  });

  it('fixed windows hold across instances', async () => {
    const { grants } = await drive({
      provider: 'windowed',
      category: 'win',
      instances: 4,
      workers: 50,
      durationMs: 2_500,
    });
    expect(maxPerWindow(grants, 1000)).toBeLessThanOrEqual(30);
    expect(grants.length).toBeGreaterThan(30);
  });

  it('a window counting requests counts every request of a call, across instances', async () => {
    // Workers make 1, 2 or 3 requests a call (a page, its CSV, a retry): counting calls
    // instead of requests would let up to 90 requests through a 30-request second.
    const { grants } = await drive({
      provider: 'windowed',
      category: 'win',
      instances: 4,
      workers: 30,
      durationMs: 2_500,
      requestsOf: (w) => 1 + (w % 3),
    });
    expect(maxPerWindow(grants, 1000)).toBeLessThanOrEqual(30);
    expect(grants.length).toBeGreaterThan(10);
  });
});
