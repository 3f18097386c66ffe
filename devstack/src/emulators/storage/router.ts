import * as buckets from './buckets.ts';
import type { Call } from './call.ts';
import { badRequest, notImplemented } from './errors.ts';
import * as objects from './objects.ts';
import * as uploads from './uploads.ts';

// Maps a request onto a handler. The client sends JSON API calls to the emulator host's
// root (`/b/...`, no `/storage/v1` when STORAGE_EMULATOR_HOST is set) but uploads to
// `/upload/storage/v1/b/...`; other clients use the canonical prefixes, so both are served.

type Api = 'json' | 'upload' | 'download';

function split(pathname: string): { api: Api; segments: string[] } {
  let path = pathname.replace(/^\/storage\/v1(?=\/)/, '');
  let api: Api = 'json';
  for (const kind of ['upload', 'download'] as const) {
    const prefix = `/${kind}/storage/v1/`;
    if (path.startsWith(prefix)) {
      api = kind;
      path = path.slice(prefix.length - 1);
    }
  }
  try {
    // Object names arrive as one percent-encoded segment, slashes included.
    return { api, segments: path.split('/').slice(1).map(decodeURIComponent) };
  } catch {
    throw badRequest(`Malformed path: ${pathname}`);
  }
}

export async function route(c: Call, pathname: string): Promise<void> {
  const method = c.req.method ?? 'GET';
  const { api, segments } = split(pathname);
  const [root, bucket, o, name, ...rest] = segments;
  const unknown = () => notImplemented(`${method} ${pathname}`);
  if (root !== 'b') {
    // Path-style media URLs (`/{bucket}/{object}`), which `file.publicUrl()` and signed URLs
    // produce against an emulator host.
    const objectName = segments.slice(1).join('/');
    if (api === 'json' && root && objectName && (method === 'GET' || method === 'HEAD')) {
      c.query.set('alt', 'media');
      return objects.getObject(c, root, objectName);
    }
    throw unknown();
  }

  if (api === 'upload') {
    if (bucket === undefined || o !== 'o' || name !== undefined) throw unknown();
    const session = c.query.get('upload_id');
    if (session === null && method === 'POST') return uploads.startUpload(c, bucket);
    if (session !== null && (method === 'PUT' || method === 'POST')) {
      return uploads.continueSession(c, session);
    }
    if (session !== null && method === 'DELETE') return uploads.cancelSession(c, session);
    throw unknown();
  }

  if (api === 'download') {
    if (bucket === undefined || o !== 'o' || !name || rest.length > 0) throw unknown();
    if (method !== 'GET' && method !== 'HEAD') throw unknown();
    c.query.set('alt', 'media');
    return objects.getObject(c, bucket, name);
  }

  if (bucket === undefined) {
    if (method === 'GET') return buckets.listBuckets(c);
    if (method === 'POST') return buckets.createBucket(c);
    throw unknown();
  }
  if (o === undefined) {
    if (method === 'GET') return buckets.getBucket(c, bucket);
    if (method === 'PATCH' || method === 'PUT') return buckets.patchBucket(c, bucket);
    if (method === 'DELETE') return buckets.deleteBucket(c, bucket);
    throw unknown();
  }
  if (o !== 'o') throw unknown();
  if (!name && rest.length === 0) {
    if (method === 'GET') return objects.listObjects(c, bucket);
    throw unknown();
  }
  if (!name) throw unknown();
  if (rest.length === 0) {
    if (method === 'GET' || method === 'HEAD') return objects.getObject(c, bucket, name);
    if (method === 'PATCH') return objects.patchObject(c, bucket, name, false);
    if (method === 'PUT') return objects.patchObject(c, bucket, name, true);
    if (method === 'DELETE') return objects.deleteObject(c, bucket, name);
    throw unknown();
  }
  // `/b/{bucket}/o/{object}/(copyTo|rewriteTo)/b/{destBucket}/o/{destObject}`
  const [verb, b2, destBucket, o2, destName, ...extra] = rest;
  const isCopy = verb === 'copyTo' || verb === 'rewriteTo';
  if (method === 'POST' && isCopy && b2 === 'b' && destBucket && o2 === 'o' && destName) {
    if (extra.length > 0) throw unknown();
    const dest = { bucket: destBucket, name: destName };
    return objects.copyObject(c, { bucket, name }, dest, verb === 'rewriteTo');
  }
  throw unknown();
}
