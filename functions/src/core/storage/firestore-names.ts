// Firestore's rules for names: collection and document ids, document paths and field names (their
// bytes, reserved `__.*__` names), and how a field path is written.
import type { z } from 'zod';

export const MAX_ID_BYTES = 1500;
export const MAX_FIELD_NAME_BYTES = 1500;

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

/** A name cut to 40 characters, for messages. */
export function short(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}...` : s;
}

/** A field path as Firestore writes it: simple names bare, others in backticks. */
export function formatFieldPath(path: readonly string[]): string {
  return path
    .map((s) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(s) ? s : `\`${s.replace(/[\\`]/g, '\\$&')}\``))
    .join('.');
}

/** A zod refinement: every key of a record is usable as a field name. */
export function refineFieldNames(record: Record<string, unknown>, ctx: z.RefinementCtx): void {
  for (const key of Object.keys(record)) {
    const problem = fieldNameProblem(key);
    if (problem) ctx.addIssue({ code: 'custom', path: [key], message: problem });
  }
}
