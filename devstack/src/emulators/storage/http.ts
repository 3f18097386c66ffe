import type { IncomingMessage, ServerResponse } from 'node:http';
import { badRequest, StorageApiError } from './errors.ts';

// Small request/response helpers shared by the handlers.

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Parses a JSON body; an empty body is `undefined` (resumable starts may send none). */
export function parseJson(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw badRequest('Invalid JSON payload received.');
  }
}

/** The scheme and host the client used, so links and upload session URIs lead back here. */
export function originOf(req: IncomingMessage): string {
  return `http://${req.headers.host ?? 'localhost'}`;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendEmpty(
  res: ServerResponse,
  status: number,
  headers: Record<string, string> = {},
) {
  res.writeHead(status, { 'content-length': 0, ...headers });
  res.end();
}

export function sendError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (err instanceof StorageApiError) {
    if (err.status === 304) sendEmpty(res, 304);
    else sendJson(res, err.status, err.body());
    return;
  }
  const message = err instanceof Error ? err.message : String(err);
  sendJson(res, 500, new StorageApiError(500, 'backendError', message).body());
}

export function intParam(query: URLSearchParams, name: string): number | undefined {
  const raw = query.get(name);
  if (raw === null || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) throw badRequest(`Invalid value for ${name}: ${raw}`);
  return Number(raw);
}
