import { z } from 'zod';

/**
 * The one id schema for every id and map key a client can write: provider, category,
 * collection and marketplace ids, the keys of `startCollection`'s targets and of
 * `validation.marketplaces`. Lowercase letters, digits, `-` and `_`, starting with a letter, at
 * most 63 characters: far inside Firestore's limits on ids and field names (never empty, never
 * `__x__`, never over 1,500 bytes, no `/` or `.` to split a path), and never a name every plain
 * object inherits (`constructor`, `toString`...), which would read a prototype member wherever
 * ids key a plain object.
 */
export const ID_PATTERN = /^[a-z][a-z0-9_-]{0,62}$/;

function inherited(s: string): boolean {
  return s in Object.prototype;
}

export const idSchema = z
  .string()
  .regex(ID_PATTERN, 'lowercase id: letters, digits, - and _')
  .refine((s) => !inherited(s), 'reserved name');

/** Whether `s` passes idSchema. */
export function isId(s: string): boolean {
  return ID_PATTERN.test(s) && !inherited(s);
}
