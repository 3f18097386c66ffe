import type { Firestore } from 'firebase-admin/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallLimiter } from '../../src/adapters/quota/call-limiter';
import { testFirestore } from '../support/firestore';

let db: Firestore;
let close: () => Promise<void>;
beforeAll(() => ({ db, close } = testFirestore()));
afterAll(() => close());

describe('runs claimed by a gate started afresh under the same owner', () => {
  it('a CallLimiter that forgot its users does not admit a cost>1 call twice from one bucket', async () => {
    const clock = { now: Date.UTC(2026, 11, 6, 15) };
    // burst 60, 120/min: block size 1, so any call costing 2+ claims a run.
    const limiter = new CallLimiter(
      db,
      { perMinute: 120, burst: 60 },
      { now: () => clock.now, maxUsers: 3 },
    );
    expect(await limiter.admit('heavy', 'x', 30)).toEqual({ admitted: true });
    expect(await limiter.admit('heavy', 'x', 30)).toEqual({ admitted: true });
    // The bucket is empty: nothing more now.
    expect((await limiter.admit('heavy', 'x', 30)).admitted).toBe(false);
    // Three other users: past maxUsers the limiter starts afresh (a new gate, same owner id).
    for (const other of ['u1', 'u2', 'u3']) await limiter.admit(other, 'x');
    // Same instant, bucket still empty: must be refused.
    const again = [await limiter.admit('heavy', 'x', 30), await limiter.admit('heavy', 'x', 30)];
    expect(again.filter((a) => a.admitted)).toHaveLength(0);
  });
});
