import {
  type Agent,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { UserAccount } from './proxy-account.ts';
import { type Refusal, refusal, replyHttp, replyRaw } from './proxy-refusals.ts';
import { parseAuthority } from './proxy-targets.ts';

/**
 * Relaying what the gate admits: forwarding an absolute-form request, or tunnelling a CONNECT,
 * and counting the traffic each relays to its user.
 */

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** What a request must pass before it is relayed: its user's account, or the refusal. */
export type ProxyGate = (
  header: string | undefined,
  host: string | undefined,
) => Promise<{ account: UserAccount } | { refused: Refusal }>;

export interface ProxyRelayOptions {
  gate: ProxyGate;
  /** The proxy's counters the relay adds to. */
  counters: { received: number; badGateway: number };
  /** Forwarded requests go out through it. */
  upstreamAgent: Agent;
  /** Every open tunnel's sockets, so a stop can end them. */
  tunnels: Set<Socket | Duplex>;
}

/** `forward` answers a request in absolute form, `tunnel` a CONNECT. */
export function proxyRelay({ gate, counters, upstreamAgent, tunnels }: ProxyRelayOptions) {
  const forward = async (req: IncomingMessage, res: ServerResponse) => {
    counters.received++;
    let target: URL | undefined;
    try {
      target = new URL(req.url ?? '');
    } catch {
      target = undefined;
    }
    if (!target || !/^https?:$/.test(target.protocol) || !/^https?:\/\//i.test(req.url ?? '')) {
      replyHttp(
        res,
        refusal(400, 'This is a forward proxy: send absolute-form requests or CONNECT.\n'),
      );
      return;
    }
    if (target.protocol === 'https:') {
      replyHttp(res, refusal(400, 'Use CONNECT for https targets.\n'));
      return;
    }
    const verdict = await gate(req.headers['proxy-authorization'], target.hostname);
    if ('refused' in verdict) {
      replyHttp(res, verdict.refused);
      return;
    }
    const { account } = verdict;
    let relayed = Buffer.byteLength(`${req.method} ${req.url} HTTP/${req.httpVersion}\r\n\r\n`);
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      relayed += Buffer.byteLength(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`);
    }
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    }
    headers.host = target.host;
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      account.count(relayed);
    };
    const upstream = httpRequest(
      {
        host: target.hostname.replace(/^\[|\]$/g, ''),
        port: target.port || 80,
        method: req.method,
        path: `${target.pathname}${target.search}`,
        headers,
        agent: upstreamAgent,
      },
      (answer) => {
        const out: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(answer.headers)) {
          if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
        }
        const status = answer.statusCode ?? 502;
        relayed += Buffer.byteLength(`HTTP/1.1 ${status} ${answer.statusMessage ?? ''}\r\n\r\n`);
        for (const [name, value] of Object.entries(out)) {
          for (const v of Array.isArray(value) ? value : [value]) {
            relayed += Buffer.byteLength(`${name}: ${v}\r\n`);
          }
        }
        res.writeHead(status, answer.statusMessage, out);
        answer.on('data', (chunk: Buffer) => {
          relayed += chunk.length;
        });
        answer.on('end', settle);
        answer.on('error', () => {
          settle();
          res.destroy();
        });
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      settle();
      if (res.headersSent) {
        res.destroy();
        return;
      }
      counters.badGateway++;
      replyHttp(res, refusal(502, `Could not reach ${target.host}.\n`));
    });
    req.on('data', (chunk: Buffer) => {
      relayed += chunk.length;
    });
    req.pipe(upstream);
  };

  const tunnel = async (req: IncomingMessage, client: Duplex, head: Buffer) => {
    counters.received++;
    tunnels.add(client);
    client.on('close', () => tunnels.delete(client));
    client.on('error', () => client.destroy());
    const authority = parseAuthority(req.url ?? '');
    const verdict = await gate(req.headers['proxy-authorization'], authority?.host);
    if ('refused' in verdict) {
      replyRaw(client, verdict.refused);
      return;
    }
    const { account } = verdict;
    account.usage.tunnels++;
    const { host, port } = authority!;
    const upstream = netConnect({ host: host.replace(/^\[|\]$/g, ''), port });
    tunnels.add(upstream);
    upstream.on('close', () => tunnels.delete(upstream));
    let opened = false;
    upstream.once('connect', () => {
      opened = true;
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) {
        account.count(head.length);
        upstream.write(head);
      }
      client.on('data', (chunk: Buffer) => account.count(chunk.length));
      upstream.on('data', (chunk: Buffer) => account.count(chunk.length));
      client.pipe(upstream);
      upstream.pipe(client);
    });
    upstream.on('error', () => {
      if (opened) {
        client.destroy();
        return;
      }
      counters.badGateway++;
      replyRaw(client, refusal(502, `Could not reach ${host}:${port}.\n`));
    });
    client.on('close', () => upstream.destroy());
  };

  return { forward, tunnel };
}
