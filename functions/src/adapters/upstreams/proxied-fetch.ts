import { ProxyAgent, fetch as undiciFetch } from 'undici';
import { upstreamFetch } from './http';
import { readText } from './http-body';
import { quotaError, type UpstreamCall, UpstreamError, upstreamFailure } from './upstream-call';

/**
 * HTTP GETs through an authenticated forward proxy (SmartProxy's residential endpoint), over
 * the shared helper: its timeouts, its bounded retries of 5xx, timeouts and network faults,
 * and its one quota error for 429.
 *
 * What the proxy (or the target behind it) answers maps to:
 * - 407: `UpstreamError` kind 'credentials' (no retry: wrong credentials stay wrong).
 * - 429, from the proxy (rate of the plan) or the target: `QuotaExceededError` with its
 *   Retry-After, so the caller's category cools down.
 * - 403: a block (a target's bot wall, or the proxy refusing: traffic used up): also
 *   `QuotaExceededError` - more calls now would only burn traffic and reputation. With
 *   `quotaOrigins`, only a 403 the proxy itself answered (a refused tunnel) or one answering a
 *   target on those origins (the collected site) is the provider's: a 403 from any other host
 *   is `UpstreamError` 'http', so no host a page links to can cool the provider down.
 * - A body past the call's cap (`maxBodyBytes`, after Content-Encoding is undone): aborted,
 *   `UpstreamError` 'oversized'.
 * - 5xx (502 from the proxy included): retried by the helper, then `UpstreamError` 'http'.
 * - Anything else is returned: `{ status, text, bytes }`, for the caller to judge (404...).
 *
 * http targets go to the proxy in absolute form (`GET http://host/path`), so the proxy's own
 * answers arrive with their headers (Retry-After). https targets, or `tunnel: true`, go
 * through a CONNECT tunnel; a refused CONNECT surfaces in undici as an error naming the
 * status only, which is turned back into that status here (without Retry-After).
 *
 * `bytes` meters proxy traffic: the request line and the headers Tollgate sends plus the
 * response's status line, headers and body (compressed size when the body was compressed
 * and its length is known), summed over every attempt. Against the sandbox proxy's exact count
 * it is within a few percent (tunnels: the CONNECT handshake is not counted by either side).
 */

export type ProxyFetch = (
  input: string | URL,
  init: RequestInit & { dispatcher?: unknown },
) => Promise<Response>;

export interface ProxiedHttpClientOptions {
  /** `http://host:port` of the proxy; credentials in it are ignored in favour of the options. */
  proxyUrl: string;
  username: string;
  password: string;
  /** Names the provider in errors, metrics and cooldowns. */
  provider?: string;
  /** undici's fetch by default (the one that matches undici's ProxyAgent). */
  fetch?: ProxyFetch;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  timeoutMs?: number;
  retries?: number;
  baseDelayMs?: number;
  /** CONNECT tunnels for http targets too (https targets always tunnel). Default false. */
  tunnel?: boolean;
  /** Sent with every request. */
  headers?: Record<string, string>;
  /**
   * Origins (`http://host:port`) whose 403 blocks the provider; absent: every target's. The
   * proxy's own refusals count whatever the target.
   */
  quotaOrigins?: readonly string[];
  /** The largest body a get reads unless it names its own cap (DEFAULT_MAX_BODY_BYTES). */
  maxBodyBytes?: number;
}

export interface ProxiedGetOptions {
  /** This get's cap on the body, in bytes after Content-Encoding is undone. */
  maxBodyBytes?: number;
}

export interface ProxiedResponse {
  status: number;
  text: string;
  /** Traffic of this get through the proxy, request and response, every attempt. */
  bytes: number;
  /** Requests that went to the proxy (1 unless retried). */
  requests: number;
  contentType: string | null;
}

export const SMARTPROXY = 'smartproxy';
/** The status text of a response standing for a refused CONNECT: the proxy's own answer. */
const REFUSED_BY_PROXY = 'Refused by the proxy';

const DEFAULT_HEADERS: Record<string, string> = {
  'user-agent': 'Mozilla/5.0 (compatible; Tollgate/0.1; +https://github.com/tollgate)',
  accept: 'text/html,text/csv;q=0.9,*/*;q=0.8',
  // Explicit, so that undici does not add its own and the traffic estimate includes them.
  'accept-language': 'en-ZA,en;q=0.9',
  'accept-encoding': 'gzip, deflate',
};

/** Headers undici's fetch adds to every request, counted in the traffic estimate. */
const ADDED_BY_FETCH: [string, string][] = [
  ['connection', 'keep-alive'],
  ['sec-fetch-mode', 'cors'],
];

/** The status a refused proxy connection carried, found in undici's error chain. */
export function proxyRefusalStatus(error: unknown): number | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const message = current.message;
    const tunnel = /Proxy response \((\d{3})\) !== 200/.exec(message);
    if (tunnel) return Number(tunnel[1]);
    if (/Proxy Authentication Required \(407\)/.test(message)) return 407;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function headBytes(firstLine: string, headers: Iterable<[string, string]>): number {
  let bytes = Buffer.byteLength(`${firstLine}\r\n\r\n`);
  for (const [name, value] of headers) bytes += Buffer.byteLength(`${name}: ${value}\r\n`);
  return bytes;
}

export class ProxiedHttpClient {
  readonly provider: string;
  private readonly dispatcher: ProxyAgent;
  private readonly baseFetch: ProxyFetch;
  private readonly proxyAuthorization: string;
  private readonly headers: Record<string, string>;
  private readonly quotaOrigins: ReadonlySet<string> | undefined;

  constructor(private readonly options: ProxiedHttpClientOptions) {
    this.provider = options.provider ?? SMARTPROXY;
    const proxy = new URL(options.proxyUrl);
    proxy.username = '';
    proxy.password = '';
    this.proxyAuthorization = `Basic ${Buffer.from(
      `${options.username}:${options.password}`,
    ).toString('base64')}`;
    this.dispatcher = new ProxyAgent({
      uri: proxy.toString(),
      token: this.proxyAuthorization,
      proxyTunnel: options.tunnel ?? false,
    });
    this.baseFetch = options.fetch ?? (undiciFetch as unknown as ProxyFetch);
    this.headers = { ...DEFAULT_HEADERS, ...options.headers };
    this.quotaOrigins = options.quotaOrigins
      ? new Set(options.quotaOrigins.map((origin) => new URL(origin).origin))
      : undefined;
  }

  /** GET `url` through the proxy; `operation` names the call in errors, metrics and cooldowns. */
  async get(
    url: string,
    operation: string,
    getOptions: ProxiedGetOptions = {},
  ): Promise<ProxiedResponse> {
    const target = new URL(url);
    let bytes = 0;
    let requests = 0;
    const tunnelled = this.options.tunnel === true || target.protocol === 'https:';
    const sent: [string, string][] = [
      ['host', target.host],
      ...(tunnelled ? [] : [['proxy-authorization', this.proxyAuthorization] as [string, string]]),
      ...Object.entries(this.headers),
      ...ADDED_BY_FETCH,
    ];
    const requestLine = tunnelled
      ? `GET ${target.pathname}${target.search} HTTP/1.1`
      : `GET ${target.toString()} HTTP/1.1`;
    const metered: typeof fetch = async (input, init) => {
      requests++;
      bytes += headBytes(requestLine, sent);
      const response = await this.throughProxy(input as string | URL, init ?? {});
      bytes += headBytes(`HTTP/1.1 ${response.status} ${response.statusText}`, response.headers);
      // The helper discards these bodies unread; they crossed the proxy all the same.
      if (response.status >= 500 || response.status === 429) {
        bytes += Number(response.headers.get('content-length')) || 0;
      }
      return response;
    };
    const call: UpstreamCall = {
      provider: this.provider,
      operation,
      timeoutMs: this.options.timeoutMs,
      retries: this.options.retries,
      baseDelayMs: this.options.baseDelayMs,
      sleep: this.options.sleep,
      random: this.options.random,
      now: this.options.now,
      fetch: metered,
      maxBodyBytes: getOptions.maxBodyBytes ?? this.options.maxBodyBytes,
    };
    const response = await upstreamFetch(
      target,
      { method: 'GET', headers: this.headers, dispatcher: this.dispatcher },
      call,
    );
    if (response.status === 407) {
      await response.body?.cancel();
      throw upstreamFailure(
        new UpstreamError(
          this.provider,
          operation,
          'credentials',
          'the proxy refused the credentials (407)',
          407,
        ),
      );
    }
    if (response.status === 403) {
      const byProxy = response.statusText === REFUSED_BY_PROXY;
      if (byProxy || !this.quotaOrigins || this.quotaOrigins.has(target.origin)) {
        throw await quotaError(
          response,
          this.provider,
          operation,
          (this.options.now ?? Date.now)(),
          `${this.provider} blocked on ${operation} (403 from the proxy or the target)`,
        );
      }
      await response.body?.cancel();
      throw upstreamFailure(
        new UpstreamError(
          this.provider,
          operation,
          'http',
          `403 from ${target.origin}, not a site this provider collects: not a quota error`,
          403,
        ),
      );
    }
    const text = await readText(response, call);
    const length = Number(response.headers.get('content-length'));
    bytes +=
      response.headers.has('content-encoding') && length > 0 ? length : Buffer.byteLength(text);
    return {
      status: response.status,
      text,
      bytes,
      requests,
      contentType: response.headers.get('content-type'),
    };
  }

  /** Closes the proxy connections. */
  close(): Promise<void> {
    return this.dispatcher.close();
  }

  /**
   * The fetch the helper calls: through the proxy, with a refused connection (which undici
   * reports as an error) turned into a response of the status the proxy answered, so the
   * helper and `get` treat it like any other answer.
   */
  private async throughProxy(input: string | URL, init: RequestInit): Promise<Response> {
    try {
      return await this.baseFetch(input, { ...init, dispatcher: this.dispatcher });
    } catch (error) {
      const status = proxyRefusalStatus(error);
      if (status === undefined || status < 200 || status > 599) throw error;
      return new Response(null, { status, statusText: REFUSED_BY_PROXY });
    }
  }
}
