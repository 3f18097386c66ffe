import { randomUUID } from 'node:crypto';
import { badRequest, StorageApiError } from './errors.ts';
import type { ObjectFields } from './fields.ts';
import type { Preconditions } from './preconditions.ts';
import type { ObjectResource } from './resource.ts';

// Resumable upload sessions: a POST opens one, PUTs to its URI carry byte ranges, and the
// request that completes the object finalises it. Unfinished sessions answer 308 with the
// bytes received so far, which is how the client resumes and how it pages chunked uploads.

export interface Session {
  id: string;
  bucket: string;
  name: string;
  fields: ObjectFields;
  preconditions: Preconditions;
  chunks: Buffer[];
  received: number;
  /** Set once finalised; later PUTs to the session answer with it, as GCS does. */
  result?: ObjectResource;
}

/** `Content-Range: bytes <start>-<end>/<total>`; each part may be `*`. */
export interface ContentRange {
  start?: number;
  end?: number;
  total?: number;
}

export class ResumableSessions {
  private readonly sessions = new Map<string, Session>();

  open(init: Pick<Session, 'bucket' | 'name' | 'fields' | 'preconditions'>): Session {
    const session: Session = { ...init, id: randomUUID(), chunks: [], received: 0 };
    this.sessions.set(session.id, session);
    return session;
  }

  get(id: string): Session {
    const session = this.sessions.get(id);
    if (!session) throw new StorageApiError(404, 'notFound', `No such upload session: ${id}`);
    return session;
  }

  cancel(id: string): void {
    this.get(id);
    this.sessions.delete(id);
  }
}

export function parseContentRange(header: string | undefined): ContentRange | undefined {
  if (!header) return undefined;
  const m = /^bytes\s+(?:(\d+)-(\d+|\*)|\*)\/(\d+|\*)$/i.exec(header.trim());
  if (!m) throw badRequest(`Invalid Content-Range: ${header}`);
  const num = (s: string | undefined) => (s === undefined || s === '*' ? undefined : Number(s));
  return { start: num(m[1]), end: num(m[2]), total: num(m[3]) };
}

/**
 * Adds one request's bytes to the session and says whether the object is now complete.
 * Bytes the server already has (a client resending after a lost response) are skipped.
 */
export function acceptChunk(s: Session, range: ContentRange | undefined, body: Buffer): boolean {
  if (!range) {
    // No Content-Range: the body is the rest of the object.
    append(s, body);
    return true;
  }
  if (range.start === undefined) {
    // "bytes */N" or "bytes */*": a status query, which also completes a fully sent object.
    if (body.length > 0) throw badRequest('Content-Range without a start must have no body.');
    return range.total !== undefined && range.total === s.received;
  }
  if (range.start > s.received) {
    throw badRequest(`Chunk starts at ${range.start} but only ${s.received} bytes were received.`);
  }
  if (range.end !== undefined && range.end - range.start + 1 !== body.length) {
    throw badRequest('Content-Range does not match the request body length.');
  }
  append(s, body.subarray(s.received - range.start));
  if (range.total !== undefined) {
    if (s.received > range.total) throw badRequest('Upload exceeds the declared object size.');
    return s.received === range.total;
  }
  // "bytes N-*/*": the client streams the rest in this one request.
  return range.end === undefined;
}

function append(s: Session, bytes: Buffer): void {
  if (bytes.length === 0) return;
  s.chunks.push(bytes);
  s.received += bytes.length;
}

export function sessionData(s: Session): Buffer {
  return Buffer.concat(s.chunks);
}
