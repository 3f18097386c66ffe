import type { Firestore } from 'firebase-admin/firestore';
import type { QuotaEngine } from '../../src/adapters/quota/quota-engine';
import { planLimits } from '../../src/core/quota/limits';
import type { BlockRef } from '../../src/core/quota/token-source';
import { windowAt } from '../../src/core/quota/windows';
import { prng } from '../core/quota/fleet-sim';

const DAY_MS = 86_400_000;

/**
 * An injected clock near real time (day windows, TTLs and allocations stay realistic) that is
 * never within ten minutes of UTC midnight, so a test's day window does not roll over under it;
 * `advance` moves it forward (an instance sitting idle).
 */
export function dayClock() {
  const real = Date.now();
  const toMidnight = DAY_MS - (real % DAY_MS);
  const offset = toMidnight < 10 * 60_000 ? toMidnight + 60_000 : 0;
  let shift = 0;
  const now = () => Date.now() + offset + shift;
  return {
    now,
    advance(ms: number) {
      shift += ms;
    },
    /** The day window the clock is in now. */
    window: () => windowAt('day', now()),
  };
}

/** A provider with only a day window of `limit` requests, and its one category (100%). */
export async function dayProvider(
  db: Firestore,
  provider: string,
  limit: number,
  blockTokens?: number,
): Promise<string> {
  await db.doc(`providers/${provider}`).set({
    limits: [
      {
        kind: 'window',
        unit: 'day',
        limit,
        measure: 'requests',
        ...(blockTokens ? { blockTokens } : {}),
      },
    ],
    safetyMarginMs: 0,
  });
  const category = `${provider}-all`;
  await db.doc(`categories/${category}`).set({ provider, sharePercent: 100 });
  return category;
}

/** The day window's claim blocks of a provider's category as every instance names them. */
export async function windowBlocks(
  engine: QuotaEngine,
  provider: string,
  category: string,
  atMs: number,
): Promise<{ key: string; refs: BlockRef[] }> {
  const context = await engine.contexts.context(provider, category, 1);
  const [limit] = planLimits(
    context.allocation,
    provider,
    category,
    { cost: 1, bytes: 1, requests: 1 },
    atMs,
  );
  if (!limit) throw new Error(`no window limit for ${provider}`);
  return { key: limit.key, refs: [...limit.source.candidates(atMs, 0)] };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A seeded random source, so a test's claim choices are the same every run. */
export const seeded = prng;
