import { badRequest } from './errors.ts';

// The object fields a client may write (on upload, patch or update). Everything else in a
// request body (name, bucket, size, hashes, generation...) is read-only and ignored, as the
// real API does.
export interface ObjectFields {
  contentType?: string;
  contentEncoding?: string;
  contentDisposition?: string;
  contentLanguage?: string;
  cacheControl?: string;
  customTime?: string;
  metadata?: Record<string, string>;
}

const STRING_FIELDS = [
  'contentType',
  'contentEncoding',
  'contentDisposition',
  'contentLanguage',
  'cacheControl',
  'customTime',
] as const;

/** A patch: `null` removes a field (or, inside `metadata`, one key). */
export type FieldsPatch = {
  [K in (typeof STRING_FIELDS)[number]]?: string | null;
} & { metadata?: Record<string, string | null> | null };

export function parseFieldsPatch(body: unknown): FieldsPatch {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('Invalid JSON payload.');
  const src = body as Record<string, unknown>;
  const out: FieldsPatch = {};
  for (const key of STRING_FIELDS) {
    const v = src[key];
    if (v === undefined) continue;
    if (v !== null && typeof v !== 'string') throw badRequest(`Invalid value for ${key}.`);
    out[key] = v;
  }
  const meta = src.metadata;
  if (meta === null) out.metadata = null;
  else if (meta !== undefined) {
    if (typeof meta !== 'object' || Array.isArray(meta)) throw badRequest('Invalid metadata.');
    // Custom metadata values are strings on the wire; the real API stringifies scalars too.
    out.metadata = Object.fromEntries(
      Object.entries(meta as Record<string, unknown>).map(([k, v]) => [
        k,
        v === null ? null : String(v),
      ]),
    );
  }
  return out;
}

/** Applies a patch; with `replace` every writable field not in the patch is cleared (PUT). */
export function applyFieldsPatch(
  current: ObjectFields,
  patch: FieldsPatch,
  replace = false,
): ObjectFields {
  const next: ObjectFields = replace ? {} : { ...current };
  for (const key of STRING_FIELDS) {
    const v = patch[key];
    if (v === null) delete next[key];
    else if (v !== undefined) next[key] = v;
  }
  if (patch.metadata === null) delete next.metadata;
  else if (patch.metadata) {
    const merged: Record<string, string> = replace ? {} : { ...current.metadata };
    for (const [k, v] of Object.entries(patch.metadata)) {
      if (v === null) delete merged[k];
      else merged[k] = v;
    }
    if (Object.keys(merged).length > 0) next.metadata = merged;
    else delete next.metadata;
  }
  return next;
}

/** The writable fields of a stored object, e.g. to copy them to another. */
export function writableFields(o: ObjectFields): ObjectFields {
  const out: ObjectFields = {};
  for (const key of STRING_FIELDS) if (o[key] !== undefined) out[key] = o[key];
  if (o.metadata) out.metadata = { ...o.metadata };
  return out;
}
