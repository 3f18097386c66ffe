import { createHash } from 'node:crypto';
import type { StoredBucket, StoredObject } from './store.ts';

// JSON representations as the real API returns them: numbers that may exceed 2^53
// (size, generation, metageneration) are strings, times are RFC 3339 strings, links point
// back at this server so that clients following them stay local.

const enc = encodeURIComponent;

function etag(...parts: Array<string | number>): string {
  return createHash('md5').update(parts.join('/')).digest('base64').slice(0, 12);
}

export function objectResource(o: StoredObject, origin: string) {
  const path = `b/${enc(o.bucket)}/o/${enc(o.name)}`;
  return {
    kind: 'storage#object',
    id: `${o.bucket}/${o.name}/${o.generation}`,
    selfLink: `${origin}/storage/v1/${path}`,
    mediaLink: `${origin}/download/storage/v1/${path}?generation=${o.generation}&alt=media`,
    name: o.name,
    bucket: o.bucket,
    generation: String(o.generation),
    metageneration: String(o.metageneration),
    contentType: o.contentType,
    storageClass: 'STANDARD',
    size: String(o.data.length),
    md5Hash: o.md5Hash,
    crc32c: o.crc32c,
    etag: etag(o.generation, o.metageneration),
    timeCreated: o.timeCreated.toISOString(),
    updated: o.updated.toISOString(),
    timeStorageClassUpdated: o.timeCreated.toISOString(),
    timeFinalized: o.timeCreated.toISOString(),
    ...optional(o, [
      'contentEncoding',
      'contentDisposition',
      'contentLanguage',
      'cacheControl',
      'customTime',
      'metadata',
    ]),
  };
}

export type ObjectResource = ReturnType<typeof objectResource>;

export function bucketResource(b: StoredBucket, origin: string) {
  return {
    kind: 'storage#bucket',
    location: 'US',
    locationType: 'multi-region',
    storageClass: 'STANDARD',
    ...b.fields,
    id: b.name,
    name: b.name,
    selfLink: `${origin}/storage/v1/b/${enc(b.name)}`,
    projectNumber: '0',
    metageneration: String(b.metageneration),
    timeCreated: b.timeCreated.toISOString(),
    updated: b.updated.toISOString(),
    etag: etag(b.name, b.metageneration),
  };
}

function optional<T extends object, K extends keyof T>(o: T, keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
