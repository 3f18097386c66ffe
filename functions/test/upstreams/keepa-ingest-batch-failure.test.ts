// Hostile review: Keepa's store() now writes a whole batch in one transaction (upsertMany).
import type { Firestore } from 'firebase-admin/firestore';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startKeepaSandbox } from '../../../devstack/src/sandbox/keepa.ts';
import { sandboxDealAsin } from '../../../devstack/src/sandbox/keepa-deals.ts';
import { KEEPA_SANDBOX_KEY } from '../../../devstack/src/sandbox/keepa-rules.ts';
import type { KeepaSandbox } from '../../../devstack/src/sandbox/keepa-types.ts';
import { ProductsRepository } from '../../src/adapters/pipeline/products-repository';
import { KeepaClient } from '../../src/adapters/upstreams/keepa';
import { createKeepaIngestFetchers } from '../../src/adapters/upstreams/keepa-ingest';
import { documentSize, MAX_DOCUMENT_BYTES } from '../../src/core/storage/firestore-storage-size';
import { testFirestore } from '../support/firestore';
import { quietLogger } from '../support/quiet-logger';

quietLogger();

const T0 = Date.UTC(2026, 0, 10, 12, 0, 0);
const DOMAIN = 3;
const COLLECTION = 'keepa-deals-de';

let db: Firestore;
let close: () => Promise<void>;
let sandbox: KeepaSandbox;
const now = () => T0;

beforeEach(async () => {
  ({ db, close } = testFirestore());
  sandbox = await startKeepaSandbox({ now, capacity: 3_000, refillPerMinute: 20, deals: 20 });
});
afterEach(async () => {
  await sandbox.stop();
  await close();
});

describe('keepa ingest store()', () => {
  it('a product that cannot be stored fails alone, not every product of its batch', async () => {
    const client = new KeepaClient({
      baseUrl: sandbox.url,
      apiKey: KEEPA_SANDBOX_KEY,
      domainId: DOMAIN,
      capacity: 3_000,
      now,
      sleep: async () => {},
    });
    const products = new ProductsRepository(db, { now });
    const fetchers = createKeepaIngestFetchers({ client, products, collection: COLLECTION, now });
    const asins = Array.from({ length: 5 }, (_, i) => sandboxDealAsin(i, DOMAIN));
    // One product whose stored history has grown to just under Firestore's 1 MiB (a product
    // document of its own, as stored before pages): one more point is more than a document holds.
    const poison = asins[0]!;
    const path = `products/amazon-de~${poison}`;
    const doc = (n: number) => ({
      marketplace: 'amazon-de',
      key: poison,
      collection: COLLECTION,
      identifiers: { asin: poison, note: 'x'.repeat(n) },
      prices: [],
      updatedAt: 1,
    });
    let n = MAX_DOCUMENT_BYTES;
    while (documentSize(path, doc(n)) > MAX_DOCUMENT_BYTES - 8) n--;
    await db.doc(path).set(doc(n));

    const { results } = await fetchers.light(asins.map((key) => ({ key, attempts: 0 })));
    const outcome = Object.fromEntries(results.map((r) => [r.key, r.outcome]));
    expect(outcome[poison]).toBe('failed');
    // Keepa was paid for all five; the four others were fine and must be stored.
    expect(asins.slice(1).map((a) => outcome[a])).toEqual(['stored', 'stored', 'stored', 'stored']);
  });
});
