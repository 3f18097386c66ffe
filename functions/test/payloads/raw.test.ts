import { randomUUID } from 'node:crypto';
import { getApps } from 'firebase-admin/app';
import { type Firestore, getFirestore } from 'firebase-admin/firestore';
import { getStorage } from 'firebase-admin/storage';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PayloadStore } from '../../src/adapters/storage/payload-store';
import { rawPayloadId, rawPayloads } from '../../src/adapters/storage/raw-payloads';
import { DEFAULT_PAYLOAD_CONFIG, PAYLOADS_COLLECTION } from '../../src/core/storage/payloads';
import { testFirestore } from '../support/firestore';

/**
 * Raw upstream payloads on the real payload store: small ones inline, large ones in Cloud
 * Storage, all temporary (the daily clean-up removes them by age), each kept once however
 * often a redelivered task keeps it again.
 */

let db: Firestore;
let close: () => Promise<void>;
let store: PayloadStore;
const T0 = Date.UTC(2026, 11, 6, 12);

beforeEach(() => {
  ({ db, close } = testFirestore());
  const app = getApps().find((a) => getFirestore(a) === db)!;
  const bucket = getStorage(app).bucket(`raw-${randomUUID().slice(0, 8)}`);
  store = new PayloadStore(db, bucket, { now: () => T0 });
});
afterEach(() => close());

describe('raw payloads', () => {
  it('keeps each payload once, inline or in Cloud Storage by size, and the clean-up ages them out', async () => {
    const raw = rawPayloads(store);
    const csv = 'date,price\n2026-11-01,10.00\n';
    const big = JSON.stringify({ products: 'x'.repeat(DEFAULT_PAYLOAD_CONFIG.inlineMaxBytes + 1) });
    const small = await raw.keep('price-history-csv', 'takealot~p1', csv, 'text/csv');
    const again = await raw.keep('price-history-csv', 'takealot~p1', csv, 'text/csv');
    const large = await raw.keep('keepa-products', 'deals~amazon-de', big, 'application/json');
    expect(again).toBe(small);
    expect(small).toBe(rawPayloadId('price-history-csv', 'takealot~p1', csv));
    // Another product's identical CSV is its own payload.
    expect(await raw.keep('price-history-csv', 'takealot~p2', csv, 'text/csv')).not.toBe(small);
    expect(await store.metadata(small)).toMatchObject({ location: 'inline', temporary: true });
    expect(await store.metadata(large)).toMatchObject({ location: 'storage', temporary: true });
    expect((await store.get(large))?.data.toString()).toBe(big);
    expect((await db.collection(PAYLOADS_COLLECTION).count().get()).data().count).toBe(3);

    const cleaned = await store.cleanupTemporary(T0 + DEFAULT_PAYLOAD_CONFIG.temporaryMaxAgeMs + 1);
    expect(cleaned.documents).toBe(3);
    expect(await store.metadata(small)).toBeUndefined();
  });
});
