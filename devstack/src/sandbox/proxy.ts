import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { closeServer, FAR_RETRY_AFTER, listenLocal, realSleep } from './shared.ts';

/**
 * A sandbox of SmartProxy's residential endpoint: an authenticated HTTP forward proxy.
 *
 * - Plain-HTTP requests in absolute form (`GET http://127.0.0.1:8080/path HTTP/1.1`) are
 *   forwarded; `CONNECT host:port` opens a raw tunnel (what clients use for https targets, and
 *   what undici's ProxyAgent uses by default for every target).
 * - `Proxy-Authorization: Basic` must name a configured user; otherwise 407 with
 *   `Proxy-Authenticate: Basic realm="..."`.
 * - Per user: requests per second (a fixed one-second window on the injected clock; over it:
 *   429 with `Retry-After`) and traffic per calendar month (UTC; exhausted: 403 with a body
 *   saying the traffic limit is reached). A CONNECT tunnel counts as one request.
 * - Only loopback targets are forwarded (127.0.0.0/8, ::1, localhost); anything else: 403.
 * - Traffic relayed is counted per user: for forwarded requests the request head as received
 *   (request line and raw headers) plus its body, and the response head as sent plus its body;
 *   for tunnels every byte in both directions.
 * - Misbehaviour for tests and demos: '429' (every request, with Retry-After), '5xx' (502 from
 *   the proxy), 'slow' (answers after `slowMs`), 'block' (403 as a target's bot wall would;
 *   a CONNECT is refused with 403), 'far-retry-after' (every request 429 with
 *   `Retry-After: farRetryAfter`, 9999999999 seconds by default: the year 2343).
 *
 * Where each rule comes from (issue 16: what is documented, what is assumed):
 * - Forward proxy, absolute-form requests and CONNECT tunnels: RFC 9110 §9.3.6 and §7.1 and
 *   RFC 9112 §3.2.2; SmartProxy's residential endpoint is such a proxy with user:pass
 *   authorization (smartproxy.com/faq/billing, "Proxy authentication: proxy user (user:pass)
 *   authorization or IP based whitelisting").
 * - 407 with `Proxy-Authenticate: Basic`: RFC 9110 §11.7.1 and §15.5.8 (the status every
 *   proxy answers to missing or wrong credentials). The realm's text is assumed.
 * - Traffic counted per user, request head and body plus response head and body, both
 *   directions of a tunnel, and not the proxy's own refusals or 502s: SmartProxy's "Traffic
 *   usage" (help.smartproxy.com/docs/traffic-usage: "Request data, including all headers...",
 *   "every byte received from the target website", "Not included: Requests that end up with
 *   502 or Connection Error returned from our service"). Deviation: that page also counts a
 *   target's non-200 bodies (a 403 bot wall); the 'block' mode answers at the proxy and counts
 *   nothing.
 * - Traffic allowance per month: SmartProxy's plans are traffic (GB) per monthly billing cycle,
 *   reset at the cycle's start (smartproxy.com/questions/how-does-the-monthly-subscription-model-work).
 *   Assumed: the cycle is the calendar month (UTC) here, not the month from the first payment,
 *   and an exhausted allowance answers 403 with a body saying so (the real answer's status and
 *   body are not documented).
 * - Requests per second per user and the 429 with Retry-After: assumed. SmartProxy documents
 *   no request rate ("You can use an unlimited number of connections, threads", same page);
 *   the limit stands for what a pool or a target enforces, so the gate's window limits are
 *   exercised.
 * - Only loopback targets: a rule of this sandbox (the machines have no network), not
 *   SmartProxy's.
 */

export type ProxyMisbehaviour = 'none' | '429' | '5xx' | 'slow' | 'block' | 'far-retry-after';

export interface ProxyUser {
  username: string;
  password: string;
  /** Requests (forwarded requests and tunnels) per second; unlimited when absent. */
  requestsPerSecond?: number;
  /** Traffic allowance per calendar month (UTC), in bytes; unlimited when absent. */
  monthlyTrafficBytes?: number;
}

export interface ProxySandboxOptions {
  port?: number;
  /** One sandbox user (`PROXY_SANDBOX_USER`/`PROXY_SANDBOX_PASSWORD`, 10 rps) by default. */
  users?: ProxyUser[];
  realm?: string;
  /** Injected clock (ms) for the rate window and the traffic month. */
  now?: () => number;
  /** Retry-After of the '429' misbehaviour (30 s by default). */
  retryAfterSeconds?: number;
  /** The Retry-After of 'far-retry-after', as sent ('9999999999' by default). */
  farRetryAfter?: string;
  /** Delay used by the 'slow' mode (3000 ms by default). */
  slowMs?: number;
  /** Injected sleep for the 'slow' mode (a real timer by default). */
  sleep?: (ms: number) => Promise<void>;
}

export interface ProxyUserUsage {
  /** Requests forwarded and tunnels opened. */
  requests: number;
  tunnels: number;
  /** Requests of this user refused (rate, traffic, target, misbehaviour). */
  rejected: number;
  /** Bytes relayed since start. */
  bytes: number;
  /** Bytes relayed in the current month, what the traffic allowance is checked against. */
  monthBytes: number;
}

export interface ProxySandboxState {
  mode: ProxyMisbehaviour;
  /** Every request and CONNECT the proxy received. */
  received: number;
  /** Answered 407. */
  authFailures: number;
  /** Answered 429 because a user went over its rate. */
  rateLimited: number;
  /** Answered 403 because a user's monthly traffic is used up. */
  trafficExhausted: number;
  /** Answered 403 because the target is not a loopback address. */
  refusedTargets: number;
  /** Answered 502 because the target could not be reached. */
  badGateway: number;
  users: Record<string, ProxyUserUsage>;
}

export interface ProxySandbox {
  /** The proxy's URL, without credentials. */
  url: string;
  port: number;
  /** `http://user:password@host:port` for a configured user. */
  urlFor(username: string): string;
  stop(): Promise<void>;
  state(): ProxySandboxState;
  misbehave(mode: ProxyMisbehaviour): void;
}

export const PROXY_SANDBOX_USER = 'sandbox-user';
export const PROXY_SANDBOX_PASSWORD = 'sandbox-pass';
export const TRAFFIC_LIMIT_MESSAGE = 'Traffic limit reached for this billing period';

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

const BOT_WALL =
  '<!doctype html><html><head><title>Access denied</title></head><body>' +
  '<h1>Access denied</h1><p>Please verify you are a human to continue.</p></body></html>';

/** 127.0.0.0/8, ::1 and localhost: the only targets a sandbox may reach. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare.toLowerCase() === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || bare === '0:0:0:0:0:0:0:1';
  return false;
}

/** `host:port` of a CONNECT request line; undefined when it is not one. */
function parseAuthority(authority: string): { host: string; port: number } | undefined {
  const match = /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(authority);
  if (!match) return undefined;
  const port = Number(match[2]);
  return port > 0 && port < 65_536 ? { host: match[1]!, port } : undefined;
}

function monthOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 7);
}

interface Refusal {
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

function refusal(status: number, body: string, headers: Record<string, string> = {}): Refusal {
  return { status, reason: REASONS[status] ?? 'Error', headers, body };
}

class UserAccount {
  readonly usage: ProxyUserUsage = {
    requests: 0,
    tunnels: 0,
    rejected: 0,
    bytes: 0,
    monthBytes: 0,
  };
  #second = Number.NEGATIVE_INFINITY;
  #inSecond = 0;
  #month = '';

  constructor(
    readonly user: ProxyUser,
    private readonly now: () => number,
  ) {}

  /** Rolls the month over; the usage of a past month no longer counts. */
  private roll(): void {
    const month = monthOf(this.now());
    if (month !== this.#month) {
      this.#month = month;
      this.usage.monthBytes = 0;
    }
  }

  /** Admits one request or says why not; an admitted request counts against the rate. */
  admit(): Refusal | undefined {
    this.roll();
    const limit = this.user.monthlyTrafficBytes;
    if (limit !== undefined && this.usage.monthBytes >= limit) {
      return refusal(403, `${TRAFFIC_LIMIT_MESSAGE}: ${limit} bytes per month.\n`);
    }
    const t = this.now();
    const second = Math.floor(t / 1000);
    if (second !== this.#second) {
      this.#second = second;
      this.#inSecond = 0;
    }
    const rps = this.user.requestsPerSecond;
    if (rps !== undefined && this.#inSecond >= rps) {
      const wait = Math.max(1, Math.ceil(((second + 1) * 1000 - t) / 1000));
      return refusal(429, `Rate limit of ${rps} requests per second exceeded.\n`, {
        'retry-after': String(wait),
      });
    }
    this.#inSecond++;
    this.usage.requests++;
    return undefined;
  }

  count(bytes: number): void {
    this.roll();
    this.usage.bytes += bytes;
    this.usage.monthBytes += bytes;
  }
}

export async function startProxySandbox(opts: ProxySandboxOptions = {}): Promise<ProxySandbox> {
  const now = opts.now ?? Date.now;
  const realm = opts.realm ?? 'SmartProxy sandbox';
  const retryAfter = opts.retryAfterSeconds ?? 30;
  const slowMs = opts.slowMs ?? 3_000;
  const sleep = opts.sleep ?? realSleep;
  const users = opts.users ?? [
    { username: PROXY_SANDBOX_USER, password: PROXY_SANDBOX_PASSWORD, requestsPerSecond: 10 },
  ];
  const accounts = new Map(users.map((u) => [u.username, new UserAccount(u, now)]));
  let mode: ProxyMisbehaviour = 'none';
  const counters = {
    received: 0,
    authFailures: 0,
    rateLimited: 0,
    trafficExhausted: 0,
    refusedTargets: 0,
    badGateway: 0,
  };
  const upstreamAgent = new Agent({ keepAlive: false });
  const tunnels = new Set<Socket | Duplex>();

  const authenticate = (header: string | undefined): UserAccount | undefined => {
    const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
    if (!match) return undefined;
    const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const account = accounts.get(decoded.slice(0, colon));
    return account && account.user.password === decoded.slice(colon + 1) ? account : undefined;
  };

  /**
   * Everything a request must pass before it is relayed, in a real proxy's order:
   * credentials, the proxy's own faults, the target, then the user's quotas.
   */
  const gate = async (
    header: string | undefined,
    host: string | undefined,
  ): Promise<{ account: UserAccount } | { refused: Refusal }> => {
    const account = authenticate(header);
    if (!account) {
      counters.authFailures++;
      return {
        refused: refusal(407, 'Proxy authentication required.\n', {
          'proxy-authenticate': `Basic realm="${realm}"`,
        }),
      };
    }
    const reject = (r: Refusal) => {
      account.usage.rejected++;
      return { refused: r };
    };
    if (mode === '429' || mode === 'far-retry-after') {
      const value = mode === '429' ? String(retryAfter) : (opts.farRetryAfter ?? FAR_RETRY_AFTER);
      return reject(refusal(429, 'Too many requests.\n', { 'retry-after': value }));
    }
    if (mode === '5xx') return reject(refusal(502, 'Proxy error: upstream pool unavailable.\n'));
    if (mode === 'block') return reject(refusal(403, BOT_WALL, { 'content-type': 'text/html' }));
    if (mode === 'slow') await sleep(slowMs);
    if (host === undefined) return reject(refusal(400, 'Malformed target.\n'));
    if (!isLoopbackHost(host)) {
      counters.refusedTargets++;
      return reject(refusal(403, `Target ${host} is not allowed by this sandbox.\n`));
    }
    const over = account.admit();
    if (over) {
      if (over.status === 429) counters.rateLimited++;
      else counters.trafficExhausted++;
      return reject(over);
    }
    return { account };
  };

  const replyHttp = (res: ServerResponse, r: Refusal) => {
    res.writeHead(r.status, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(r.body),
      ...r.headers,
    });
    res.end(r.body);
  };

  const replyRaw = (socket: Duplex, r: Refusal) => {
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

  const server = createServer((req, res) => {
    forward(req, res).catch(() => res.destroy());
  });
  server.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    tunnel(req, socket, head).catch(() => socket.destroy());
  });

  const port = await listenLocal(server, opts.port);
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    port,
    urlFor: (username) => {
      const account = accounts.get(username);
      if (!account) throw new Error(`no proxy user ${username}`);
      const u = new URL(url);
      u.username = encodeURIComponent(username);
      u.password = encodeURIComponent(account.user.password);
      return u.toString().replace(/\/$/, '');
    },
    misbehave: (m) => {
      mode = m;
    },
    state: () => ({
      mode,
      ...counters,
      users: Object.fromEntries(
        [...accounts].map(([name, account]) => {
          account.count(0); // rolls the month over
          return [name, { ...account.usage }];
        }),
      ),
    }),
    stop: () => {
      for (const socket of tunnels) socket.destroy();
      upstreamAgent.destroy();
      return closeServer(server);
    },
  };
}
