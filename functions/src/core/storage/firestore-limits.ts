import {
  documentPathProblem,
  fieldNameProblem,
  formatFieldPath,
  short,
  utf8Length,
} from './firestore-names';
import { classify, documentSize, MAX_DOCUMENT_BYTES } from './firestore-storage-size';

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

/** A field path of this many bytes or more is refused. */
export const FIELD_PATH_REFUSED_BYTES = 1500;
export const MAX_VALUE_BYTES = 1_048_487;
/**
 * Levels a value may lie below its top-level field, counting map keys and array positions (the
 * Admin SDK's `path.size - 1 > 20` check; production's "maximum depth of fields in a map or
 * array: 20").
 */
export const MAX_NESTING_DEPTH = 20;

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
