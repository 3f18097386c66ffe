import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runsEmulated } from '../../functions/src/adapters/emulation.ts';
import { ConfigError, parseDocument, providerSchema } from '../../functions/src/core/config.ts';
import {
  PRODUCTION_URL_RULES,
  setUpstreamUrlRules,
} from '../../functions/src/core/upstreams/upstream-url.ts';
import { type Sandboxes, startSandboxes } from '../src/sandboxes.ts';
import { PROJECT_DIR } from '../src/stack.ts';

/**
 * The seeded providers, pointed at the sandboxes as the stack points them (plain http to
 * 127.0.0.1), are valid configuration in the local stack, and would be refused in production.
 */

const seed = JSON.parse(
  readFileSync(join(PROJECT_DIR, 'emulator-data', 'demo-documents.json'), 'utf8'),
) as Record<string, Record<string, unknown>>;

let sandboxes: Sandboxes;
beforeAll(async () => {
  sandboxes = await startSandboxes({ ports: 'free' });
});
afterAll(() => sandboxes?.stop());

/** The provider documents after the stack's `update(patch)` of each seeded one. */
function patchedProviders(): Array<[string, Record<string, unknown>]> {
  return Object.entries(seed)
    .filter(([path]) => path.startsWith('providers/'))
    .map(([path, data]) => {
      const id = path.slice('providers/'.length);
      return [path, { id, ...data, ...(sandboxes.providerPatches[id] ?? {}) }];
    });
}

describe("the sandboxes' provider URLs", () => {
  it('patch every provider that calls an upstream, and validate in the local stack', () => {
    expect(runsEmulated()).toBe(true);
    const restore = setUpstreamUrlRules(() => ({ loopbackHttp: runsEmulated() }));
    try {
      const providers = patchedProviders();
      expect(providers.map(([path]) => path)).toEqual(
        expect.arrayContaining(['providers/keepa', 'providers/spapi', 'providers/smartproxy']),
      );
      for (const [path, data] of providers) {
        const provider = parseDocument(providerSchema, path, data);
        if (sandboxes.providerPatches[provider.id]) {
          expect(provider.baseUrl, path).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        }
      }
    } finally {
      restore();
    }
  });

  it('are refused under the production rules, naming the field', () => {
    const restore = setUpstreamUrlRules(() => PRODUCTION_URL_RULES);
    try {
      const [path, data] = patchedProviders().find(([p]) => p === 'providers/spapi')!;
      expect(() => parseDocument(providerSchema, path, data)).toThrow(ConfigError);
      expect(() => parseDocument(providerSchema, path, data)).toThrow(
        /providers\/spapi: baseUrl: must use https.*; endpoints\.lwa: must use https/,
      );
    } finally {
      restore();
    }
  });
});
