// A lockfile's text, byte for byte as npm writes it (key order, indents).
import type { Lockfile } from './lockfile-resolution.ts';

/** The keys npm writes first in a lockfile, in this order (arborist's shrinkwrap). */
const LOCK_KEY_ORDER = [
  'name',
  'version',
  'lockfileVersion',
  'resolved',
  'integrity',
  'requires',
  'packages',
  'dependencies',
];

/**
 * A lockfile's text as npm writes it (json-stringify-nice): in every object, plain values before
 * objects, the keys above first, the others in English locale order; two-space indents.
 */
export function stringifyLock(lock: Lockfile): string {
  const isObject = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
  const rank = (key: string) => LOCK_KEY_ORDER.indexOf(key);
  const compare = (a: string, b: string) => {
    const [ra, rb] = [rank(a), rank(b)];
    if (ra >= 0 && rb >= 0) return ra - rb;
    if (ra >= 0) return -1;
    if (rb >= 0) return 1;
    return a.localeCompare(b, 'en');
  };
  const sorted = (_key: string, value: unknown) => {
    if (!isObject(value)) return value;
    const entries = Object.entries(value as Record<string, unknown>).sort(([ak, av], [bk, bv]) =>
      isObject(av) === isObject(bv) ? compare(ak, bk) : isObject(av) ? 1 : -1,
    );
    return Object.fromEntries(entries);
  };
  return `${JSON.stringify(lock, sorted, 2)}\n`;
}
