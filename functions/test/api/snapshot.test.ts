import { afterAll, beforeAll, expect, it } from 'vitest';
import { logger } from '../../src/log';
import { type ApiFixture, apiFixture, as, fullSnapshot, quickSnapshot } from './support';

let f: ApiFixture;
let level: string;
beforeAll(async () => {
  level = logger.level;
  logger.level = 'silent';
  f = await apiFixture();
});
afterAll(async () => {
  logger.level = level;
  await f.close();
});

it('the quick snapshot sees every document the recursive one sees', async () => {
  // Every kind of document the operations write, subcollections included.
  await f.callables.validateData.run(as('operator', {}));
  await f.callables.forceFlush.run(as('operator', {}));
  await f.callables.startCollection.run(
    as('operator', {
      id: 'x-1',
      provider: 'keepa',
      category: 'historical',
      targets: { a: 1 },
      // The default phases (15% down to 4.2%) cannot carry Keepa's 60-token commit batches.
      phases: [{ fromPercent: 0, sharePercent: 25 }],
    }),
  );
  const full = await fullSnapshot(f.db);
  expect([...full.keys()].some((p) => p.includes('/findings/'))).toBe(true);
  expect([...full.keys()].some((p) => p.includes('/responses/'))).toBe(true);
  expect(await quickSnapshot(f.db)).toEqual(full);
});
