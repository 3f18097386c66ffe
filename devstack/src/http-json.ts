import type { IncomingMessage, ServerResponse } from 'node:http';

/** What a bounded read answers for a body past its bound (the rest is drained unread). */
export const TOO_LARGE = Symbol('too large');

/** JSON, or undefined when it is not (the caller's schema then says what is missing). */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The request body as text, whole; with `maxBytes`, TOO_LARGE past it. */
export async function readText(req: IncomingMessage): Promise<string>;
export async function readText(
  req: IncomingMessage,
  maxBytes: number,
): Promise<string | typeof TOO_LARGE>;
export async function readText(
  req: IncomingMessage,
  maxBytes = Number.POSITIVE_INFINITY,
): Promise<string | typeof TOO_LARGE> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      req.resume(); // drain the rest unread
      return TOO_LARGE;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The request body as JSON (see parseJson); with `maxBytes`, TOO_LARGE past it. */
export async function readJson(req: IncomingMessage): Promise<unknown>;
export async function readJson(
  req: IncomingMessage,
  maxBytes: number,
): Promise<unknown | typeof TOO_LARGE>;
export async function readJson(
  req: IncomingMessage,
  maxBytes = Number.POSITIVE_INFINITY,
): Promise<unknown | typeof TOO_LARGE> {
  const text = await readText(req, maxBytes);
  return text === TOO_LARGE ? TOO_LARGE : parseJson(text);
}

export function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
