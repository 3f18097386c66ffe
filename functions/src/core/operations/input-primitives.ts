import { z } from 'zod';
import { idSchema } from '../ids';

/** The pieces the callables' inputs are built of: ids, bounded text, percentages, instants. */

/**
 * Names every plain object inherits (`constructor`, `toString`...): as ids they would read a
 * prototype member wherever ids key a plain object (targets, marketplaces, emulators' stores).
 */
function inherited(s: string): boolean {
  return s in Object.prototype;
}

/** Provider, category, collection and marketplace ids (as core/config.ts stores them). */
export const apiIdSchema = idSchema;

export const percent = z.number().min(0).max(100);

/** Latest millisecond a Firestore Timestamp holds (9999-12-31T23:59:59.999Z). */
export const MAX_EPOCH_MS = 253_402_300_799_999;
export const epochMs = z.number().int().min(0).max(MAX_EPOCH_MS);

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Text Firestore and JSON can carry: valid UTF-16 (no lone surrogates), bounded. */
export function textSchema(max: number) {
  return z
    .string()
    .max(max)
    .refine((s) => !LONE_SURROGATE.test(s), 'must be valid Unicode text');
}

/** TextEncoder rather than Buffer: browsers (the typed client) have it too. */
const utf8 = new TextEncoder();

/** A Firestore document id: no '/', not '.' or '..', not `__x__`, at most 1,500 bytes. */
export const documentIdSchema = textSchema(500)
  .min(1)
  .refine(
    (s) =>
      !s.includes('/') &&
      s !== '.' &&
      s !== '..' &&
      !/^__.*__$/.test(s) &&
      !inherited(s) &&
      utf8.encode(s).length <= 1500,
    'not usable as a document id',
  );
