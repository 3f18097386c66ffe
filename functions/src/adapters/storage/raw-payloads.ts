import { createHash } from 'node:crypto';
import type { PayloadStore } from './payload-store';

/** What an upstream answered, by kind: the raw bytes a stored result was made from. */
export type RawPayloadKind = 'price-history-csv' | 'keepa-products' | 'spapi-report';

/**
 * Keeps the raw upstream payloads collected data is made from (a price-history CSV, a Keepa
 * product answer, an SP-API report document) in the payload store: inline or in Cloud Storage
 * by size, temporary, so the daily clean-up removes them by age (`payloads.temporaryMaxAgeMs`).
 * The id is a digest of the source and the bytes, so a redelivered task keeps nothing twice
 * (the store's first writer wins); what the payload produced references it by that id.
 */
export interface RawPayloads {
  keep(
    kind: RawPayloadKind,
    source: string,
    body: string | Uint8Array,
    contentType: string,
  ): Promise<string>;
}

export function rawPayloadId(kind: RawPayloadKind, source: string, body: string | Uint8Array) {
  const digest = createHash('sha256').update(source).update('\0').update(body).digest('hex');
  return `${kind}:${digest.slice(0, 40)}`;
}

export function rawPayloads(store: Pick<PayloadStore, 'put'>): RawPayloads {
  return {
    async keep(kind, source, body, contentType) {
      const id = rawPayloadId(kind, source, body);
      await store.put(id, body, { contentType, temporary: true });
      return id;
    },
  };
}
