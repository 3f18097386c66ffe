import { Timestamp } from 'firebase-admin/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OperationContext } from '../../src/adapters/operations/context';
import { REPLAY_DEADLINE_MARGIN_MS, simulatePolicy } from '../../src/adapters/operations/replay';
import { WriteBuffer } from '../../src/adapters/storage/write-buffer';
import { ApiError, type SimulatePolicyResult } from '../../src/core/operations';
import { demandStatsUpdate } from '../../src/core/storage/write-buffer/demand-stats';
import { quietLogger } from '../support/quiet-logger';
import { type ApiFixture, apiFixture, call, T0 } from './support';

/**
 * simulatePolicy: recorded demand (as the gate writes it through the buffer) replayed under the
 * seeded configuration and a proposed one; operators only; invalid policies name their field.
 */

quietLogger();

const FROM = T0 - 10 * 60_000;
let f: ApiFixture;

beforeAll(async () => {
  f = await apiFixture();
  const buffer = new WriteBuffer(f.db);
  // 3 calls/s each for deals and historical against keepa's 5/s: more than it grants.
  const writes: Array<Promise<void>> = [];
  for (let t = FROM; t < T0; t += 333) {
    for (const category of ['deals', 'historical']) {
      const w = demandStatsUpdate({
        provider: 'keepa',
        category,
        operation: 'product',
        at: t,
        cost: 1,
        bytes: 0,
        requests: 1,
        outcome: 'granted',
        attempt: 0,
      });
      writes.push(buffer.merge(w.path, w.data));
    }
  }
  await buffer.flush();
  await Promise.all(writes);
});
afterAll(() => f.close());

describe('simulatePolicy', () => {
  it('replays the range under the current and the proposed policy, side by side', async () => {
    const answer = await call(
      f,
      'simulatePolicy',
      {
        from: FROM,
        to: T0,
        policy: {
          categories: [
            { id: 'deals', sharePercent: 10 },
            { id: 'historical', sharePercent: 60 },
          ],
        },
        instances: 3,
        // The demand above was written, not made by work items through keepa's queue (which the
        // seeded collection sizes for deals alone, at 2.5/s for 6 asks/s): replayed without one.
        queue: 'none',
      },
      'operator',
    );
    expect(answer.ok).toBe(true);
    const result = (answer as { result: SimulatePolicyResult }).result;
    expect(result.documents).toBe(20);
    expect(result.demand.firstAsks).toBeGreaterThan(3_500);
    const granted = (side: 'current' | 'proposed', category: string) =>
      result[side].categories.find((c) => c.category === category)?.grantedCost ?? 0;
    expect(granted('current', 'deals')).toBeGreaterThan(2 * granted('proposed', 'deals'));
    expect(granted('proposed', 'historical')).toBeGreaterThan(granted('current', 'historical'));
    expect(result.changed.categories).toEqual(['deals', 'historical']);
    expect(result.current.limits[0]).toMatchObject({ provider: 'keepa', limit: 'bucket' });
    expect(result.speedup).toBeGreaterThan(0);
    // The seeded running collection: 100 items left, no rate measured yet, so no ETA.
    expect(result.current.collections).toEqual([
      expect.objectContaining({ id: 'deals-2026', category: 'deals', remaining: 100 }),
    ]);
    expect(result.current.collections[0]!.status).toBe('stalled');
  }, 60_000);

  it('is for operators', async () => {
    const answer = await call(f, 'simulatePolicy', { from: FROM, to: T0, policy: {} }, 'viewer');
    expect(answer.ok).toBe(false);
    expect((answer as { error: { code: string } }).error.code).toBe('permission-denied');
  });

  it('names the field of an invalid input or policy document', async () => {
    const backwards = await call(f, 'simulatePolicy', { from: T0, to: FROM, policy: {} });
    expect(backwards.ok).toBe(false);
    expect((backwards as { error: { code: string; message: string } }).error.message).toMatch(
      /^to: must be after from/,
    );
    const invalid = await call(f, 'simulatePolicy', {
      from: FROM,
      to: T0,
      policy: { categories: [{ id: 'deals', sharePercent: 130 }] },
    });
    expect(invalid.ok).toBe(false);
    const error = (invalid as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('invalid-argument');
    expect(error.message).toContain('policy.categories[0].sharePercent');
    // An unknown flag is refused by name, not dropped (and never listed as changed).
    const flag = await call(f, 'simulatePolicy', {
      from: FROM,
      to: T0,
      policy: { flags: { maintenance: true, maintenence: true } },
    });
    expect(flag.ok).toBe(false);
    const flagError = (flag as { error: { code: string; message: string } }).error;
    expect(flagError.code).toBe('invalid-argument');
    expect(flagError.message).toContain('policy.flags.maintenence');
    // So is an unknown field of a document: a misspelt change is not replayed as no change.
    const typo = await call(f, 'simulatePolicy', {
      from: FROM,
      to: T0,
      policy: { categories: [{ id: 'deals', sharePercnt: 50 }] },
    });
    expect(typo.ok).toBe(false);
    expect((typo as { error: { message: string } }).error.message).toContain(
      'policy.categories[0].sharePercnt: unknown field',
    );
    // A check across documents names the document it found wanting.
    const sum = await call(f, 'simulatePolicy', {
      from: FROM,
      to: T0,
      policy: { categories: [{ id: 'deals', sharePercent: 100 }] },
    });
    expect(sum.ok).toBe(false);
    expect((sum as { error: { message: string } }).error.message).toMatch(/categories\//);
  });

  it('refuses a range holding more calls than one replay simulates, before simulating', async () => {
    const from = T0 - 2 * 86_400_000;
    for (let i = 0; i < 3; i++) {
      const minute = Timestamp.fromMillis(from + i * 60_000);
      await f.db.doc(`demandStats/keepa~deals~huge~${i}`).set({
        provider: 'keepa',
        category: 'deals',
        operation: 'huge',
        minute,
        asked: 1_000_000,
        cost: 1_000_000,
        requests: 1_000_000,
      });
    }
    const answer = await call(f, 'simulatePolicy', {
      from,
      to: from + 3 * 60_000,
      policy: {},
      queue: 'none',
    });
    expect(answer.ok).toBe(false);
    const error = (answer as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('failed-precondition');
    expect(error.message).toContain('2000000');
  });
});

describe("simulatePolicy within its call's deadline", () => {
  it('stops before the deadline with deadline-exceeded and how far it got', async () => {
    // Each look at the clock is a second later: the replay outruns a 30 s deadline.
    let now = T0;
    const ctx = {
      ...f.deps,
      actor: { uid: 'op', email: null, role: 'operator' },
      now: () => (now += 1_000),
      deadlineMs: T0 + 30_000 + REPLAY_DEADLINE_MARGIN_MS,
    } as unknown as OperationContext;
    const error = await simulatePolicy(ctx, {
      from: FROM,
      to: T0,
      policy: { categories: [{ id: 'deals', sharePercent: 10 }] },
    }).catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'deadline-exceeded' });
    expect(error.message).toMatch(/tollgate replay/);
    const { doneMs, totalMs } = error.details as { doneMs: number; totalMs: number };
    expect(doneMs).toBeGreaterThan(0);
    expect(doneMs).toBeLessThan(totalMs);
  }, 60_000);
});
