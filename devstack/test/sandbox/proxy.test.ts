import { createServer, type IncomingHttpHeaders, request, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startProxySandbox } from '../../src/sandbox/proxy.ts';
import { isLoopbackHost } from '../../src/sandbox/proxy-targets.ts';
import {
  PROXY_SANDBOX_PASSWORD,
  PROXY_SANDBOX_USER,
  type ProxySandbox,
  type ProxySandboxOptions,
  TRAFFIC_LIMIT_MESSAGE,
} from '../../src/sandbox/proxy-types.ts';

let proxy: ProxySandbox | undefined;
let target: Server;
let targetPort: number;
const seenByTarget: { url: string; headers: IncomingHttpHeaders }[] = [];
let t = 0;

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const AUTH = basic(PROXY_SANDBOX_USER, PROXY_SANDBOX_PASSWORD);

beforeEach(async () => {
  seenByTarget.length = 0;
  target = createServer((req, res) => {
    seenByTarget.push({ url: req.url ?? '', headers: req.headers });
    const size = /^\/size\/(\d+)$/.exec(req.url ?? '');
    const body = size ? 'x'.repeat(Number(size[1])) : 'hello from the target';
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  targetPort = (target.address() as AddressInfo).port;
});

afterEach(async () => {
  await proxy?.stop();
  proxy = undefined;
  target.closeAllConnections();
  await new Promise<void>((resolve) => target.close(() => resolve()));
});

async function start(o: ProxySandboxOptions = {}) {
  t = Date.UTC(2026, 0, 31, 23, 59, 58, 250);
  proxy = await startProxySandbox({ now: () => t, ...o });
  return proxy;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** A plain-HTTP request in absolute form, as a client configured with the proxy sends it. */
function viaProxy(url: string, auth: string | null = AUTH): Promise<Answer> {
  const headers: Record<string, string> = URL.canParse(url) ? { host: new URL(url).host } : {};
  if (auth) headers['proxy-authorization'] = auth;
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: proxy!.port, method: 'GET', path: url, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Opens a CONNECT tunnel; on 200 sends one raw request through it and reads the answer. */
function tunnel(
  authority: string,
  auth: string | null = AUTH,
  path = '/',
): Promise<Answer & { raw?: string; sent?: number }> {
  const headers: Record<string, string> = { host: authority };
  if (auth) headers['proxy-authorization'] = auth;
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port: proxy!.port,
      method: 'CONNECT',
      path: authority,
      headers,
      agent: false,
    });
    req.on('connect', (res, socket: Socket, head: Buffer) => {
      const status = res.statusCode ?? 0;
      if (status !== 200) {
        const chunks: Buffer[] = [head];
        res.on('data', (c: Buffer) => chunks.push(c));
        const done = () => {
          socket.destroy();
          resolve({ status, headers: res.headers, text: Buffer.concat(chunks).toString() });
        };
        res.on('end', done);
        socket.on('close', done);
        socket.on('data', (c: Buffer) => chunks.push(c));
        return;
      }
      const message = `GET ${path} HTTP/1.1\r\nHost: ${authority}\r\nConnection: close\r\n\r\n`;
      const chunks: Buffer[] = [head];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('end', () => {
        const raw = Buffer.concat(chunks).toString();
        resolve({
          status,
          headers: res.headers,
          text: raw.slice(raw.indexOf('\r\n\r\n') + 4),
          raw,
          sent: Buffer.byteLength(message),
        });
      });
      socket.write(message);
    });
    req.on('error', reject);
    req.end();
  });
}

const targetUrl = (path = '/hello') => `http://127.0.0.1:${targetPort}${path}`;
const authority = () => `127.0.0.1:${targetPort}`;

describe('proxy sandbox', () => {
  it('answers 407 with a Basic challenge for missing, wrong or unknown credentials', async () => {
    await start({ realm: 'residential' });
    for (const auth of [
      null,
      basic(PROXY_SANDBOX_USER, 'wrong'),
      basic('nobody', PROXY_SANDBOX_PASSWORD),
      'Bearer abc',
    ]) {
      const r = await viaProxy(targetUrl(), auth);
      expect(r.status).toBe(407);
      expect(r.headers['proxy-authenticate']).toBe('Basic realm="residential"');
    }
    const c = await tunnel(authority(), basic(PROXY_SANDBOX_USER, 'wrong'));
    expect(c.status).toBe(407);
    expect(c.headers['proxy-authenticate']).toBe('Basic realm="residential"');
    expect(seenByTarget).toHaveLength(0);
    expect(proxy!.state()).toMatchObject({ received: 5, authFailures: 5 });
    expect(proxy!.state().users[PROXY_SANDBOX_USER]).toMatchObject({ requests: 0, bytes: 0 });
  });

  it('forwards absolute-form requests without the proxy credentials and counts the traffic', async () => {
    await start();
    const r = await viaProxy(targetUrl('/size/10000'));
    expect(r.status).toBe(200);
    expect(r.text).toBe('x'.repeat(10_000));
    expect(seenByTarget).toHaveLength(1);
    expect(seenByTarget[0]!.url).toBe('/size/10000');
    expect(seenByTarget[0]!.headers.host).toBe(authority());
    expect(seenByTarget[0]!.headers['proxy-authorization']).toBeUndefined();

    const first = proxy!.state().users[PROXY_SANDBOX_USER]!;
    expect(first.requests).toBe(1);
    // The body plus two heads of a few hundred bytes.
    expect(first.bytes).toBeGreaterThan(10_000);
    expect(first.bytes).toBeLessThan(10_600);
    await viaProxy(targetUrl('/size/20000'));
    const second = proxy!.state().users[PROXY_SANDBOX_USER]!;
    // 10,000 more body bytes; the heads differ only by the path and content-length digits.
    expect(second.bytes - first.bytes).toBe(first.bytes + 10_000);
    expect(second).toMatchObject({ requests: 2, tunnels: 0, monthBytes: second.bytes });
  });

  it('tunnels CONNECT and counts every byte in both directions', async () => {
    await start();
    const r = await tunnel(authority(), AUTH, '/size/5000');
    expect(r.status).toBe(200);
    expect(r.text).toBe('x'.repeat(5000));
    expect(seenByTarget[0]!.url).toBe('/size/5000');
    const usage = proxy!.state().users[PROXY_SANDBOX_USER]!;
    expect(usage).toMatchObject({ requests: 1, tunnels: 1 });
    expect(usage.bytes).toBe(r.sent! + Buffer.byteLength(r.raw!));
  });

  it('limits requests per second per user with 429 and Retry-After, on the injected clock', async () => {
    await start({
      users: [
        { username: 'a', password: 'pa', requestsPerSecond: 2 },
        { username: 'b', password: 'pb', requestsPerSecond: 1 },
      ],
    });
    t = Date.UTC(2026, 0, 10, 12, 0, 0, 100);
    const a = basic('a', 'pa');
    expect((await viaProxy(targetUrl(), a)).status).toBe(200);
    expect((await tunnel(authority(), a)).status).toBe(200);
    const over = await viaProxy(targetUrl(), a);
    expect(over.status).toBe(429);
    expect(over.headers['retry-after']).toBe('1');
    expect((await tunnel(authority(), a)).status).toBe(429);
    // Another user has its own window.
    expect((await viaProxy(targetUrl(), basic('b', 'pb'))).status).toBe(200);
    t += 899; // still the same second
    expect((await viaProxy(targetUrl(), a)).status).toBe(429);
    t += 1; // the next second
    expect((await viaProxy(targetUrl(), a)).status).toBe(200);
    const state = proxy!.state();
    expect(state.rateLimited).toBe(3);
    expect(state.users.a).toMatchObject({ requests: 3, tunnels: 1, rejected: 3 });
    expect(state.users.b).toMatchObject({ requests: 1, rejected: 0 });
    expect(seenByTarget).toHaveLength(4);
  });

  it('refuses with 403 once the monthly traffic is used up, until the month turns', async () => {
    await start({ users: [{ username: 'u', password: 'p', monthlyTrafficBytes: 5_000 }] });
    const auth = basic('u', 'p');
    // Admitted while under the allowance, even if this request takes it over.
    expect((await viaProxy(targetUrl('/size/4000'), auth)).status).toBe(200);
    expect((await viaProxy(targetUrl('/size/4000'), auth)).status).toBe(200);
    const used = proxy!.state().users.u!;
    expect(used.monthBytes).toBeGreaterThan(5_000);
    const refused = await viaProxy(targetUrl('/size/10'), auth);
    expect(refused.status).toBe(403);
    expect(refused.text).toContain(TRAFFIC_LIMIT_MESSAGE);
    expect((await tunnel(authority(), auth)).status).toBe(403);
    expect(proxy!.state()).toMatchObject({ trafficExhausted: 2 });
    expect(seenByTarget).toHaveLength(2);

    t += 2_000; // 2026-02-01: a new month
    expect((await viaProxy(targetUrl('/size/10'), auth)).status).toBe(200);
    const after = proxy!.state().users.u!;
    expect(after.bytes).toBeGreaterThan(used.bytes);
    expect(after.monthBytes).toBe(after.bytes - used.bytes);
  });

  it('forwards only to loopback targets', async () => {
    await start();
    for (const url of ['http://example.invalid/', 'http://10.0.0.1/', 'http://[fe80::1]/']) {
      const r = await viaProxy(url);
      expect(r.status).toBe(403);
    }
    expect((await tunnel('example.invalid:443')).status).toBe(403);
    expect(proxy!.state().refusedTargets).toBe(4);
    expect(proxy!.state().users[PROXY_SANDBOX_USER]!.requests).toBe(0);
    expect(isLoopbackHost('127.1.2.3')).toBe(true);
    expect(isLoopbackHost('[::1]')).toBe(true);
    expect(isLoopbackHost('localhost')).toBe(true);
    expect(isLoopbackHost('128.0.0.1')).toBe(false);
    expect(isLoopbackHost('localhost.example')).toBe(false);
  });

  it('answers 502 when the target is down and 400 to origin-form requests', async () => {
    await start();
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    expect((await viaProxy(`http://127.0.0.1:${port}/`)).status).toBe(502);
    expect((await tunnel(`127.0.0.1:${port}`)).status).toBe(502);
    expect(proxy!.state().badGateway).toBe(2);
    expect((await viaProxy('/not-absolute')).status).toBe(400);
  });

  it('misbehaves on demand', async () => {
    const slept: number[] = [];
    await start({
      retryAfterSeconds: 42,
      slowMs: 2_500,
      sleep: async (ms) => {
        slept.push(ms);
      },
    });
    proxy!.misbehave('429');
    const r429 = await viaProxy(targetUrl());
    expect(r429.status).toBe(429);
    expect(r429.headers['retry-after']).toBe('42');
    expect((await tunnel(authority())).status).toBe(429);

    proxy!.misbehave('far-retry-after');
    const far = await viaProxy(targetUrl());
    expect(far.status).toBe(429);
    expect(far.headers['retry-after']).toBe('9999999999');

    proxy!.misbehave('5xx');
    expect((await viaProxy(targetUrl())).status).toBe(502);

    proxy!.misbehave('block');
    const blocked = await viaProxy(targetUrl());
    expect(blocked.status).toBe(403);
    expect(blocked.text).toContain('verify you are a human');
    expect((await tunnel(authority())).status).toBe(403);
    expect(seenByTarget).toHaveLength(0);

    // Credentials are still checked first.
    expect((await viaProxy(targetUrl(), null)).status).toBe(407);

    proxy!.misbehave('slow');
    expect((await viaProxy(targetUrl())).status).toBe(200);
    expect(slept).toEqual([2_500]);

    proxy!.misbehave('none');
    expect((await viaProxy(targetUrl())).status).toBe(200);
    expect(proxy!.state()).toMatchObject({ mode: 'none' });
    expect(proxy!.state().users[PROXY_SANDBOX_USER]).toMatchObject({ requests: 2, rejected: 6 });
  });

  it('builds credentialed URLs for its users', async () => {
    await start({ users: [{ username: 'user@x', password: 'p:w' }] });
    const u = new URL(proxy!.urlFor('user@x'));
    expect(decodeURIComponent(u.username)).toBe('user@x');
    expect(decodeURIComponent(u.password)).toBe('p:w');
    expect(() => proxy!.urlFor('nobody')).toThrow();
  });
});
