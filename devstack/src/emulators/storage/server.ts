import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { originOf, sendError } from './http.ts';
import { ResumableSessions } from './resumable.ts';
import { route } from './router.ts';
import { Store } from './store.ts';

export interface StorageEmulator {
  host: string;
  port: number;
  /** Value for STORAGE_EMULATOR_HOST; the client needs the scheme, e.g. "http://127.0.0.1:1234". */
  url: string;
  stop(): Promise<void>;
}

export interface StorageOptions {
  host?: string;
  /** 0 or absent picks a free port. */
  port?: number;
}

/** Starts an in-memory stand-in for the Cloud Storage JSON API. */
export async function startStorage(opts: StorageOptions = {}): Promise<StorageEmulator> {
  const host = opts.host ?? '127.0.0.1';
  const store = new Store();
  const sessions = new ResumableSessions();

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const call = { req, res, query: url.searchParams, origin: originOf(req), store, sessions };
    route(call, url.pathname).catch((err: unknown) => sendError(res, err));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });

  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= new Promise<void>((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
      // Clients keep connections alive; without this close() waits for them to time out.
      server.closeAllConnections();
    }));
  return { host, port, url: `http://${urlHost}:${port}`, stop };
}
