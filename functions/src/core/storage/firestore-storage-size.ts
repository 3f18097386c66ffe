// A document's storage size by Firestore's rules (firebase.google.com/docs/firestore/storage-size),
// its 1 MiB cap, and the shrinking of a cuttable list until a document fits it.
import { utf8Length } from './firestore-names';

export const MAX_DOCUMENT_BYTES = 1_048_576;

const stringSize = (s: string) => utf8Length(s) + 1;

/** The storage size of a document's name: each collection and document id as a string, + 16. */
export function documentNameSize(path: string): number {
  let size = 16;
  for (const segment of path.split('/')) size += stringSize(segment);
  return size;
}

export type Kind =
  | { kind: 'scalar'; size: number }
  | { kind: 'string'; value: string }
  | { kind: 'bytes'; length: number }
  | { kind: 'reference'; path: string }
  | { kind: 'array'; values: readonly unknown[] }
  | { kind: 'map'; fields: Record<string, unknown> }
  | { kind: 'omitted' };

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * What a value is stored as, by shape: Admin SDK values (Timestamp, GeoPoint, DocumentReference,
 * VectorValue, Buffer), the backup's value model, plain data. A write sentinel (serverTimestamp,
 * increment) counts as the 8 bytes it stores; `undefined` is left out, as the SDK's
 * `ignoreUndefinedProperties` would.
 */
export function classify(value: unknown): Kind {
  if (value === undefined) return { kind: 'omitted' };
  if (value === null || typeof value === 'boolean') return { kind: 'scalar', size: 1 };
  if (typeof value === 'number' || typeof value === 'bigint') return { kind: 'scalar', size: 8 };
  if (typeof value === 'string') return { kind: 'string', value };
  if (typeof value !== 'object') return { kind: 'scalar', size: 8 };
  if (value instanceof Uint8Array) return { kind: 'bytes', length: value.length };
  if (value instanceof Date) return { kind: 'scalar', size: 8 };
  if (Array.isArray(value)) return { kind: 'array', values: value };
  if (isPlainObject(value)) return { kind: 'map', fields: value };
  const v = value as Record<string, unknown>;
  if (typeof v.seconds === 'number' && typeof v.nanoseconds === 'number') {
    return { kind: 'scalar', size: 8 }; // Timestamp
  }
  if (typeof v.latitude === 'number' && typeof v.longitude === 'number') {
    return { kind: 'scalar', size: 16 }; // GeoPoint
  }
  if (typeof v.toArray === 'function') {
    return { kind: 'scalar', size: 8 * (v.toArray as () => unknown[])().length }; // VectorValue
  }
  if (Array.isArray(v.values)) return { kind: 'scalar', size: 8 * v.values.length }; // vector
  if (typeof v.path === 'string') return { kind: 'reference', path: v.path };
  return { kind: 'scalar', size: 8 };
}

/** The storage size of a value. */
export function valueSize(value: unknown): number {
  const k = classify(value);
  switch (k.kind) {
    case 'scalar':
      return k.size;
    case 'string':
      return stringSize(k.value);
    case 'bytes':
      return k.length;
    case 'reference':
      return documentNameSize(k.path);
    case 'array':
      return k.values.reduce<number>((n, v) => n + valueSize(v), 0);
    case 'map':
      return fieldsSize(k.fields);
    case 'omitted':
      return 0;
  }
}

/** Each field's name (bytes + 1) and value. */
export function fieldsSize(fields: Record<string, unknown>): number {
  let size = 0;
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined) size += stringSize(name) + valueSize(value);
  }
  return size;
}

/** A document's storage size: its name, its fields and 32 bytes. */
export function documentSize(path: string, data: Record<string, unknown>): number {
  return documentNameSize(path) + fieldsSize(data) + 32;
}

/**
 * The document `build(n)` for the largest `n` (halving from `max`) whose document fits 1 MiB:
 * for documents holding a list that may be cut (examples, samples), so they are written shorter
 * rather than refused. `n` is 0 when even that does not fit (the caller's check then refuses it).
 */
export function shrinkToFit<T extends Record<string, unknown>>(
  path: string,
  max: number,
  build: (n: number) => T,
): { data: T; n: number } {
  let n = max;
  let data = build(n);
  while (n > 0 && documentSize(path, data) > MAX_DOCUMENT_BYTES) {
    n = Math.floor(n / 2);
    data = build(n);
  }
  return { data, n };
}
