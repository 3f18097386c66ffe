import type { DocumentTransformFieldTransform } from '@firestore-emulator/proto/dist/google/firestore/v1/write.js';
import { type FieldPath, parseFieldPath } from './fieldpath.ts';
import { invalid } from './grpc.ts';
import { type Fields, fromProto, type Value } from './values.ts';

/**
 * Production Firestore's limits on names, field paths and document sizes
 * (https://firebase.google.com/docs/firestore/quotas), refused with INVALID_ARGUMENT and the
 * messages production answers with, so a write production would refuse fails locally too. The
 * npm package accepts all of it.
 *
 * - ids (collection and document): at most 1,500 bytes of UTF-8, not `.` or `..`, not `__.*__`;
 * - field names: at most 1,500 bytes, not empty, not `__.*__` (except a vector's `__type__`);
 * - field paths (masks, transforms, nested fields): under 1,500 bytes (production refuses a path
 *   of exactly 1,500: it counts a path as a string, bytes + 1);
 * - string and bytes values: at most 1,048,487 bytes;
 * - a document: at most 1,048,576 bytes, counted by the storage-size rules
 *   (https://firebase.google.com/docs/firestore/storage-size).
 *
 * Reserved is the documented `__.*__`, which also covers `____`.
 */

export const MAX_ID_BYTES = 1500;
export const MAX_FIELD_NAME_BYTES = 1500;
/** A field path of this many bytes or more is refused. */
export const FIELD_PATH_REFUSED_BYTES = 1500;
export const MAX_VALUE_BYTES = 1_048_487;
export const MAX_DOCUMENT_BYTES = 1_048_576;

const RESERVED = /^__.*__$/s;
const NAME_FIELD = '__name__';
/** A vector value is a map `{__type__: '__vector__', value: [doubles]}`. */
const VECTOR_TYPE_FIELD = '__type__';
const VECTOR_TYPE = '__vector__';

export const isReserved = (name: string) => RESERVED.test(name);

/** Over 1,500 bytes of UTF-8 (a UTF-16 code unit is at most 3 bytes, so short ids skip the count). */
const idTooLong = (id: string) =>
  id.length > MAX_ID_BYTES / 3 && Buffer.byteLength(id, 'utf8') > MAX_ID_BYTES;

/** Storage size of a string: UTF-8 bytes + 1. */
const stringSize = (s: string) => Buffer.byteLength(s, 'utf8') + 1;

/**
 * Refuses an id of a resource name as production does. `segments` are the path below
 * `.../documents`; even positions are collection ids, odd ones document ids; `offset` is where
 * the first segment starts in `name` (for the index production quotes).
 */
export function checkSegments(name: string, segments: readonly string[], offset: number): void {
  let at = offset;
  segments.forEach((segment, i) => {
    if (segment === '.' || segment === '..') {
      throw invalid(`Document name "${name}" contains a resource id "${segment}" at index ${at}.`);
    }
    if (isReserved(segment)) {
      const kind = i % 2 === 0 ? 'Collection id' : 'Resource id';
      throw invalid(`${kind} "${segment}" is invalid because it is reserved.`);
    }
    if (idTooLong(segment)) {
      throw invalid(`The key path element name is longer than ${MAX_ID_BYTES} bytes.`);
    }
    at += segment.length + 1;
  });
}

/** A collection id given on its own (a query's `from`, ListDocuments); names are parsed. */
export function checkCollectionId(id: string): void {
  if (isReserved(id)) throw invalid(`Collection id "${id}" is invalid because it is reserved.`);
  if (idTooLong(id)) {
    throw invalid(`The key path element name is longer than ${MAX_ID_BYTES} bytes.`);
  }
}

/** Bytes of a parsed path as production measures it: the names joined by dots. */
function pathBytes(path: FieldPath): number {
  let n = path.length - 1;
  for (const segment of path) n += Buffer.byteLength(segment, 'utf8');
  return n;
}

/**
 * A field path of a write (update mask, field transform) or a read mask: parsed, under 1,500
 * bytes, no reserved name. `__name__` alone is allowed where it names the document (masks).
 */
export function checkFieldPath(text: string, { allowName = false } = {}): FieldPath {
  const path = parseFieldPath(text);
  if (pathBytes(path) >= FIELD_PATH_REFUSED_BYTES) {
    throw invalid(`property path is longer than ${FIELD_PATH_REFUSED_BYTES} bytes.`);
  }
  if (allowName && path.length === 1 && path[0] === NAME_FIELD) return path;
  if (path.some(isReserved)) throw invalid(`Invalid reserved name in field path ${text}`);
  return path;
}

function isVector(fields: Fields): boolean {
  const type = fields[VECTOR_TYPE_FIELD];
  return (
    type !== undefined &&
    'string_value' in type &&
    type.string_value === VECTOR_TYPE &&
    Object.keys(fields).every((k) => k === VECTOR_TYPE_FIELD || k === 'value')
  );
}

/** Field names, nested paths and value lengths of a write's data (or a transform's operands). */
export function checkFields(fields: Fields, parent: readonly string[] = []): void {
  const vector = isVector(fields);
  for (const [name, value] of Object.entries(fields)) {
    if (name === '') throw invalid('The property.name is the empty string.');
    const bytes = Buffer.byteLength(name, 'utf8');
    if (bytes > MAX_FIELD_NAME_BYTES) {
      throw invalid(`The property.name is longer than ${MAX_FIELD_NAME_BYTES} bytes.`);
    }
    if (isReserved(name) && !(vector && name === VECTOR_TYPE_FIELD)) {
      throw invalid(`field name '${name}' is reserved.`);
    }
    const path = [...parent, name];
    if (parent.length > 0 && pathBytes(path) >= FIELD_PATH_REFUSED_BYTES) {
      throw invalid(`property path is longer than ${FIELD_PATH_REFUSED_BYTES} bytes.`);
    }
    checkValue(value, path);
  }
}

function checkValue(value: Value, path: readonly string[]): void {
  if ('string_value' in value || 'bytes_value' in value) {
    const bytes =
      'string_value' in value
        ? Buffer.byteLength(value.string_value, 'utf8')
        : value.bytes_value.length;
    if (bytes > MAX_VALUE_BYTES) {
      throw invalid(
        `The value of property "${path.join('.')}" is longer than ${MAX_VALUE_BYTES} bytes.`,
      );
    }
  } else if ('array_value' in value) {
    for (const element of value.array_value.values) checkValue(element, path);
  } else if ('map_value' in value) {
    checkFields(value.map_value.fields, path);
  }
}

/** The values a field transform adds (array union/remove, increment operands). */
export function checkTransform(transform: DocumentTransformFieldTransform): void {
  checkFieldPath(transform.field_path);
  const path = [transform.field_path];
  if (transform.transform_type === 'append_missing_elements') {
    for (const v of transform.append_missing_elements.values) checkValue(fromProto(v), path);
  } else if (transform.transform_type === 'remove_all_from_array') {
    for (const v of transform.remove_all_from_array.values) checkValue(fromProto(v), path);
  }
}

// ---- Storage size ----------------------------------------------------------------------------

/** Document name size: every collection and document id (string size) + 16. */
export function documentNameSize(name: string): number {
  const at = name.indexOf('/documents/');
  const path = at < 0 ? '' : name.slice(at + '/documents/'.length);
  let size = 16;
  if (path) for (const segment of path.split('/')) size += stringSize(segment);
  return size;
}

export function valueSize(value: Value): number {
  if ('null_value' in value || 'boolean_value' in value) return 1;
  if ('integer_value' in value || 'double_value' in value || 'timestamp_value' in value) return 8;
  if ('string_value' in value) return stringSize(value.string_value);
  if ('bytes_value' in value) return value.bytes_value.length;
  if ('reference_value' in value) return documentNameSize(value.reference_value);
  if ('geo_point_value' in value) return 16;
  if ('array_value' in value) {
    let size = 0;
    for (const element of value.array_value.values) size += valueSize(element);
    return size;
  }
  const fields = value.map_value.fields;
  if (isVector(fields)) {
    const dims =
      fields.value && 'array_value' in fields.value ? fields.value.array_value : undefined;
    return 8 * (dims?.values.length ?? 0);
  }
  return fieldsSize(fields);
}

/** Sum over fields of the name's string size and the value's size. */
export function fieldsSize(fields: Fields): number {
  let size = 0;
  for (const [name, value] of Object.entries(fields)) size += stringSize(name) + valueSize(value);
  return size;
}

/** A document's storage size: name + fields + 32. */
export function documentSize(name: string, fields: Fields): number {
  return documentNameSize(name) + fieldsSize(fields) + 32;
}

export function checkDocumentSize(name: string, fields: Fields): void {
  const size = documentSize(name, fields);
  if (size > MAX_DOCUMENT_BYTES) {
    throw invalid(
      `Document '${name}' cannot be written because its size (${size.toLocaleString('en-US')} bytes) exceeds the maximum allowed size of ${MAX_DOCUMENT_BYTES.toLocaleString('en-US')} bytes.`,
    );
  }
}
