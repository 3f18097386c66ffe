import type {
  Document as ProtoDocument,
  Value as ProtoValue,
} from '@firestore-emulator/proto/dist/google/firestore/v1/document.js';
import { invalid } from './grpc.ts';

/**
 * Firestore values in the object shape the generated protobuf classes accept in `fromObject`,
 * so stored values go back on the wire without another conversion. Treated as immutable.
 */
export type Timestamp = { seconds: number; nanos: number };
export type Value =
  | { null_value: 0 }
  | { boolean_value: boolean }
  | { integer_value: number }
  | { double_value: number }
  | { timestamp_value: Timestamp }
  | { string_value: string }
  | { bytes_value: Uint8Array }
  | { reference_value: string }
  | { geo_point_value: { latitude: number; longitude: number } }
  | { array_value: { values: Value[] } }
  | { map_value: { fields: Fields } };
export type Fields = Record<string, Value>;

export const NULL: Value = { null_value: 0 };

// Note: the generated `Value.toObject()` emits every oneof member (getters return defaults),
// so conversion goes through `value_type` instead.
export function fromProto(v: ProtoValue): Value {
  switch (v.value_type) {
    case 'null_value':
      return NULL;
    case 'boolean_value':
      return { boolean_value: v.boolean_value };
    case 'integer_value':
      return { integer_value: Number(v.integer_value) };
    case 'double_value':
      return { double_value: v.double_value };
    case 'timestamp_value':
      return {
        timestamp_value: {
          seconds: Number(v.timestamp_value.seconds),
          nanos: v.timestamp_value.nanos,
        },
      };
    case 'string_value':
      return { string_value: v.string_value };
    case 'bytes_value':
      return { bytes_value: Uint8Array.from(v.bytes_value) };
    case 'reference_value':
      return { reference_value: v.reference_value };
    case 'geo_point_value':
      return {
        geo_point_value: {
          latitude: v.geo_point_value.latitude,
          longitude: v.geo_point_value.longitude,
        },
      };
    case 'array_value':
      return { array_value: { values: v.array_value.values.map(fromProto) } };
    case 'map_value':
      return { map_value: { fields: fromProtoFields(v.map_value.fields) } };
    default:
      throw invalid(`unsupported value type: ${String(v.value_type)}`);
  }
}

export function fromProtoFields(fields: Map<string, ProtoValue> | undefined): Fields {
  const out: Fields = {};
  for (const [key, value] of fields ?? []) out[key] = fromProto(value);
  return out;
}

export function fieldsOfDocument(doc: ProtoDocument): Fields {
  return fromProtoFields(doc.fields);
}

/** Firestore's cross-type ordering: null < bool < number < timestamp < string < bytes < ref < geo < array < map. */
function typeRank(v: Value): number {
  if ('null_value' in v) return 0;
  if ('boolean_value' in v) return 1;
  if ('integer_value' in v || 'double_value' in v) return 2;
  if ('timestamp_value' in v) return 3;
  if ('string_value' in v) return 4;
  if ('bytes_value' in v) return 5;
  if ('reference_value' in v) return 6;
  if ('geo_point_value' in v) return 7;
  if ('array_value' in v) return 8;
  return 9;
}

export function sameTypeOrder(a: Value, b: Value): boolean {
  return typeRank(a) === typeRank(b);
}

export type NumberValue = { integer_value: number } | { double_value: number };

export function isNumber(v: Value | undefined): v is NumberValue {
  return v !== undefined && ('integer_value' in v || 'double_value' in v);
}

export function numberOf(v: NumberValue): number {
  return 'integer_value' in v ? v.integer_value : v.double_value;
}

export function isNaNValue(v: Value | undefined): boolean {
  return v !== undefined && 'double_value' in v && Number.isNaN(v.double_value);
}

const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0);

function compareNumbers(a: number, b: number): number {
  // NaN sorts before every other number and equals itself, as in Firestore.
  if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : -1;
  if (Number.isNaN(b)) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Strings order by UTF-8 bytes, which is code point order (not UTF-16 unit order). */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.codePointAt(i)!;
    const cb = b.codePointAt(i)!;
    if (ca !== cb) return ca < cb ? -1 : 1;
    if (ca > 0xffff) i++;
  }
  return sign(a.length - b.length);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return sign(Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** References order segment by segment (so "a/b" < "a/b/c" < "a/c"). */
export function compareReferences(a: string, b: string): number {
  const as = a.split('/');
  const bs = b.split('/');
  const n = Math.min(as.length, bs.length);
  for (let i = 0; i < n; i++) {
    const c = compareStrings(as[i]!, bs[i]!);
    if (c !== 0) return c;
  }
  return sign(as.length - bs.length);
}

export function compareValues(a: Value, b: Value): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  if ('boolean_value' in a && 'boolean_value' in b) {
    return a.boolean_value === b.boolean_value ? 0 : a.boolean_value ? 1 : -1;
  }
  if (isNumber(a) && isNumber(b)) return compareNumbers(numberOf(a), numberOf(b));
  if ('timestamp_value' in a && 'timestamp_value' in b) {
    return (
      sign(a.timestamp_value.seconds - b.timestamp_value.seconds) ||
      sign(a.timestamp_value.nanos - b.timestamp_value.nanos)
    );
  }
  if ('string_value' in a && 'string_value' in b) {
    return compareStrings(a.string_value, b.string_value);
  }
  if ('bytes_value' in a && 'bytes_value' in b) return compareBytes(a.bytes_value, b.bytes_value);
  if ('reference_value' in a && 'reference_value' in b) {
    return compareReferences(a.reference_value, b.reference_value);
  }
  if ('geo_point_value' in a && 'geo_point_value' in b) {
    return (
      compareNumbers(a.geo_point_value.latitude, b.geo_point_value.latitude) ||
      compareNumbers(a.geo_point_value.longitude, b.geo_point_value.longitude)
    );
  }
  if ('array_value' in a && 'array_value' in b) {
    const av = a.array_value.values;
    const bv = b.array_value.values;
    for (let i = 0; i < Math.min(av.length, bv.length); i++) {
      const c = compareValues(av[i]!, bv[i]!);
      if (c !== 0) return c;
    }
    return sign(av.length - bv.length);
  }
  if ('map_value' in a && 'map_value' in b) {
    const ak = Object.keys(a.map_value.fields).sort(compareStrings);
    const bk = Object.keys(b.map_value.fields).sort(compareStrings);
    for (let i = 0; i < Math.min(ak.length, bk.length); i++) {
      const c =
        compareStrings(ak[i]!, bk[i]!) ||
        compareValues(a.map_value.fields[ak[i]!]!, b.map_value.fields[bk[i]!]!);
      if (c !== 0) return c;
    }
    return sign(ak.length - bk.length);
  }
  return 0; // both null
}

/** Equality as queries see it: 1 == 1.0, but NaN never equals anything. */
export function valuesEqual(a: Value, b: Value): boolean {
  if (isNaNValue(a) || isNaNValue(b)) return false;
  return compareValues(a, b) === 0;
}

export function arrayContains(values: Value[], v: Value): boolean {
  return values.some((x) => valuesEqual(x, v));
}

/** Identity for array transforms (arrayUnion/arrayRemove), where NaN matches NaN. */
export function sameValue(a: Value, b: Value): boolean {
  return compareValues(a, b) === 0;
}
