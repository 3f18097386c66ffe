import type { Firestore } from 'firebase-admin/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firestoreClaims } from '../../src/adapters/quota/claims';
import { QuotaEngine } from '../../src/adapters/quota/quota-engine';
import type { Decision } from '../../src/core/quota/decision';
import type { BlockRef } from '../../src/core/quota/token-source';
import { testFirestore } from '../support/firestore';
import { dayClock, dayProvider, seeded, windowBlocks } from './window-support';

let db: Firestore;
let close: () => Promise<void>;
beforeAll(() => ({ db, close } = testFirestore()));
afterAll(() => close());

/**
 * Claims the given blocks of the window as other instances would have (each page split, then
 * the block), so the window is exactly that busy and nobody holds unspent tokens of it.
 */
async function claimedByOthers(key: string, refs: BlockRef[]): Promise<void> {
  const claims = firestoreClaims(db, 'others');
  const pages = new Map(refs.map((ref) => [ref.page!.id, ref.page!]));
  await Promise.all([...pages.values()].map((page) => claims.claimPage(key, page, 'split')));
  await Promise.all(refs.map((ref) => claims.claim(key, ref)));
}

/**
 * A cold instance's calls (up to `calls`, until one is granted or told to come back in the next
 * window), with the window as `taken` leaves it: every decision, in order.
 */
async function coldCalls(
  provider: string,
  taken: (refs: BlockRef[]) => BlockRef[],
  calls = 1,
  seed = 1,
) {
  const clock = dayClock();
  const category = await dayProvider(db, provider, 200, 1);
  const setup = new QuotaEngine(db, { now: clock.now });
  const { key, refs } = await windowBlocks(setup, provider, category, clock.now());
  expect(refs).toHaveLength(200);
  await claimedByOthers(key, taken(refs));
  const cold = new QuotaEngine(db, {
    now: clock.now,
    instanceId: `${provider}-cold`,
    random: seeded(seed),
  });
  const decisions: Decision[] = [];
  for (let i = 0; i < calls; i++) {
    const decision = await cold.acquire({ provider, category, requests: 1, maxWaitMs: 0 });
    decisions.push(decision);
    if (decision.kind === 'granted') {
      decision.release();
      break;
    }
    if (decision.atMs >= clock.window().endMs) break;
  }
  await cold.shutdown();
  return { decisions, stats: cold.gate.stats, now: clock.now(), window: clock.window() };
}

/** The first call's answer, readable in a failure: "granted", or when to retry and why. */
async function coldCall(provider: string, taken: (refs: BlockRef[]) => BlockRef[], seed = 1) {
  const { decisions, now, window } = await coldCalls(provider, taken, 1, seed);
  const decision = decisions[0]!;
  if (decision.kind === 'granted') return 'granted';
  const when = decision.atMs >= window.endMs ? 'the next window' : `${decision.atMs - now} ms`;
  return `retry (${decision.reason}) at ${when}`;
}

describe('a cold instance in a busy day window', () => {
  it('gets a grant when 90% of the window is claimed in order (not "retry tomorrow")', async () => {
    const { decisions, stats } = await coldCalls('busy-in-order', (refs) => refs.slice(0, 180));
    expect(decisions).toEqual([expect.objectContaining({ kind: 'granted' })]);
    // The gallop: a few lost claims, not one per taken block.
    expect(stats.claimsLost).toBeLessThanOrEqual(10);
  });

  const seeds = [1, 2, 3, 4, 5];

  it.each(seeds)('gets a grant when the free tenth is scattered (seed %i)', async (seed) => {
    // Every tenth block free: a gallop after lost claims skips free blocks it presumes taken.
    const decision = await coldCall(
      `busy-scattered-${seed}`,
      (refs) => refs.filter((_, i) => i % 10 !== 7),
      seed,
    );
    expect(decision).toBe('granted');
  });

  it.each(seeds)('gets a grant when the free tenth is a stretch behind (seed %i)', async (seed) => {
    // Claims ran ahead of a stretch of blocks (an instance galloped past them and others
    // followed): blocks 34..53 are free, all the others taken. A gallop from the start skips
    // the stretch, presuming it taken.
    const decision = await coldCall(
      `busy-stretch-${seed}`,
      (refs) => refs.filter((_, i) => i < 34 || i >= 54),
      seed,
    );
    expect(decision).toBe('granted');
  });

  it('checks its presumptions before the next window: a few free blocks far behind', async () => {
    // Only five blocks free, early in the window, everything after them taken: the first calls
    // may answer "soon" (never later than the presumption lapses), then a grant.
    const free = new Set([5, 9, 13, 21, 22]);
    const { decisions, now } = await coldCalls(
      'busy-holes',
      (refs) => refs.filter((_, i) => !free.has(i)),
      10,
    );
    expect(decisions.at(-1)).toMatchObject({ kind: 'granted' });
    for (const soon of decisions.slice(0, -1)) {
      expect(soon).toMatchObject({ kind: 'retryAt', reason: 'window' });
      expect(soon.atMs).toBeLessThan(now + 1_000);
    }
  });

  it('still answers the next window when every block is truly claimed', async () => {
    // A cold instance knows nothing: the blocks its gallop skipped are only presumed taken,
    // so it answers "soon" (never beyond the presumption) until it has checked them all.
    const { decisions, now, window } = await coldCalls('busy-spent', (refs) => refs, 30);
    const last = decisions.at(-1)!;
    expect(last).toMatchObject({ kind: 'retryAt', reason: 'window', atMs: window.endMs });
    for (const soon of decisions.slice(0, -1)) {
      expect(soon).toMatchObject({ kind: 'retryAt', reason: 'window' });
      expect(soon.atMs).toBeLessThan(now + 1_000);
    }
    // Each call checks a good share of the window's blocks: a few calls, not one per block.
    expect(decisions.length).toBeLessThanOrEqual(12);
  });
});
