import { afterEach, describe, expect, it } from 'vitest';
import { runsEmulated } from '../../src/adapters/emulation';
import { ConfigError, parseDocument, providerSchema } from '../../src/core/config';
import {
  isLoopbackHost,
  PRODUCTION_URL_RULES,
  setUpstreamUrlRules,
  upstreamUrlProblem,
} from '../../src/core/upstreams/upstream-url';

/**
 * Upstream URLs: https only (plain http only to loopback, only in the local stack), no
 * userinfo, no query or fragment, never the metadata server. Each refusal names the field.
 */

const LOCAL = { loopbackHttp: true };
const limits = [{ kind: 'tokenBucket', capacity: 300, refillPerSecond: 5 }];

function fieldRefused(data: Record<string, unknown>): { path: string; message: string }[] {
  try {
    parseDocument(providerSchema, 'providers/p', { id: 'p', limits, ...data });
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  return [];
}

let restore: (() => void) | undefined;
afterEach(() => {
  restore?.();
  restore = undefined;
});

describe('upstream URL rules', () => {
  it.each([
    'https://api.keepa.com',
    'https://sellingpartnerapi-eu.amazon.com/',
    'https://api.amazon.com/auth/o2/token',
    'https://gate.smartproxy.com:7000',
    'https://10.0.0.8/proxy', // a VPC address is a deployment's choice
  ])('accepts %s everywhere', (url) => {
    expect(upstreamUrlProblem(url, PRODUCTION_URL_RULES)).toBeNull();
    expect(upstreamUrlProblem(url, LOCAL)).toBeNull();
  });

  it.each([
    'http://127.0.0.1:4610',
    'http://127.9.9.9/x',
    'http://localhost:4611/',
    'http://[::1]:4612',
  ])('accepts plain http to loopback (%s) only in the local stack', (url) => {
    expect(upstreamUrlProblem(url, LOCAL)).toBeNull();
    expect(upstreamUrlProblem(url, PRODUCTION_URL_RULES)).toMatch(/only in the local stack/);
  });

  it.each([
    // The issue's cases.
    ['http://169.254.169.254/computeMetadata/v1/', /must use https/],
    ['https://user:pass@api.keepa.com', /credentials/],
    ['https://api.keepa.com/?key=s3cret', /query string/],
    ['ftp://files.example.com/data', /must use https, not ftp/],
    // Around them.
    ['http://api.keepa.com', /must use https/],
    ['https://169.254.169.254/', /link-local/],
    ['https://metadata.google.internal/computeMetadata/v1/', /metadata/],
    ['https://[fe80::1]/', /link-local/],
    ['https://0.0.0.0/', /unspecified/],
    ['https://@api.keepa.com', /credentials/],
    ['https://user@api.keepa.com', /credentials/],
    ['https://api.keepa.com/?', /query string/],
    ['https://api.keepa.com/#', /fragment/],
    ['https://api.keepa.com/#token=x', /fragment/],
    ['http://user:pass@127.0.0.1:4610', /credentials/],
    ['http://127.0.0.1:4610/?key=x', /query string/],
    ['file:///etc/passwd', /must use https, not file/],
    ['javascript:alert(1)', /must use https/],
    ['not a url', /absolute URL/],
    ['/relative/path', /absolute URL/],
  ])('refuses %s, in the local stack too', (url, why) => {
    expect(upstreamUrlProblem(url, LOCAL)).toMatch(why);
    expect(upstreamUrlProblem(url, PRODUCTION_URL_RULES)).not.toBeNull();
  });

  it('knows loopback however it is spelled, and nothing else', () => {
    for (const host of ['127.0.0.1', '127.1', 'localhost', 'LOCALHOST.', '[::1]', 'a.localhost']) {
      expect(isLoopbackHost(new URL(`http://${host}/`).hostname), host).toBe(true);
    }
    expect(isLoopbackHost(new URL('http://[::ffff:127.0.0.1]/').hostname)).toBe(true);
    expect(isLoopbackHost(new URL('http://0x7f.0.0.1/').hostname)).toBe(true);
    for (const host of ['128.0.0.1', 'localhost.example.com', '169.254.169.254', '[::2]']) {
      expect(isLoopbackHost(new URL(`http://${host}/`).hostname), host).toBe(false);
    }
    // Spellings of the metadata server's address that the URL parser normalizes.
    for (const url of [
      'http://0xa9fea9fe/',
      'http://169.254.43518/',
      'http://[::ffff:169.254.169.254]/',
    ]) {
      expect(upstreamUrlProblem(url, LOCAL), url).not.toBeNull();
    }
  });

  it('refuses in the provider document, naming the field', () => {
    restore = setUpstreamUrlRules(() => PRODUCTION_URL_RULES);
    expect(fieldRefused({ baseUrl: 'http://169.254.169.254/latest' })).toEqual([
      { path: 'baseUrl', message: expect.stringMatching(/must use https/) },
    ]);
    expect(
      fieldRefused({
        baseUrl: 'https://sellingpartnerapi-eu.amazon.com',
        endpoints: { lwa: 'https://client:secret@api.amazon.com/auth/o2/token' },
      }),
    ).toEqual([{ path: 'endpoints.lwa', message: expect.stringMatching(/credentials/) }]);
    expect(fieldRefused({ endpoints: { site: 'https://buck.cheap/?token=x' } })).toEqual([
      { path: 'endpoints.site', message: expect.stringMatching(/query string/) },
    ]);
    expect(fieldRefused({ baseUrl: 'http://127.0.0.1:4610' })).toEqual([
      { path: 'baseUrl', message: expect.stringMatching(/only in the local stack/) },
    ]);
    expect(fieldRefused({ baseUrl: 'https://api.keepa.com' })).toEqual([]);
  });

  it('allows the sandboxes in the local stack: the adapters say where the code runs', () => {
    // The tests run against the embedded Firestore emulator (FIRESTORE_EMULATOR_HOST).
    expect(runsEmulated()).toBe(true);
    expect(runsEmulated({ FUNCTIONS_EMULATOR: 'true' })).toBe(true);
    expect(runsEmulated({})).toBe(false);
    restore = setUpstreamUrlRules(() => ({ loopbackHttp: runsEmulated() }));
    expect(
      fieldRefused({
        baseUrl: 'http://127.0.0.1:4611',
        endpoints: { lwa: 'http://127.0.0.1:4611/auth/o2/token' },
      }),
    ).toEqual([]);
    restore();
    restore = setUpstreamUrlRules(() => ({ loopbackHttp: runsEmulated({}) }));
    expect(fieldRefused({ baseUrl: 'http://127.0.0.1:4611' })).toHaveLength(1);
  });
});
