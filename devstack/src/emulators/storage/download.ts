import type { IncomingMessage, ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { rangeNotSatisfiable } from './errors.ts';
import type { StoredObject } from './store.ts';

// `alt=media` responses. The client validates the body against `x-goog-hash` unless the
// request was a range or the stored encoding differs from what was sent, so the headers
// mirror GCS: hashes of the stored bytes plus the stored encoding.

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;

export function sendMedia(req: IncomingMessage, res: ServerResponse, o: StoredObject): void {
  let body = o.data;
  const storedGzip = o.contentEncoding === 'gzip';
  const headers: Record<string, string> = {
    etag: `"${o.md5Hash}"`,
    'last-modified': o.updated.toUTCString(),
    'x-goog-generation': String(o.generation),
    'x-goog-metageneration': String(o.metageneration),
    'x-goog-hash': `crc32c=${o.crc32c},md5=${o.md5Hash}`,
    'x-goog-stored-content-encoding': o.contentEncoding ?? 'identity',
    'x-goog-stored-content-length': String(o.data.length),
    'accept-ranges': 'bytes',
  };
  const userHeaders: Array<[string, string | undefined]> = [
    ['content-type', o.contentType ?? 'application/octet-stream'],
    ['cache-control', o.cacheControl],
    ['content-disposition', o.contentDisposition],
    ['content-language', o.contentLanguage],
    ...Object.entries(o.metadata ?? {}).map(([k, v]): [string, string] => [`x-goog-meta-${k}`, v]),
  ];
  // Values come from clients; one Node would refuse to send must not break the download.
  for (const [name, value] of userHeaders) {
    if (value !== undefined && HEADER_NAME.test(name) && HEADER_VALUE.test(value)) {
      headers[name] = value;
    }
  }
  if (storedGzip) {
    // Gzip objects go out as stored to clients that accept gzip, decompressed otherwise
    // (GCS's "decompressive transcoding").
    if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      headers['content-encoding'] = 'gzip';
    } else {
      body = gunzipSync(body);
    }
  }

  const range = parseRange(req.headers.range, body.length);
  if (range) {
    const [start, end] = range;
    headers['content-range'] = `bytes ${start}-${end}/${body.length}`;
    body = body.subarray(start, end + 1);
  }
  headers['content-length'] = String(body.length);
  res.writeHead(range ? 206 : 200, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** One `bytes=` range (`a-b`, `a-`, `-n`) as inclusive offsets; undefined means "all". */
function parseRange(header: string | undefined, size: number): [number, number] | undefined {
  const m = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (size === 0 && start === 0) return undefined;
  if (start >= size || start > end) throw rangeNotSatisfiable();
  return [start, end];
}
