import { Agent, createServer, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { UserAccount } from './proxy-account.ts';
import { BOT_WALL, type Refusal, refusal } from './proxy-refusals.ts';
import { proxyRelay } from './proxy-relay.ts';
import { isLoopbackHost } from './proxy-targets.ts';
import {
  PROXY_SANDBOX_PASSWORD,
  PROXY_SANDBOX_USER,
  type ProxyMisbehaviour,
  type ProxySandbox,
  type ProxySandboxOptions,
} from './proxy-types.ts';
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

// Its parts, one module each: the types (proxy-types.ts), the targets (proxy-targets.ts), the
// refusals (proxy-refusals.ts), the user accounts (proxy-account.ts) and the relay
// (proxy-relay.ts).

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

  const { forward, tunnel } = proxyRelay({ gate, counters, upstreamAgent, tunnels });

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
