import type { Call } from './call.ts';
import { sendMedia } from './download.ts';
import { notImplemented } from './errors.ts';
import { applyFieldsPatch, parseFieldsPatch, writableFields } from './fields.ts';
import { intParam, parseJson, readBody, sendEmpty, sendJson } from './http.ts';
import { listPage } from './listing.ts';
import { parsePreconditions } from './preconditions.ts';
import { objectResource } from './resource.ts';

// Object metadata, media, patch, delete, list and copy on the JSON API (`/b/{bucket}/o...`).

export function getObject(c: Call, bucket: string, name: string): void {
  const obj = c.store.getObject(bucket, name, parsePreconditions(c.query), {
    generation: intParam(c.query, 'generation'),
  });
  if (c.query.get('alt') === 'media') sendMedia(c.req, c.res, obj);
  else sendJson(c.res, 200, objectResource(obj, c.origin));
}

/** PATCH merges the given fields, PUT (`replace`) sets exactly the given ones. */
export async function patchObject(c: Call, bucket: string, name: string, replace: boolean) {
  const patch = parseFieldsPatch(parseJson(await readBody(c.req)));
  const obj = c.store.patchObject(bucket, name, patch, parsePreconditions(c.query), replace);
  sendJson(c.res, 200, objectResource(obj, c.origin));
}

export function deleteObject(c: Call, bucket: string, name: string): void {
  c.store.deleteObject(bucket, name, parsePreconditions(c.query));
  sendEmpty(c.res, 204);
}

export function listObjects(c: Call, bucket: string): void {
  const q = c.query;
  if (q.get('matchGlob')) throw notImplemented('matchGlob');
  const page = listPage(c.store.objects(bucket), {
    prefix: q.get('prefix') ?? undefined,
    delimiter: q.get('delimiter') ?? undefined,
    maxResults: intParam(q, 'maxResults'),
    pageToken: q.get('pageToken') || undefined,
    startOffset: q.get('startOffset') ?? undefined,
    endOffset: q.get('endOffset') ?? undefined,
    includeTrailingDelimiter: q.get('includeTrailingDelimiter') === 'true',
  });
  // Like GCS, empty `items`/`prefixes` are left out rather than sent as [].
  sendJson(c.res, 200, {
    kind: 'storage#objects',
    ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
    ...(page.prefixes.length ? { prefixes: page.prefixes } : {}),
    ...(page.items.length ? { items: page.items.map((o) => objectResource(o, c.origin)) } : {}),
  });
}

/**
 * `copyTo` and `rewriteTo` (which `file.copy()`/`file.move()` use). A body with writable
 * fields sets the destination's metadata; without one the source's is copied. Rewrites
 * always finish in one call, so no rewrite token is ever returned.
 */
export async function copyObject(
  c: Call,
  source: { bucket: string; name: string },
  dest: { bucket: string; name: string },
  rewrite: boolean,
) {
  const src = c.store.getObject(
    source.bucket,
    source.name,
    parsePreconditions(c.query, 'ifSource'),
    {
      generation: intParam(c.query, 'sourceGeneration'),
      read: false,
    },
  );
  const patch = parseFieldsPatch(parseJson(await readBody(c.req)));
  const fields = Object.keys(patch).length > 0 ? applyFieldsPatch({}, patch) : writableFields(src);
  const obj = c.store.insertObject(
    dest.bucket,
    dest.name,
    src.data,
    fields,
    parsePreconditions(c.query),
  );
  const resource = objectResource(obj, c.origin);
  if (!rewrite) return sendJson(c.res, 200, resource);
  sendJson(c.res, 200, {
    kind: 'storage#rewriteResponse',
    totalBytesRewritten: resource.size,
    objectSize: resource.size,
    done: true,
    resource,
  });
}
