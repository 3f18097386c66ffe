import type { Firestore } from 'firebase-admin/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QuotaEngine } from '../../src/adapters/quota/quota-engine';
import { WriteBuffer } from '../../src/adapters/storage/write-buffer';
import { QuotaExceededError } from '../../src/core/quota/errors';
import { SelfQuotaMonitor } from '../../src/core/storage/self-quota';
import { testFirestore } from '../support/firestore';

let db: Firestore;
let close: () => Promise<void>;
beforeAll(async () => {
  ({ db, close } = testFirestore());
  await db.doc('providers/keepa').set({
    limits: [{ kind: 'tokenBucket', capacity: 20, refillPerSecond: 1, blockTokens: 2 }],
    safetyMarginMs: 0,
  });
  await db.doc('categories/deals').set({ provider: 'keepa', sharePercent: 100 });
});
afterAll(() => close());

describe('usage statistics', () => {
  it('counts grants, deferrals and 429s per provider, category and minute through the buffer', async () => {
    const buffer = new WriteBuffer(db);
    const selfQuota = new SelfQuotaMonitor();
    const engine = new QuotaEngine(db, { buffer, selfQuota });
    const outcomes = await Promise.all(
      Array.from({ length: 30 }, () =>
        engine.acquire({ provider: 'keepa', category: 'deals', maxWaitMs: 0 }),
      ),
    );
    await engine.reportQuotaError(new QuotaExceededError('keepa', 'product', 5), 'deals');
    await buffer.flush();
    const granted = outcomes.filter((o) => o.kind === 'granted').length;
    const stats = await db.collection('usageStats').where('provider', '==', 'keepa').get();
    const sum = (field: string) => stats.docs.reduce((n, d) => n + Number(d.get(field) ?? 0), 0);
    expect(granted).toBeGreaterThan(0);
    expect(sum('granted')).toBe(granted);
    expect(sum('deferred')).toBe(30 - granted);
    expect(sum('quota429')).toBe(1);
    // 31 logical updates, coalesced into a handful of documents written.
    expect(buffer.stats().documentWrites).toBeLessThan(31);
    // The engine's own claim writes count against the Firestore self-quota.
    expect(selfQuota.usage('write', 'minute')).toBeGreaterThanOrEqual(engine.claimWrites);
  });
});
