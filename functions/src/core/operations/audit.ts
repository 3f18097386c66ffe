import type { CallableName } from './registry';
import type { Role } from './roles';

export { AUDIT_LOG_COLLECTION } from './audit-log';

/** Who called, as the ID token said. */
export interface Actor {
  uid: string;
  email: string | null;
  role: Role;
}

/**
 * Who Tollgate is when it changes something itself, on a schedule, because an operator's
 * setting asked it to (a share raised to meet a deadline): audited like any other change.
 */
export const TOLLGATE_ACTOR: Actor = { uid: 'tollgate', email: null, role: 'admin' };

/** Another document the same change wrote (a sibling's share, a paused collection...). */
export interface RelatedChange {
  path: string;
  before: unknown;
  after: unknown;
}

/** Changes Tollgate makes on its own schedule, audited by name like a callable. */
export type ScheduledChange = 'followDeadlines';

export interface AuditRecord {
  who: Actor;
  /** The callable, or the scheduled change. */
  what: CallableName | ScheduledChange;
  /** The document (or entity: `users/{uid}`) the change is about. */
  target: string;
  /** Its state before and after; null where it did not exist (or, for a run, is not kept). */
  before: unknown;
  after: unknown;
  atMs: number;
  related?: RelatedChange[];
  /** Why, when the caller said (maintenance mode). */
  reason?: string;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * A value Firestore stores as given: undefined fields dropped (arrays: null), plain objects and
 * arrays copied, anything else (numbers, strings, Timestamps, Dates) kept.
 */
export function storable(value: unknown): unknown {
  if (value === undefined) return null;
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : storable(v)));
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (v !== undefined) out[key] = storable(v);
  }
  return out;
}

/** The document's fields, except `at` (a Timestamp the adapter adds from atMs). */
export function auditFields(record: AuditRecord): Record<string, unknown> {
  return storable({
    who: record.who,
    what: record.what,
    target: record.target,
    before: record.before ?? null,
    after: record.after ?? null,
    atMs: record.atMs,
    related: record.related ?? [],
    ...(record.reason === undefined ? {} : { reason: record.reason }),
  }) as Record<string, unknown>;
}
