import { z } from 'zod';
import { utf8Length } from './firestore-names';

/**
 * Payload routing: where a result's bytes live. Small payloads stay inline in their Firestore
 * metadata document; larger ones go to Cloud Storage and the document only points at the
 * object. Temporary payloads (intermediate results) are named under their own prefix so the
 * daily clean-up finds them with one prefix listing.
 */

export const KIB = 1024;
/** Firestore rejects documents above 1 MiB (1,048,576 bytes). */
export const FIRESTORE_MAX_DOCUMENT_BYTES = 1024 * KIB;
/**
 * The largest inline payload the configuration may allow: the document's name (at most ~560
 * bytes with a 500-character id), its other fields and their names stay well inside the 8 KiB
 * left over.
 */
export const MAX_INLINE_BYTES = FIRESTORE_MAX_DOCUMENT_BYTES - 8 * KIB;
export const DEFAULT_INLINE_MAX_BYTES = 256 * KIB;
export const DEFAULT_TEMPORARY_MAX_AGE_MS = 24 * 60 * 60 * 1000;
export const PAYLOADS_COLLECTION = 'payloads';

/** `a/`, `a/b/`: non-empty folders, no leading slash, ending in one. */
const folderPrefix = z
  .string()
  .regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*\/$/, 'a folder such as "payloads/" (ends in "/")');

export const payloadConfigSchema = z
  .object({
    /** Payloads up to this many bytes stay inline; larger ones go to Cloud Storage. */
    inlineMaxBytes: z
      .number()
      .int()
      .min(0)
      .max(MAX_INLINE_BYTES, `at most ${MAX_INLINE_BYTES} (Firestore documents max 1 MiB)`)
      .default(DEFAULT_INLINE_MAX_BYTES),
    /** Where permanent payload objects are named. */
    objectPrefix: folderPrefix.default('payloads/'),
    /** Where temporary payload objects are named; the clean-up lists only this prefix. */
    temporaryPrefix: folderPrefix.default('tmp/'),
    /** Temporary payloads older than this are removed by the clean-up. */
    temporaryMaxAgeMs: z.number().positive().default(DEFAULT_TEMPORARY_MAX_AGE_MS),
  })
  .refine(
    (c) => !c.objectPrefix.startsWith(c.temporaryPrefix),
    // Otherwise the clean-up would treat permanent objects as temporary ones.
    { path: ['objectPrefix'], message: 'must not lie under temporaryPrefix' },
  )
  .refine((c) => !c.temporaryPrefix.startsWith(c.objectPrefix), {
    path: ['temporaryPrefix'],
    message: 'must not lie under objectPrefix',
  });
export type PayloadConfig = z.infer<typeof payloadConfigSchema>;
export const DEFAULT_PAYLOAD_CONFIG: PayloadConfig = payloadConfigSchema.parse({});

/**
 * A content type's longest form (RFC 6838 names are at most 127 + 1 + 127 characters, plus
 * parameters). Bounded so that an inline payload's metadata document always fits 1 MiB with
 * MAX_INLINE_BYTES of data: a content type of any length would not.
 */
export const MAX_CONTENT_TYPE_BYTES = 1024;

/** Why a content type cannot be stored with a payload, if it cannot. */
export function contentTypeProblem(contentType: string): string | undefined {
  if (!contentType) return 'contentType is required';
  const bytes = utf8Length(contentType);
  if (bytes > MAX_CONTENT_TYPE_BYTES) {
    return `contentType is ${bytes} bytes (at most ${MAX_CONTENT_TYPE_BYTES})`;
  }
  return undefined;
}

export type PayloadLocation = 'inline' | 'storage';

/** What a payload's metadata document says, with times in epoch milliseconds. */
export interface PayloadMetadata {
  id: string;
  location: PayloadLocation;
  bytes: number;
  contentType: string;
  createdAtMs: number;
  temporary: boolean;
  /** The Cloud Storage object, for `location: 'storage'`. */
  object?: string;
  /** The object generation the document describes (a decimal string: int64). */
  generation?: string;
}

export interface LocationStats {
  count: number;
  bytes: number;
}
export type PayloadStats = Record<PayloadLocation | 'total', LocationStats>;

/**
 * Payload ids become both a document id and part of an object name, so they are limited to
 * what is safe in both: the characters of Cloud Tasks ids (see task-envelope.ts `taskId`)
 * plus `.`, `:` and `=`, at most 500 of them, and none of Firestore's reserved forms.
 */
const PAYLOAD_ID = /^[A-Za-z0-9_.:=-]{1,500}$/;

export class PayloadIdError extends Error {
  constructor(readonly id: string) {
    super(
      `invalid payload id ${JSON.stringify(id.slice(0, 80))}: use 1-500 of A-Z a-z 0-9 _ . : = -`,
    );
    this.name = 'PayloadIdError';
  }
}

export function isPayloadId(id: string): boolean {
  return PAYLOAD_ID.test(id) && id !== '.' && id !== '..' && !/^__.*__$/.test(id);
}

export function assertPayloadId(id: string): void {
  if (!isPayloadId(id)) throw new PayloadIdError(id);
}

/** Inline up to and including the threshold, Cloud Storage above it. */
export function routePayload(bytes: number, config: PayloadConfig): PayloadLocation {
  return bytes > config.inlineMaxBytes ? 'storage' : 'inline';
}

/** The object a payload is stored as: deterministic, so a retried put finds its own object. */
export function objectName(id: string, temporary: boolean, config: PayloadConfig): string {
  assertPayloadId(id);
  return `${temporary ? config.temporaryPrefix : config.objectPrefix}${id}`;
}

/** The payload an object name belongs to, or undefined for objects not named by us. */
export function payloadOfObject(
  name: string,
  config: PayloadConfig,
): { id: string; temporary: boolean } | undefined {
  for (const [prefix, temporary] of [
    [config.temporaryPrefix, true],
    [config.objectPrefix, false],
  ] as const) {
    if (!name.startsWith(prefix)) continue;
    const id = name.slice(prefix.length);
    return isPayloadId(id) ? { id, temporary } : undefined;
  }
  return undefined;
}

/** Older than the threshold: strictly more than `olderThanMs` between creation and now. */
export function isExpired(createdAtMs: number, nowMs: number, olderThanMs: number): boolean {
  return nowMs - createdAtMs > olderThanMs;
}

/** Payloads created strictly before this time are expired at `nowMs` (see isExpired). */
export function expiredBeforeMs(nowMs: number, olderThanMs: number): number {
  return nowMs - olderThanMs;
}

/**
 * The payload bucket: `TOLLGATE_PAYLOAD_BUCKET` when set, else the app's default bucket (what
 * `FIREBASE_CONFIG` names on Cloud Functions: `<project>.appspot.com` for projects older than
 * late 2024), else `<project>.firebasestorage.app`, the name every newer project's default
 * bucket gets.
 */
export function payloadBucketName(sources: {
  configured?: string | undefined;
  appDefault?: string | undefined;
  project: string;
}): string {
  const configured = sources.configured?.trim();
  if (configured) return configured;
  return sources.appDefault || `${sources.project}.firebasestorage.app`;
}

/** Adds up per-location stats into the `total` row. */
export function withTotal(byLocation: Record<PayloadLocation, LocationStats>): PayloadStats {
  return {
    ...byLocation,
    total: {
      count: byLocation.inline.count + byLocation.storage.count,
      bytes: byLocation.inline.bytes + byLocation.storage.bytes,
    },
  };
}
