import type { Call } from './call.ts';
import { parseGoogHash } from './checksums.ts';
import { badRequest, required } from './errors.ts';
import { applyFieldsPatch, type ObjectFields, parseFieldsPatch } from './fields.ts';
import { parseJson, readBody, sendEmpty, sendJson } from './http.ts';
import { boundaryOf, parseMultipart } from './multipart.ts';
import { checkPreconditions, parsePreconditions } from './preconditions.ts';
import { objectResource } from './resource.ts';
import { acceptChunk, parseContentRange, sessionData } from './resumable.ts';

// The upload endpoint (`/upload/storage/v1/b/{bucket}/o`) in its three protocols. The
// client's `file.save()` is resumable by default and multipart with `resumable: false`;
// media uploads come from other clients and raw HTTP.

export async function startUpload(c: Call, bucket: string): Promise<void> {
  const type = c.query.get('uploadType') ?? c.req.headers['x-goog-upload-protocol'];
  if (type === 'media') return mediaUpload(c, bucket);
  if (type === 'multipart') return multipartUpload(c, bucket);
  if (type === 'resumable') return openSession(c, bucket);
  throw badRequest(
    'Upload requests must include an uploadType URL parameter and a URL-encoded object name.',
  );
}

async function mediaUpload(c: Call, bucket: string): Promise<void> {
  const name = c.query.get('name');
  if (!name) throw required('name');
  const data = await readBody(c.req);
  const fields: ObjectFields = {
    contentType: c.req.headers['content-type'],
    contentEncoding: c.query.get('contentEncoding') ?? undefined,
  };
  finish(c, bucket, name, data, fields);
}

async function multipartUpload(c: Call, bucket: string): Promise<void> {
  const parts = parseMultipart(await readBody(c.req), boundaryOf(c.req.headers['content-type']));
  const [metaPart, mediaPart] = parts;
  if (!metaPart || !mediaPart || parts.length !== 2) {
    throw badRequest('A multipart upload needs exactly a metadata part and a media part.');
  }
  const meta = (parseJson(metaPart.body) ?? {}) as Record<string, unknown>;
  const name = c.query.get('name') ?? (typeof meta.name === 'string' ? meta.name : undefined);
  if (!name) throw required('name');
  const fields = applyFieldsPatch({}, parseFieldsPatch(meta));
  fields.contentType ??= mediaPart.headers['content-type'];
  // Hashes in the metadata are the client's claim about the media; GCS verifies them.
  const claimed = {
    ...parseGoogHash(c.req.headers['x-goog-hash']),
    ...(typeof meta.crc32c === 'string' ? { crc32c: meta.crc32c } : {}),
    ...(typeof meta.md5Hash === 'string' ? { md5Hash: meta.md5Hash } : {}),
  };
  finish(c, bucket, name, mediaPart.body, fields, claimed);
}

function finish(
  c: Call,
  bucket: string,
  name: string,
  data: Buffer,
  fields: ObjectFields,
  claimed = parseGoogHash(c.req.headers['x-goog-hash']),
): void {
  const obj = c.store.insertObject(
    bucket,
    name,
    data,
    fields,
    parsePreconditions(c.query),
    claimed,
  );
  sendJson(c.res, 200, objectResource(obj, c.origin));
}

async function openSession(c: Call, bucket: string): Promise<void> {
  const meta = (parseJson(await readBody(c.req)) ?? {}) as Record<string, unknown>;
  const name = c.query.get('name') ?? (typeof meta.name === 'string' ? meta.name : undefined);
  if (!name) throw required('name');
  const fields = applyFieldsPatch({}, parseFieldsPatch(meta));
  const announced = c.req.headers['x-upload-content-type'];
  if (typeof announced === 'string') fields.contentType ??= announced;
  const preconditions = parsePreconditions(c.query);
  // Fail a doomed create-if-absent now rather than after the bytes; finalising checks again.
  checkPreconditions(c.store.findObject(bucket, name), preconditions);
  const session = c.sessions.open({ bucket, name, fields, preconditions });
  const uri = new URL(`${c.origin}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o`);
  uri.searchParams.set('uploadType', 'resumable');
  uri.searchParams.set('name', name);
  uri.searchParams.set('upload_id', session.id);
  sendEmpty(c.res, 200, { location: uri.toString(), 'x-guploader-uploadid': session.id });
}

/** A PUT to a session URI: a chunk, the rest of the object, or a status query. */
export async function continueSession(c: Call, id: string): Promise<void> {
  const session = c.sessions.get(id);
  const body = await readBody(c.req);
  if (session.result) return sendJson(c.res, 200, session.result);
  const range = parseContentRange(c.req.headers['content-range']);
  if (!acceptChunk(session, range, body)) {
    const received: Record<string, string> = {};
    if (session.received > 0) received.range = `bytes=0-${session.received - 1}`;
    return sendEmpty(c.res, 308, received);
  }
  const obj = c.store.insertObject(
    session.bucket,
    session.name,
    sessionData(session),
    session.fields,
    session.preconditions,
    parseGoogHash(c.req.headers['x-goog-hash']),
  );
  // Keep the answer, not the bytes: finished sessions stay around for late retries.
  session.result = objectResource(obj, c.origin);
  session.chunks = [];
  sendJson(c.res, 200, session.result);
}

/** Cancelling a session; GCS answers 499 ("client closed request"). */
export function cancelSession(c: Call, id: string): void {
  c.sessions.cancel(id);
  sendEmpty(c.res, 499);
}
