import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * The proxy's own answers, when it relays nothing: a refusal's status, reason, headers and body,
 * written to an HTTP response or, after a CONNECT, to the raw socket.
 */

export interface Refusal {
  status: number;
  reason: string;
  headers: Record<string, string>;
  body: string;
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  407: 'Proxy Authentication Required',
  429: 'Too Many Requests',
  502: 'Bad Gateway',
};

export function refusal(
  status: number,
  body: string,
  headers: Record<string, string> = {},
): Refusal {
  return { status, reason: REASONS[status] ?? 'Error', headers, body };
}

export const BOT_WALL =
  '<!doctype html><html><head><title>Access denied</title></head><body>' +
  '<h1>Access denied</h1><p>Please verify you are a human to continue.</p></body></html>';

export const replyHttp = (res: ServerResponse, r: Refusal) => {
  res.writeHead(r.status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(r.body),
    ...r.headers,
  });
  res.end(r.body);
};

export const replyRaw = (socket: Duplex, r: Refusal) => {
  const headers = {
    'content-type': 'text/plain; charset=utf-8',
    ...r.headers,
    'content-length': String(Buffer.byteLength(r.body)),
    connection: 'close',
  };
  const head = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 ${r.status} ${r.reason}\r\n${head}\r\n${r.body}`);
};
