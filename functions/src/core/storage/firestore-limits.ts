import type { z } from 'zod';

/**
 * Production Firestore's limits on what a write may hold
 * (https://firebase.google.com/docs/firestore/quotas), checked before writing so that data from
 * users or upstreams is refused with a message naming the document and the field, instead of a
 * bare INVALID_ARGUMENT from the commit (part way through a restore, or only in production: the
 * raw emulator package accepts all of it). Pure: no Firebase; values are recognised by shape
 * (Admin SDK classes, the backup's value model, plain data).
 *
 * - collection and document ids: 1 to 1,500 bytes of UTF-8, no `/`, not `.` or `..`, not `__.*__`;
 * - field names: 1 to 1,500 bytes, not `__.*__`; a nested field's path (names joined by dots)
 *   under 1,500 bytes (production counts a path as a string: bytes + 1);
 * - string and bytes values: at most 1,048,487 bytes;
 * - maps and arrays: nested at most 20 levels below a top-level field (the Admin SDK refuses a
 *   deeper value before sending, with a plain Error and nothing of where);
 * - a document: at most 1 MiB (1,048,576 bytes) by the storage-size rules
 *   (https://firebase.google.com/docs/firestore/storage-size): name size (each id's bytes + 1,
 *   plus 16) + each field's name (bytes + 1) and value + 32.
 */

export const MAX_DOCUMENT_BYTES = 1_048_576;
export const MAX_ID_BYTES = 1500;
export const MAX_FIELD_NAME_BYTES = 1500;
/** A field path of this many bytes or more is refused. */
export const FIELD_PATH_REFUSED_BYTES = 1500;
export const MAX_VALUE_BYTES = 1_048_487;
/**
 * Levels a value may lie below its top-level field, counting map keys and array positions (the
 * Admin SDK's `path.size - 1 > 20` check; production's "maximum depth of fields in a map or
 * array: 20").
 */
export const MAX_NESTING_DEPTH = 20;

const RESERVED = /^__.*__$/s;

/** `__.*__`: Firestore's own names, refused as ids and field names. */
export function isReservedName(name: string): boolean {
  return RESERVED.test(name);
}

/** UTF-8 bytes of a string (a lone surrogate counts as the 3 bytes of its replacement). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** Why `id` is not usable as a collection or document id, or undefined when it is. */
export function documentIdProblem(id: string): string | undefined {
  if (id === '') return 'an id cannot be empty';
  if (id.includes('/')) return `id "${short(id)}" contains "/"`;
  if (id === '.' || id === '..') return `id "${id}" is not allowed`;
  if (isReservedName(id)) return `id "${id}" is reserved (Firestore keeps __...__ names)`;
  const bytes = utf8Length(id);
  if (bytes > MAX_ID_BYTES) return `id "${short(id)}" is ${bytes} bytes (at most ${MAX_ID_BYTES})`;
  return undefined;
}

/** Why `path` (collection/doc[/collection/doc...]) is not a document path, if it is not. */
export function documentPathProblem(path: string): string | undefined {
  const segments = path.split('/');
  if (segments.length < 2 || segments.length % 2 !== 0) {
    return 'a document path has an even number of segments';
  }
  for (const segment of segments) {
    const problem = documentIdProblem(segment);
    if (problem) return problem;
  }
  return undefined;
}

/** Why `name` is not usable as a field name (at any depth), if it is not. */
export function fieldNameProblem(name: string): string | undefined {
  if (name === '') return 'a field name cannot be empty';
  if (isReservedName(name)) return `field name "${name}" is reserved (__...__)`;
  const bytes = utf8Length(name);
  if (bytes > MAX_FIELD_NAME_BYTES) {
    return `field name "${short(name)}" is ${bytes} bytes (at most ${MAX_FIELD_NAME_BYTES})`;
  }
  return undefined;
}

function short(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}...` : s;
}

/** A field path as Firestore writes it: simple names bare, others in backticks. */
export function formatFieldPath(path: readonly string[]): string {
  return path
    .map((s) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(s) ? s : `\`${s.replace(/[\\`]/g, '\\$&')}\``))
    .join('.');
}

// ---- Storage size --------------------------------------------------------------------------

const stringSize = (s: string) => utf8Length(s) + 1;

/** The storage size of a document's name: each collection and document id as a string, + 16. */
export function documentNameSize(path: string): number {
  let size = 16;
  for (const segment of path.split('/')) size += stringSize(segment);
  return size;
}

type Kind =
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
function classify(value: unknown): Kind {
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

// ---- Checks --------------------------------------------------------------------------------

/** One reason a document would be refused; `field` is empty for the document itself. */
export interface LimitIssue {
  kind: 'id' | 'name' | 'path' | 'value' | 'size' | 'depth';
  field: string[];
  message: string;
}

function pathBytes(path: readonly string[]): number {
  return path.reduce((n, s) => n + utf8Length(s), path.length - 1);
}

/** `depth`: map keys and array positions between the document and these fields. */
function fieldIssues(
  fields: Record<string, unknown>,
  parent: string[],
  out: LimitIssue[],
  depth = 0,
) {
  for (const [name, value] of Object.entries(fields)) {
    const field = [...parent, name];
    const problem = fieldNameProblem(name);
    if (problem) out.push({ kind: 'name', field, message: problem });
    else if (parent.length > 0 && pathBytes(field) >= FIELD_PATH_REFUSED_BYTES) {
      out.push({
        kind: 'path',
        field,
        message: `field path is ${pathBytes(field)} bytes (Firestore takes under ${FIELD_PATH_REFUSED_BYTES})`,
      });
    }
    valueIssues(value, field, out, depth);
  }
}

function valueIssues(value: unknown, field: string[], out: LimitIssue[], depth: number) {
  if (depth > MAX_NESTING_DEPTH) {
    // Once: everything below is deeper still.
    out.push({
      kind: 'depth',
      field,
      message: `nested more than ${MAX_NESTING_DEPTH} levels deep (Firestore takes at most ${MAX_NESTING_DEPTH})`,
    });
    return;
  }
  const k = classify(value);
  if (k.kind === 'string' || k.kind === 'bytes') {
    const bytes = k.kind === 'string' ? utf8Length(k.value) : k.length;
    if (bytes > MAX_VALUE_BYTES) {
      out.push({
        kind: 'value',
        field,
        message: `value is ${bytes.toLocaleString('en-US')} bytes (at most ${MAX_VALUE_BYTES.toLocaleString('en-US')})`,
      });
    }
  } else if (k.kind === 'array') {
    for (const v of k.values) valueIssues(v, field, out, depth + 1);
  } else if (k.kind === 'map') {
    fieldIssues(k.fields, field, out, depth + 1);
  } else if (k.kind === 'reference') {
    const problem = documentPathProblem(k.path);
    if (problem)
      out.push({ kind: 'value', field, message: `reference "${short(k.path)}": ${problem}` });
  }
}

/**
 * Everything production would refuse in writing `data` at `path`: the path's ids, field names,
 * nested paths, long values and the document's size. Empty when it can be written.
 */
export function documentLimitIssues(path: string, data: Record<string, unknown>): LimitIssue[] {
  const issues: LimitIssue[] = [];
  const pathProblem = documentPathProblem(path);
  if (pathProblem) issues.push({ kind: 'id', field: [], message: pathProblem });
  fieldIssues(data, [], issues);
  const size = documentSize(path, data);
  if (size > MAX_DOCUMENT_BYTES) {
    issues.push({
      kind: 'size',
      field: [],
      message: `document is ${size.toLocaleString('en-US')} bytes (Firestore takes at most ${MAX_DOCUMENT_BYTES.toLocaleString('en-US')})`,
    });
  }
  return issues;
}

/** A write refused before it was sent: what production would refuse, with where. */
export class FirestoreLimitError extends Error {
  constructor(
    readonly document: string,
    readonly issues: LimitIssue[],
  ) {
    super(
      `document "${short(document)}" cannot be written: ${issues
        .slice(0, 5)
        .map((i) => (i.field.length ? `${formatFieldPath(i.field)}: ${i.message}` : i.message))
        .join('; ')}`,
    );
    this.name = 'FirestoreLimitError';
  }
}

/** Throws FirestoreLimitError when production would refuse writing `data` at `path`. */
export function assertWithinLimits(path: string, data: Record<string, unknown>): void {
  const issues = documentLimitIssues(path, data);
  if (issues.length > 0) throw new FirestoreLimitError(path, issues);
}

/** A zod refinement: every key of a record is usable as a field name. */
export function refineFieldNames(record: Record<string, unknown>, ctx: z.RefinementCtx): void {
  for (const key of Object.keys(record)) {
    const problem = fieldNameProblem(key);
    if (problem) ctx.addIssue({ code: 'custom', path: [key], message: problem });
  }
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

/**
 * Splits `items` into consecutive batches of at most `maxCount` items whose weights add up to
 * at most `maxWeight` (an item heavier than that alone gets a batch of its own).
 */
export function planBatches<T>(
  items: readonly T[],
  maxCount: number,
  maxWeight: number,
  weight: (item: T) => number,
): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let total = 0;
  for (const item of items) {
    const w = weight(item);
    if (current.length > 0 && (current.length >= maxCount || total + w > maxWeight)) {
      batches.push(current);
      current = [];
      total = 0;
    }
    current.push(item);
    total += w;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
