import type { Firestore } from 'firebase-admin/firestore';
import type { QuotaEngine } from '../../../functions/src/adapters/quota/quota-engine.ts';
import { republishAllocations } from '../../../functions/src/adapters/quota/republish.ts';
import { type BenchUpstream, type QuotaBenchResult, runQuotaBench } from './harness.ts';
import {
  type DeferralTally,
  EnginePool,
  type EnginePoolStats,
  tollgateLimiter,
} from './tollgate-limiter.ts';

const DAY_MS = 86_400_000;

export interface ChurnOptions {
  db: Firestore;
  upstream: BenchUpstream;
  provider: string;
  /** The provider's categories and the shares they rotate through, one row per change. */
  categories: string[];
  shareRotation: number[][];
  workers: number;
  instances: number;
  /** Calls an instance serves before it is shut down and replaced. */
  lifetimeCalls: number;
  /** A share change (categories rewritten, allocations republished) this often. */
  sharePeriodMs: number;
  /** The run ends when no worker can get another grant, or after this long. */
  capMs: number;
  bucket: { capacity: number; refillPerSecond: number; blockTokens?: number };
  /** The provider's day window: N requests. */
  windowLimit: number;
  maxWaitMs: number;
  safetyMarginMs: number;
  /** A cold instance's engine; it must sleep with `meteredSleep` for latency to be right. */
  createEngine(): QuotaEngine;
}

export interface ChurnResult {
  run: QuotaBenchResult;
  pool: EnginePoolStats;
  deferralsByReason: Record<string, DeferralTally>;
  /** Share changes made (categories rewritten and republished) during the run. */
  shareChanges: number;
  /** Republications that reported a changed share. */
  publishedChanges: number;
  shareChangeErrors: string[];
  /** Whether the run crossed midnight UTC: the engine's day window then starts afresh. */
  crossedUtcMidnight: boolean;
  /**
   * Tokens claimed per limit key of the provider, read from the claim documents after the run
   * (blocks, and pages taken whole; split pages own nothing): what instances took, against
   * what was admitted. Empty if the claim documents do not look as expected.
   */
  claimedTokensByLimit: Record<string, number>;
}

/**
 * The churn scenario: a provider with a token bucket and a day window, shared by categories
 * whose shares are rewritten every few seconds (and republished, as the allocation schedule
 * would); instances recycled every few calls. Runs until every worker is told to retry after
 * the cap (the window is spent, or nothing more can be had today), or until the cap. The
 * upstream enforces the bucket and the window (N requests from the run's start).
 */
export async function runChurnBench(opts: ChurnOptions): Promise<ChurnResult> {
  const { db, provider, categories } = opts;
  await db.doc(`providers/${provider}`).set({
    limits: [
      { kind: 'tokenBucket', ...opts.bucket },
      { kind: 'window', unit: 'day', limit: opts.windowLimit, measure: 'requests' },
    ],
    safetyMarginMs: opts.safetyMarginMs,
  });
  await writeShares(db, provider, categories, opts.shareRotation[0]!);
  // The allocation as the schedule would have published it before the run.
  await republishAllocations(db, Date.now());
  const shaped = await fetch(
    `${opts.upstream.url}/reset?capacity=${opts.bucket.capacity}` +
      `&refillPerSecond=${opts.bucket.refillPerSecond}&windowLimit=${opts.windowLimit}`,
    { method: 'POST' },
  );
  if (!shaped.ok) throw new Error(`upstream reset: ${shaped.status}`);

  const pool = new EnginePool({
    instances: opts.instances,
    lifetimeCalls: opts.lifetimeCalls,
    create: opts.createEngine,
  });
  const limiter = tollgateLimiter({
    pool,
    provider,
    categoryFor: (worker) => categories[worker % categories.length]!,
    maxWaitMs: opts.maxWaitMs,
  });

  let shareChanges = 0;
  let publishedChanges = 0;
  const shareChangeErrors: string[] = [];
  let stopped = false;
  let wake: (() => void) | undefined;
  const changer = (async () => {
    for (let i = 1; ; i++) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, opts.sharePeriodMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (stopped) return;
      try {
        const shares = opts.shareRotation[i % opts.shareRotation.length]!;
        await writeShares(db, provider, categories, shares);
        const republished = await republishAllocations(db, Date.now());
        shareChanges++;
        if (republished.some((r) => r.provider === provider && r.changed.length > 0)) {
          publishedChanges++;
        }
      } catch (error) {
        if (shareChangeErrors.length < 5) shareChangeErrors.push(String(error));
      }
    }
  })();

  const startMs = Date.now();
  let run: QuotaBenchResult;
  try {
    run = await runQuotaBench({
      workers: opts.workers,
      durationMs: opts.capMs,
      upstream: opts.upstream,
      limiter,
      maxWaitMs: opts.maxWaitMs,
      stopWhenRetryBeyondDeadline: true,
    });
  } finally {
    stopped = true;
    wake?.();
    await changer;
  }
  const endMs = Date.now();
  await pool.settle();
  await Promise.all(pool.engines().map((e) => e.shutdown()));
  // Every engine's writes, shutdowns and replacements finished after the deadline included.
  const firestoreWrites = pool.firestoreWrites();
  return {
    run: {
      ...run,
      firestoreWrites,
      firestoreWritesPerAdmittedCall: run.admitted ? firestoreWrites / run.admitted : 0,
    },
    pool: pool.stats(),
    deferralsByReason: limiter.deferralsByReason,
    shareChanges,
    publishedChanges,
    shareChangeErrors,
    crossedUtcMidnight: Math.floor(startMs / DAY_MS) !== Math.floor(endMs / DAY_MS),
    claimedTokensByLimit: await claimedTokens(db, provider),
  };
}

async function claimedTokens(db: Firestore, provider: string): Promise<Record<string, number>> {
  const claimed: Record<string, number> = {};
  const snap = await db
    .collection('quotaBlocks')
    .where('limit', '>=', `${provider}~`)
    .where('limit', '<', `${provider}~\uf8ff`)
    .get();
  for (const doc of snap.docs) {
    const { limit, start, end, mode } = doc.data();
    if (typeof limit !== 'string' || typeof start !== 'number' || typeof end !== 'number') continue;
    if (mode === 'split') continue;
    claimed[limit] = (claimed[limit] ?? 0) + (end - start);
  }
  return claimed;
}

/** Rewrites the categories' shares in one batch (the provider's shares never sum above 100). */
async function writeShares(
  db: Firestore,
  provider: string,
  categories: string[],
  shares: number[],
): Promise<void> {
  const batch = db.batch();
  categories.forEach((id, i) => {
    batch.set(db.doc(`categories/${id}`), { provider, sharePercent: shares[i] ?? 0 });
  });
  await batch.commit();
}
