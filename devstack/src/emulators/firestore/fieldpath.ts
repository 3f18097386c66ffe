import { invalid } from './grpc.ts';
import type { Fields, Value } from './values.ts';

/**
 * Dotted field paths ("stats.calls", "`a.b`.c") over nested maps. The npm package only
 * understands top-level names; these helpers make nested reads, masks and transforms work.
 * Updates copy along the path so stored field objects can be shared between snapshots.
 */
export type FieldPath = readonly string[];

const cache = new Map<string, FieldPath>();

export function parseFieldPath(path: string): FieldPath {
  const hit = cache.get(path);
  if (hit) return hit;
  if (path === '') throw invalid('empty field path');
  const segments: string[] = [];
  let i = 0;
  while (i <= path.length) {
    let segment = '';
    if (path[i] === '`') {
      i++;
      while (i < path.length && path[i] !== '`') {
        if (path[i] === '\\' && i + 1 < path.length) i++;
        segment += path[i];
        i++;
      }
      if (path[i] !== '`') throw invalid(`unterminated backtick in field path: ${path}`);
      i++;
    } else {
      while (i < path.length && path[i] !== '.') segment += path[i++];
    }
    if (segment === '') throw invalid(`empty segment in field path: ${path}`);
    segments.push(segment);
    if (i === path.length) break;
    if (path[i] !== '.') throw invalid(`invalid field path: ${path}`);
    i++;
  }
  if (cache.size > 10_000) cache.clear();
  cache.set(path, segments);
  return segments;
}

export function formatFieldPath(path: FieldPath): string {
  return path
    .map((s) => (/^[a-zA-Z_][a-zA-Z_0-9]*$/.test(s) ? s : `\`${s.replace(/[\\`]/g, '\\$&')}\``))
    .join('.');
}

export function getField(fields: Fields, path: FieldPath): Value | undefined {
  let current: Value | undefined = { map_value: { fields } };
  for (const segment of path) {
    if (!current || !('map_value' in current)) return undefined;
    current = current.map_value.fields[segment];
  }
  return current;
}

/** Returns a copy of `fields` with `value` at `path`, turning non-map intermediates into maps. */
export function setField(fields: Fields, path: FieldPath, value: Value): Fields {
  const [head, ...rest] = path;
  if (head === undefined) return fields;
  if (rest.length === 0) return { ...fields, [head]: value };
  const child = fields[head];
  const childFields = child && 'map_value' in child ? child.map_value.fields : {};
  return { ...fields, [head]: { map_value: { fields: setField(childFields, rest, value) } } };
}

/** Returns a copy of `fields` without `path` (unchanged when the path is absent). */
export function deleteField(fields: Fields, path: FieldPath): Fields {
  const [head, ...rest] = path;
  if (head === undefined || !(head in fields)) return fields;
  if (rest.length === 0) {
    const { [head]: _removed, ...others } = fields;
    return others;
  }
  const child = fields[head]!;
  if (!('map_value' in child)) return fields;
  return {
    ...fields,
    [head]: { map_value: { fields: deleteField(child.map_value.fields, rest) } },
  };
}

/** Keeps only the given paths (a read mask / query projection). */
export function projectFields(fields: Fields, paths: FieldPath[]): Fields {
  let out: Fields = {};
  for (const path of paths) {
    const value = getField(fields, path);
    if (value !== undefined) out = setField(out, path, value);
  }
  return out;
}
