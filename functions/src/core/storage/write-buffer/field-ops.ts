/**
 * Logical field updates and how they compose. Pure: values are opaque except for numbers,
 * arrays and plain objects, which Firestore itself interprets (increments, array unions,
 * nested maps). Composing two updates of one field gives a single update with the same
 * effect as applying both in order, which is what lets the buffer coalesce them.
 */

// Registered, so a second copy of this module (CommonJS and ESM loaders) recognises ops too.
const BRAND: unique symbol = Symbol.for('tollgate.fieldOp');

export type FieldOp =
  | { readonly [BRAND]: true; readonly kind: 'set'; readonly value: unknown }
  | { readonly [BRAND]: true; readonly kind: 'increment'; readonly by: number }
  | { readonly [BRAND]: true; readonly kind: 'union'; readonly elements: readonly unknown[] };

/** Replaces the field (a map value replaces the whole map). */
export function setTo(value: unknown): FieldOp {
  if (value === undefined) throw new TypeError('a field cannot be set to undefined');
  if (containsFieldOp(value)) throw new TypeError('a set value cannot contain field operations');
  return Object.freeze({ [BRAND]: true as const, kind: 'set' as const, value });
}

/** Adds to a numeric field; a missing or non-numeric field becomes `by` (as in Firestore). */
export function increment(by: number): FieldOp {
  if (!Number.isFinite(by)) throw new TypeError(`increment must be a finite number: ${by}`);
  return Object.freeze({ [BRAND]: true as const, kind: 'increment' as const, by });
}

/** Appends the elements not already present; a non-array field becomes the elements. */
export function arrayUnion(...elements: unknown[]): FieldOp {
  if (elements.length === 0) throw new TypeError('an array union needs at least one element');
  for (const element of elements) {
    if (element === undefined) throw new TypeError('an array union cannot contain undefined');
    if (containsFieldOp(element)) throw new TypeError('an array union cannot contain field ops');
  }
  return Object.freeze({
    [BRAND]: true as const,
    kind: 'union' as const,
    elements: appendMissing([], elements),
  });
}

export function isFieldOp(value: unknown): value is FieldOp {
  return typeof value === 'object' && value !== null && BRAND in value;
}

/** A map value (field ops are not maps, though they are built from object literals). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || BRAND in value) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function containsFieldOp(value: unknown): boolean {
  if (isFieldOp(value)) return true;
  if (Array.isArray(value)) return value.some(containsFieldOp);
  if (isPlainObject(value)) return Object.values(value).some(containsFieldOp);
  return false;
}

/**
 * Value equality as Firestore sees it for array unions: structural for arrays and maps,
 * `isEqual` for SDK values (Timestamp, GeoPoint, DocumentReference), bytes by content.
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') return Number.isNaN(a) && Number.isNaN(b);
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((x, i) => sameValue(x, b[i]))
    );
  }
  if (isPlainObject(a) || isPlainObject(b)) {
    if (!isPlainObject(a) || !isPlainObject(b)) return false;
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length &&
      keys.every((k) => Object.hasOwn(b, k) && sameValue(a[k], b[k]))
    );
  }
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }
  const equals = (a as { isEqual?: unknown }).isEqual;
  if (a.constructor === b.constructor && typeof equals === 'function') {
    return Boolean(equals.call(a, b));
  }
  return false;
}

/** `current` followed by the elements of `elements` it does not contain yet (Firestore's rule). */
export function appendMissing(
  current: readonly unknown[],
  elements: readonly unknown[],
): unknown[] {
  const out = [...current];
  for (const element of elements) {
    if (!out.some((v) => sameValue(v, element))) out.push(element);
  }
  return out;
}

/** The value of a field after `op`, given its value before (undefined = absent). */
export function applyOp(current: unknown, op: FieldOp): unknown {
  switch (op.kind) {
    case 'set':
      return op.value;
    case 'increment':
      return typeof current === 'number' ? current + op.by : op.by;
    case 'union':
      return appendMissing(Array.isArray(current) ? current : [], op.elements);
  }
}

/**
 * One op with the effect of `first` then `second` on the same field, whatever the field held
 * before. Only increment+increment and union+union stay relative; anything after a set folds
 * into the set, and a union after an increment (or vice versa) overwrites, as Firestore does.
 */
export function composeOps(first: FieldOp, second: FieldOp): FieldOp {
  if (first.kind === 'set') return setTo(applyOp(first.value, second));
  if (second.kind === 'set') return second;
  if (first.kind === 'increment' && second.kind === 'increment') {
    return increment(first.by + second.by);
  }
  if (first.kind === 'union' && second.kind === 'union') {
    return arrayUnion(...appendMissing(first.elements, second.elements));
  }
  // After an increment the field is a number, after a union an array: the other kind of op
  // overwrites it with its own operand.
  return setTo(applyOp(undefined, second));
}
