import type { Firestore } from 'firebase-admin/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRuntimeConfig } from '../../src/adapters/config-repository';
import { ConfigError } from '../../src/core/config';
import { testFirestore } from '../support/firestore';

let db: Firestore;
let close: () => Promise<void>;
beforeAll(() => ({ db, close } = testFirestore()));
afterAll(() => close());

describe('loading the runtime configuration from Firestore', () => {
  it('validates every document, applies defaults and takes ids from document ids', async () => {
    await db.doc('providers/keepa').set({
      limits: [{ kind: 'tokenBucket', capacity: 300, refillPerSecond: 5 }],
    });
    await db.doc('categories/deals').set({ provider: 'keepa', sharePercent: 40 });
    const config = await loadRuntimeConfig(db);
    expect(config.providers).toEqual([
      expect.objectContaining({ id: 'keepa', cooldownSeconds: 1800 }),
    ]);
    expect(config.categories[0]).toMatchObject({ id: 'deals', priority: 0, paused: false });
    expect(config.flags.maxAwaitSeconds).toBe(60);
  });

  it('names the document and field of an invalid document', async () => {
    await db.doc('config/flags').set({ maxAwaitSeconds: 'soon' });
    const error = await loadRuntimeConfig(db).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(/config\/flags: maxAwaitSeconds: /);
    await db.doc('config/flags').set({ maxAwaitSeconds: 30 });
    expect((await loadRuntimeConfig(db)).flags.maxAwaitSeconds).toBe(30);
  });
});
