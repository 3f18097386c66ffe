import { randomBytes } from 'node:crypto';
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';

/** FNV-1a, then mulberry32: a deterministic PRNG per text, so sandbox data is repeatable. */
export function seededRandom(text: string): () => number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  let a = h >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Listens on 127.0.0.1 (a free port when none is given); the port it got. */
export async function listenLocal(server: Server, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

export const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Stops listening and drops every open connection, so a stop never waits on keep-alive. */
export function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeAllConnections();
  });
}

/** Misbehaving bodies are this large unless a sandbox is told otherwise: 256 MiB. */
export const HUGE_BODY_BYTES = 256 * 1024 * 1024;
/** The Retry-After of the 'far-retry-after' modes unless told otherwise: about the year 2343. */
export const FAR_RETRY_AFTER = '9999999999';

const FILLER_CHUNK = 64 * 1024;

/**
 * Streams `head`, then `filler` repeated up to `bytes` in all, then `tail` (chunked: no
 * Content-Length), honouring backpressure and stopping as soon as the client goes away, so a
 * body far past any sane size costs the sandbox nothing while the client aborts it. Resolves
 * with the bytes written.
 */
export function streamHuge(
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body: {
    head?: string | Buffer;
    filler?: string | Buffer;
    tail?: string | Buffer;
    bytes: number;
  },
): Promise<number> {
  const head = Buffer.from(body.head ?? '');
  const tail = Buffer.from(body.tail ?? '');
  const unit = Buffer.from(body.filler ?? ' ');
  const chunk = Buffer.alloc(Math.max(unit.length, FILLER_CHUNK - (FILLER_CHUNK % unit.length)));
  for (let i = 0; i < chunk.length; i += unit.length) unit.copy(chunk, i);
  res.writeHead(status, headers);
  let written = 0;
  let left = Math.max(0, body.bytes - head.length - tail.length);
  return new Promise((resolve) => {
    let closed = false;
    res.on('close', () => {
      closed = true;
      resolve(written);
    });
    const write = (buffer: Buffer) => {
      written += buffer.length;
      return res.write(buffer);
    };
    const pump = () => {
      while (!closed && left > 0) {
        const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
        left -= piece.length;
        if (!write(piece)) {
          res.once('drain', pump);
          return;
        }
      }
      if (closed) return;
      write(tail);
      res.end(() => resolve(written));
    };
    write(head);
    pump();
  });
}

/**
 * A gzip bomb inflating to `bytes`: `head`, then `filler` (a character), then `tail`, as
 * concatenated gzip members (which gunzip, and HTTP clients undoing Content-Encoding, read as
 * one stream). Each MiB of filler compresses to about 1 KiB: 400 MiB of spaces fit in about
 * 400 KiB, and with a JSON head and tail the whole thing inflates to valid JSON.
 */
export function gzipBomb(body: { head?: string; filler?: string; tail?: string; bytes: number }) {
  const mib = 1024 * 1024;
  const member = gzipSync(Buffer.alloc(mib, body.filler ?? ' '), { level: 9 });
  const parts = [gzipSync(body.head ?? '')];
  const fill = Math.max(
    0,
    body.bytes - Buffer.byteLength(body.head ?? '') - Buffer.byteLength(body.tail ?? ''),
  );
  const whole = Math.floor(fill / mib);
  for (let i = 0; i < whole; i++) parts.push(member);
  const rest = fill - whole * mib;
  if (rest > 0) parts.push(gzipSync(Buffer.alloc(rest, body.filler ?? ' '), { level: 9 }));
  parts.push(gzipSync(body.tail ?? ''));
  return Buffer.concat(parts);
}

/**
 * A gzip member of `bytes` of random data: it hardly compresses, so repeating it makes a valid
 * gzip stream as large compressed as inflated (for a download too large before inflating).
 */
export function incompressibleGzip(bytes: number): Buffer {
  return gzipSync(randomBytes(bytes), { level: 1 });
}
