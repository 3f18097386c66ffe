import { z } from 'zod';

/**
 * Where Tollgate may send an upstream call. A provider's `baseUrl` and `endpoints` are
 * configuration an operator writes, and every call to them carries the provider's secrets, so
 * a URL is refused unless it is:
 *
 * - `https:` (plain `http:` only to a loopback host, and only in the local stack: its
 *   sandboxes listen on 127.0.0.1);
 * - without userinfo (`user:pass@`): credentials are Firebase secrets, never configuration;
 * - without a query string or fragment: keys and tokens in a query end up in logs and backups;
 * - not a link-local address (169.254.0.0/16, fe80::/10: the cloud metadata server), an
 *   unspecified one (0.0.0.0), the metadata server's names, or, outside the local stack, a
 *   loopback host (no upstream runs inside the function's own container).
 *
 * Pure: where the code runs (production or the local stack) is told by the adapters through
 * `setUpstreamUrlRules`; until they do, the production rules hold.
 */

export interface UpstreamUrlRules {
  /** Plain http to a loopback host (127.0.0.0/8, ::1, localhost): the local stack only. */
  loopbackHttp: boolean;
}

export const PRODUCTION_URL_RULES: Readonly<UpstreamUrlRules> = Object.freeze({
  loopbackHttp: false,
});

let currentRules: () => UpstreamUrlRules = () => PRODUCTION_URL_RULES;

/** Sets where the rules come from (asked at every parse); returns a function restoring the last. */
export function setUpstreamUrlRules(rules: () => UpstreamUrlRules): () => void {
  const previous = currentRules;
  currentRules = rules;
  return () => {
    currentRules = previous;
  };
}

export function upstreamUrlRules(): UpstreamUrlRules {
  return currentRules();
}

/** A WHATWG-normalized hostname (`127.1` is `127.0.0.1`, IPv6 in brackets), any trailing dot dropped. */
function bareHost(hostname: string): string {
  return hostname.toLowerCase().replace(/\.$/, '');
}

function ipv4(host: string): number[] | null {
  const parts = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  return parts ? parts.slice(1).map(Number) : null;
}

/** 127.0.0.0/8, ::1 (and IPv4-mapped 127.x), `localhost` and its subdomains. */
export function isLoopbackHost(hostname: string): boolean {
  const host = bareHost(hostname);
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (ipv4(host)?.[0] === 127) return true;
  if (host === '[::1]') return true;
  // ::ffff:127.x.y.z, which the URL parser writes as ::ffff:7fxx:xxxx.
  return /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(host);
}

/** Link-local (the metadata server's 169.254.169.254), unspecified, or the metadata server's names. */
function isForbiddenHost(hostname: string): boolean {
  const host = bareHost(hostname);
  if (host === 'metadata' || host === 'metadata.google.internal') return true;
  const v4 = ipv4(host);
  if (v4 && (v4[0] === 0 || (v4[0] === 169 && v4[1] === 254))) return true;
  if (/^\[fe[89ab][0-9a-f]?:/.test(host)) return true; // fe80::/10
  if (host === '[::]') return true;
  // IPv4-mapped 169.254.x.y and 0.x.y.z.
  return /^\[::ffff:a9fe:[0-9a-f]{1,4}\]$/.test(host) || /^\[::ffff:[0-9a-f]{1,2}:/.test(host);
}

/** Why `value` may not be an upstream URL under `rules`, or null when it may. */
export function upstreamUrlProblem(
  value: string,
  rules: UpstreamUrlRules = currentRules(),
): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute URL';
  }
  const loopback = isLoopbackHost(url.hostname);
  if (url.protocol === 'http:') {
    if (!loopback) {
      return 'must use https (plain http is allowed only to a loopback host, in the local stack)';
    }
    if (!rules.loopbackHttp) {
      return 'must use https (plain http to a loopback host is allowed only in the local stack)';
    }
  } else if (url.protocol !== 'https:') {
    return `must use https, not ${url.protocol.replace(/:$/, '')}`;
  }
  // The parser drops an empty userinfo, query or fragment (`https://@host/?#`): look at the text.
  const authority = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(value.trim())?.[1] ?? '';
  if (url.username || url.password || authority.includes('@')) {
    return 'must not carry credentials (user:password@): they belong in Firebase secrets';
  }
  if (url.search || value.includes('?')) {
    return 'must not carry a query string: keys and tokens belong in Firebase secrets';
  }
  if (url.hash || value.includes('#')) return 'must not carry a fragment';
  if (isForbiddenHost(url.hostname)) {
    return 'must not point at a link-local, unspecified or metadata-server address';
  }
  if (loopback && !rules.loopbackHttp) {
    return 'must not point at a loopback host outside the local stack';
  }
  return null;
}

/** A string that `upstreamUrlProblem` accepts under the rules in force when it is parsed. */
export const upstreamUrlSchema = z.string().superRefine((value, ctx) => {
  const problem = upstreamUrlProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
