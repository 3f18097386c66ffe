import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for a token-bucket API (Keepa-like): an exact continuous token bucket
 * behind `GET /call?cost=N`, so a benchmark can count how much of the bucket a limiter spends
 * and how often it oversteps.
 *
 * - `GET /call?cost=N` (N defaults to 1): 200 `{"tokensLeft":x}` and consumes N tokens, or 429
 *   with `Retry-After` (whole seconds, rounded up), `Retry-After-Ms` and `{"retryAfterMs":x}`.
 *   N above the capacity can never succeed: 400.
 * - `GET /stats`: {@link UpstreamStats}.
 * - `POST /reset` (JSON body or query `capacity`, `refillPerSecond`, `windowLimit`, all
 *   optional): refills the bucket to a new capacity and rate, zeroes the counters and restarts
 *   the clock. `windowLimit` N > 0 adds a fixed window that counts requests from this reset on
 *   (a day window, for runs shorter than a day): once N calls were answered 200, every call is
 *   answered 429 without touching the bucket. 0 removes it; absent keeps the previous one.
 */

/** The most tokens a bucket that starts full can hand out in `durationMs`: C + r * d / 1000. */
export function allowedTokens(
  capacity: number,
  refillPerSecond: number,
  durationMs: number,
): number {
  return capacity + (refillPerSecond * Math.max(0, durationMs)) / 1000;
}

export type TakeResult = { ok: true; tokensLeft: number } | { ok: false; retryAfterMs: number };

/**
 * An exact continuous token bucket. The balance is kept in milli-tokens against a millisecond
 * clock, so with integer rates and an integer-millisecond clock (Date.now) the arithmetic is
 * exact: no float drift lets a call through that the bound forbids.
 */
export class TokenBucket {
  #capacity = 0;
  #refill = 0;
  /** Balance in milli-tokens at #at. */
  #milli = 0;
  #at = 0;
  #startedAt = 0;

  constructor(
    capacity: number,
    refillPerSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.reset(capacity, refillPerSecond);
  }

  get capacity(): number {
    return this.#capacity;
  }

  get refillPerSecond(): number {
    return this.#refill;
  }

  /** When the bucket was last reset (full), on its clock. */
  get startedAt(): number {
    return this.#startedAt;
  }

  /** Full again, with a new capacity and refill rate. */
  reset(capacity = this.#capacity, refillPerSecond = this.#refill): void {
    if (
      !(capacity > 0) ||
      !(refillPerSecond >= 0) ||
      !Number.isFinite(capacity + refillPerSecond)
    ) {
      throw new RangeError(`bad bucket: capacity ${capacity}, refill ${refillPerSecond}/s`);
    }
    this.#capacity = capacity;
    this.#refill = refillPerSecond;
    this.#startedAt = this.#at = this.now();
    this.#milli = capacity * 1000;
  }

  #advance(): number {
    const now = this.now();
    if (now > this.#at) {
      this.#milli = Math.min(this.#capacity * 1000, this.#milli + this.#refill * (now - this.#at));
      this.#at = now;
    }
    return now;
  }

  /** Current balance (tokens, possibly fractional). */
  tokens(): number {
    this.#advance();
    return this.#milli / 1000;
  }

  /** Takes `cost` tokens if the balance covers them; otherwise says how long until it will. */
  take(cost: number): TakeResult {
    this.#advance();
    const need = cost * 1000;
    if (this.#milli >= need) {
      this.#milli -= need;
      return { ok: true, tokensLeft: this.#milli / 1000 };
    }
    const retryAfterMs =
      this.#refill > 0 ? Math.ceil((need - this.#milli) / this.#refill) : Number.POSITIVE_INFINITY;
    return { ok: false, retryAfterMs };
  }

  /** The most tokens this bucket can have handed out since its last reset, `durationMs` later. */
  allowed(durationMs: number): number {
    return allowedTokens(this.#capacity, this.#refill, durationMs);
  }
}

export interface UpstreamStats {
  capacity: number;
  refillPerSecond: number;
  /** Calls answered 200 since the last reset. */
  admitted: number;
  /** Tokens those calls consumed. */
  admittedTokens: number;
  /** Calls answered 429 (by the bucket or by the window). */
  rejected: number;
  /** Of those, calls refused because the window's N requests were used up. */
  rejectedByWindow: number;
  /** The window's N requests since the reset; 0 when there is no window. */
  windowLimit: number;
  /** Milliseconds since the last reset. */
  elapsedMs: number;
  /** allowedTokens(capacity, refill, elapsedMs): admittedTokens never exceeds it. */
  allowed: number;
  tokensLeft: number;
}

export interface StartUpstreamOptions {
  capacity: number;
  refillPerSecond: number;
  host?: string;
  /** 0 or absent: a free port. */
  port?: number;
  /** Injected clock (ms) for the bucket; Date.now by default. */
  now?: () => number;
}

export interface TokenBucketUpstream {
  /** "http://127.0.0.1:1234" */
  url: string;
  host: string;
  port: number;
  bucket: TokenBucket;
  /** The exact bound for a run of `durationMs` that started with a reset: C + r * d / 1000. */
  allowed(durationMs: number): number;
  /** In-process equivalents of `GET /stats` and `POST /reset`. */
  stats(): UpstreamStats;
  reset(opts?: UpstreamShape): void;
  stop(): Promise<void>;
}

export interface UpstreamShape {
  capacity?: number;
  refillPerSecond?: number;
  /** Requests allowed from the reset on (a window); 0: none; absent: unchanged. */
  windowLimit?: number;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

function reply(res: ServerResponse, status: number, body: string, extra?: Record<string, string>) {
  res.writeHead(status, {
    ...JSON_HEADERS,
    'content-length': Buffer.byteLength(body),
    ...extra,
  });
  res.end(body);
}

/** `cost` from "/call?cost=N" without building a URL object (the hot path). */
function parseCost(url: string): number {
  const q = url.indexOf('?');
  if (q < 0) return 1;
  const at = url.indexOf('cost=', q);
  if (at < 0) return 1;
  const end = url.indexOf('&', at);
  return Number(url.slice(at + 5, end < 0 ? undefined : end));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

/** Starts the upstream on loopback (a free port unless told); the bucket starts full now. */
export async function startTokenBucketUpstream(
  opts: StartUpstreamOptions,
): Promise<TokenBucketUpstream> {
  const now = opts.now ?? Date.now;
  const bucket = new TokenBucket(opts.capacity, opts.refillPerSecond, now);
  let admitted = 0;
  let admittedTokens = 0;
  let rejected = 0;
  let rejectedByWindow = 0;
  let windowLimit = 0;

  const stats = (): UpstreamStats => {
    const tokensLeft = bucket.tokens();
    const elapsedMs = now() - bucket.startedAt;
    return {
      capacity: bucket.capacity,
      refillPerSecond: bucket.refillPerSecond,
      admitted,
      admittedTokens,
      rejected,
      rejectedByWindow,
      windowLimit,
      elapsedMs,
      allowed: bucket.allowed(elapsedMs),
      tokensLeft,
    };
  };
  const reset = (o: UpstreamShape = {}) => {
    if (o.windowLimit !== undefined && !(o.windowLimit >= 0)) {
      throw new RangeError(`bad window limit: ${o.windowLimit}`);
    }
    bucket.reset(o.capacity ?? bucket.capacity, o.refillPerSecond ?? bucket.refillPerSecond);
    windowLimit = o.windowLimit ?? windowLimit;
    admitted = admittedTokens = rejected = rejectedByWindow = 0;
  };

  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (req.method === 'GET' && url.startsWith('/call')) {
      const cost = parseCost(url);
      if (!(cost > 0) || cost > bucket.capacity) {
        reply(res, 400, `{"error":"cost must be in (0, ${bucket.capacity}]"}`);
        return;
      }
      if (windowLimit > 0 && admitted >= windowLimit) {
        rejected++;
        rejectedByWindow++;
        const ms = 86_400_000;
        reply(res, 429, `{"error":"window quota exceeded","retryAfterMs":${ms}}`, {
          'retry-after': String(ms / 1000),
          'retry-after-ms': String(ms),
        });
        return;
      }
      const r = bucket.take(cost);
      if (r.ok) {
        admitted++;
        admittedTokens += cost;
        reply(res, 200, `{"tokensLeft":${r.tokensLeft}}`);
      } else {
        rejected++;
        const ms = Number.isFinite(r.retryAfterMs) ? r.retryAfterMs : 86_400_000;
        reply(res, 429, `{"error":"quota exceeded","retryAfterMs":${ms}}`, {
          'retry-after': String(Math.ceil(ms / 1000)),
          'retry-after-ms': String(ms),
        });
      }
      return;
    }
    if (req.method === 'GET' && url.startsWith('/stats')) {
      reply(res, 200, JSON.stringify(stats()));
      return;
    }
    if (req.method === 'POST' && url.startsWith('/reset')) {
      readBody(req).then(
        (raw) => {
          try {
            const query = new URL(url, 'http://x').searchParams;
            const body = raw.trim() ? (JSON.parse(raw) as Record<string, unknown>) : {};
            const num = (k: string) => {
              const v = body[k] ?? query.get(k);
              return v === undefined || v === null ? undefined : Number(v);
            };
            reset({
              capacity: num('capacity'),
              refillPerSecond: num('refillPerSecond'),
              windowLimit: num('windowLimit'),
            });
            reply(res, 200, JSON.stringify(stats()));
          } catch (err) {
            reply(res, 400, JSON.stringify({ error: String(err) }));
          }
        },
        () => reply(res, 400, '{"error":"unreadable body"}'),
      );
      return;
    }
    reply(res, 404, '{"error":"not found"}');
  });
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;

  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  // The bucket starts full when the server starts serving.
  reset();

  return {
    url: `http://${host}:${port}`,
    host,
    port,
    bucket,
    allowed: (durationMs) => bucket.allowed(durationMs),
    stats,
    reset,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
