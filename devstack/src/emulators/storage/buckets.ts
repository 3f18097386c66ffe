import type { Call } from './call.ts';
import { badRequest, required } from './errors.ts';
import { parseJson, readBody, sendEmpty, sendJson } from './http.ts';
import { bucketResource } from './resource.ts';

// Bucket create/get/patch/delete/list (`/b`, `/b/{bucket}`). Bucket settings are stored
// as sent and echoed back; none of them (lifecycle, retention...) is enforced.

const READ_ONLY = new Set([
  'kind',
  'id',
  'name',
  'selfLink',
  'projectNumber',
  'metageneration',
  'timeCreated',
  'updated',
  'etag',
]);

async function bucketFields(c: Call): Promise<Record<string, unknown>> {
  const body = parseJson(await readBody(c.req)) ?? {};
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('Invalid JSON payload.');
  return body as Record<string, unknown>;
}

function writable(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([k]) => !READ_ONLY.has(k)));
}

export async function createBucket(c: Call): Promise<void> {
  const fields = await bucketFields(c);
  const name = typeof fields.name === 'string' ? fields.name : c.query.get('name');
  if (!name) throw required('resource.name');
  sendJson(c.res, 200, bucketResource(c.store.createBucket(name, writable(fields)), c.origin));
}

export function getBucket(c: Call, name: string): void {
  sendJson(c.res, 200, bucketResource(c.store.getBucket(name), c.origin));
}

export async function patchBucket(c: Call, name: string): Promise<void> {
  const bucket = c.store.patchBucket(name, writable(await bucketFields(c)));
  sendJson(c.res, 200, bucketResource(bucket, c.origin));
}

export function deleteBucket(c: Call, name: string): void {
  c.store.deleteBucket(name);
  sendEmpty(c.res, 204);
}

export function listBuckets(c: Call): void {
  const prefix = c.query.get('prefix') ?? '';
  const items = c.store
    .listBuckets()
    .filter((b) => b.name.startsWith(prefix))
    .map((b) => bucketResource(b, c.origin));
  sendJson(c.res, 200, { kind: 'storage#buckets', ...(items.length ? { items } : {}) });
}
