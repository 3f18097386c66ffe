import { applyOp, composeOps, type FieldOp, isFieldOp, isPlainObject, setTo } from './field-ops';

/**
 * The coalesced update of one document: field path (dotted, "stats.calls") -> op. Invariant:
 * no path is a prefix of another, so the update maps onto one Firestore write (a field mask
 * plus transforms) without two entries touching the same value.
 */
export type FieldUpdates = Map<string, FieldOp>;

/** Splits and checks a dotted field path. Segments are plain names (no dots or backticks). */
export function fieldSegments(path: string): string[] {
  const segments = path.split('.');
  for (const segment of segments) {
    if (segment === '' || segment.includes('`')) {
      throw new TypeError(`invalid field path: "${path}"`);
    }
  }
  return segments;
}

function isPrefix(prefix: string, path: string): boolean {
  return path.startsWith(`${prefix}.`);
}

/** The value `inside` with `op` applied at the relative segments (maps created on the way). */
function applyAt(inside: unknown, segments: readonly string[], op: FieldOp): unknown {
  const [head, ...rest] = segments;
  if (head === undefined) return applyOp(inside, op);
  const map = isPlainObject(inside) ? inside : {};
  return { ...map, [head]: applyAt(map[head], rest, op) };
}

/** Adds one logical field update to a document's coalesced update, in order. */
export function addFieldOp(fields: FieldUpdates, path: string, op: FieldOp): void {
  fieldSegments(path);
  for (const [existing, prior] of fields) {
    if (!isPrefix(existing, path)) continue;
    // An ancestor is written already: fold this op into its value. After an increment or a
    // union the ancestor is no map, so writing below it makes it a fresh map.
    const base = prior.kind === 'set' ? prior.value : undefined;
    const relative = path.slice(existing.length + 1).split('.');
    fields.set(existing, setTo(applyAt(base, relative, op)));
    return;
  }
  const prior = fields.get(path);
  if (prior) {
    fields.set(path, composeOps(prior, op));
    return;
  }
  let hadDescendants = false;
  for (const existing of [...fields.keys()]) {
    if (isPrefix(path, existing)) {
      fields.delete(existing);
      hadDescendants = true;
    }
  }
  // Writes below this field made it a map; an increment or union overwrites a map.
  fields.set(path, hadDescendants && op.kind !== 'set' ? setTo(applyOp(undefined, op)) : op);
}

/**
 * `update()`-style input: keys are field paths, values are ops or plain values (= set; a map
 * replaces the whole map). Undefined values are skipped.
 */
export function addUpdate(fields: FieldUpdates, data: Record<string, unknown>): number {
  let count = 0;
  for (const [path, value] of Object.entries(data)) {
    if (value === undefined) continue;
    addFieldOp(fields, path, isFieldOp(value) ? value : setTo(value));
    count++;
  }
  return count;
}

/**
 * `set(data, { merge: true })`-style input: nested plain objects merge field by field, other
 * values (ops, arrays, SDK values, empty maps) are leaves. Undefined values are skipped.
 */
export function addMerge(fields: FieldUpdates, data: Record<string, unknown>): number {
  let count = 0;
  const walk = (prefix: string, object: Record<string, unknown>) => {
    for (const [key, value] of Object.entries(object)) {
      if (value === undefined) continue;
      if (key === '' || key.includes('.') || key.includes('`')) {
        throw new TypeError(`invalid field name in merge data: "${key}"`);
      }
      const path = prefix ? `${prefix}.${key}` : key;
      if (isPlainObject(value) && Object.keys(value).length > 0) walk(path, value);
      else {
        addFieldOp(fields, path, isFieldOp(value) ? value : setTo(value));
        count++;
      }
    }
  };
  walk('', data);
  return count;
}

/** A document's fields after the update (the reference semantics, also used by tests). */
export function applyFieldUpdates(
  doc: Record<string, unknown> | undefined,
  updates: Iterable<readonly [string, FieldOp]>,
): Record<string, unknown> {
  let out: unknown = doc ?? {};
  for (const [path, op] of updates) out = applyAt(out, fieldSegments(path), op);
  return out as Record<string, unknown>;
}
