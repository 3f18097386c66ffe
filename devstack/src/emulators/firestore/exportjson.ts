import {
  millisFromTimestamp,
  timestampFromIso,
  timestampFromMillis,
  timestampToIso,
} from './clock.ts';
import { parseDocumentName } from './paths.ts';
import type { DocState } from './store.ts';
import type { Fields, Value } from './values.ts';

/**
 * Export format: plain JSON, values typed like Firestore's REST API (integers as strings so
 * they stay integers, timestamps as RFC 3339 with nanoseconds, bytes as base64), documents
 * addressed relative to their database.
 */
export type JsonValue =
  | { nullValue: null }
  | { booleanValue: boolean }
  | { integerValue: string | number }
  | { doubleValue: number | 'NaN' | 'Infinity' | '-Infinity' }
  | { timestampValue: string }
  | { stringValue: string }
  | { bytesValue: string }
  | { referenceValue: string }
  | { geoPointValue: { latitude: number; longitude: number } }
  | { arrayValue: { values?: JsonValue[] } }
  | { mapValue: { fields?: Record<string, JsonValue> } };

export interface ExportedDocument {
  /** Relative to the database, e.g. "users/u1" or "users/u1/keys/k1". */
  path: string;
  /** RFC 3339; optional on import (defaults to the import time). */
  createTime?: string;
  updateTime?: string;
  fields: Record<string, JsonValue>;
}

export interface FirestoreExport {
  version: 1;
  databases: Array<{ project: string; database: string; documents: ExportedDocument[] }>;
}

export interface ImportedDocument {
  name: string;
  fields: Fields;
  createTime?: number;
  updateTime?: number;
}

function doubleToJson(n: number): number | 'NaN' | 'Infinity' | '-Infinity' {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  return n;
}

export function valueToJson(v: Value): JsonValue {
  if ('null_value' in v) return { nullValue: null };
  if ('boolean_value' in v) return { booleanValue: v.boolean_value };
  if ('integer_value' in v) return { integerValue: String(v.integer_value) };
  if ('double_value' in v) return { doubleValue: doubleToJson(v.double_value) };
  if ('timestamp_value' in v) return { timestampValue: timestampToIso(v.timestamp_value) };
  if ('string_value' in v) return { stringValue: v.string_value };
  if ('bytes_value' in v) return { bytesValue: Buffer.from(v.bytes_value).toString('base64') };
  if ('reference_value' in v) return { referenceValue: v.reference_value };
  if ('geo_point_value' in v) {
    const { latitude, longitude } = v.geo_point_value;
    return { geoPointValue: { latitude, longitude } };
  }
  if ('array_value' in v) return { arrayValue: { values: v.array_value.values.map(valueToJson) } };
  return { mapValue: { fields: fieldsToJson(v.map_value.fields) } };
}

export function fieldsToJson(fields: Fields): Record<string, JsonValue> {
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, valueToJson(v)]));
}

export function valueFromJson(j: JsonValue, where: string): Value {
  if ('nullValue' in j) return { null_value: 0 };
  if ('booleanValue' in j) return { boolean_value: Boolean(j.booleanValue) };
  if ('integerValue' in j) {
    const n = Number(j.integerValue);
    if (!Number.isInteger(n)) throw new Error(`${where}: integerValue must be an integer`);
    return { integer_value: n };
  }
  if ('doubleValue' in j) return { double_value: Number(j.doubleValue) };
  if ('timestampValue' in j) return { timestamp_value: timestampFromIso(j.timestampValue) };
  if ('stringValue' in j) return { string_value: String(j.stringValue) };
  if ('bytesValue' in j)
    return { bytes_value: Uint8Array.from(Buffer.from(j.bytesValue, 'base64')) };
  if ('referenceValue' in j) return { reference_value: String(j.referenceValue) };
  if ('geoPointValue' in j) {
    const { latitude, longitude } = j.geoPointValue;
    return { geo_point_value: { latitude: Number(latitude), longitude: Number(longitude) } };
  }
  if ('arrayValue' in j) {
    return {
      array_value: {
        values: (j.arrayValue.values ?? []).map((x, i) => valueFromJson(x, `${where}[${i}]`)),
      },
    };
  }
  if ('mapValue' in j)
    return { map_value: { fields: fieldsFromJson(j.mapValue.fields ?? {}, where) } };
  throw new Error(`${where}: unknown value ${JSON.stringify(j)}`);
}

function fieldsFromJson(fields: Record<string, JsonValue>, where: string): Fields {
  return Object.fromEntries(
    Object.entries(fields).map(([k, v]) => [k, valueFromJson(v, `${where}.${k}`)]),
  );
}

/** Groups documents (full resource names) by database, sorted by path. */
export function toExport(docs: DocState[]): FirestoreExport {
  const byRoot = new Map<
    string,
    { project: string; database: string; documents: ExportedDocument[] }
  >();
  for (const doc of [...docs].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (!doc.exists) continue;
    const { root, project, database, segments } = parseDocumentName(doc.name);
    let entry = byRoot.get(root);
    if (!entry) {
      entry = { project, database, documents: [] };
      byRoot.set(root, entry);
    }
    entry.documents.push({
      path: segments.join('/'),
      createTime: timestampToIso(timestampFromMillis(doc.createTime)),
      updateTime: timestampToIso(timestampFromMillis(doc.updateTime)),
      fields: fieldsToJson(doc.fields),
    });
  }
  return { version: 1, databases: [...byRoot.values()] };
}

/** Validates an export and turns it back into documents with full resource names. */
export function fromExport(data: FirestoreExport): ImportedDocument[] {
  if (data?.version !== 1 || !Array.isArray(data.databases)) {
    throw new Error('not a Tollgate Firestore export (expected { version: 1, databases: [...] })');
  }
  const out: ImportedDocument[] = [];
  for (const db of data.databases) {
    const root = `projects/${db.project}/databases/${db.database ?? '(default)'}/documents`;
    for (const doc of db.documents ?? []) {
      const name = `${root}/${doc.path}`;
      parseDocumentName(name);
      const millis = (t?: string) => (t ? millisFromTimestamp(timestampFromIso(t)) : undefined);
      out.push({
        name,
        fields: fieldsFromJson(doc.fields ?? {}, doc.path),
        createTime: millis(doc.createTime),
        updateTime: millis(doc.updateTime),
      });
    }
  }
  return out;
}
