import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ControlledSandbox } from './control/server.ts';
import { freePort } from './ports.ts';
import { startKeepaSandbox } from './sandbox/keepa.ts';
import { KEEPA_SANDBOX_KEY } from './sandbox/keepa-rules.ts';
import type { KeepaSandbox } from './sandbox/keepa-types.ts';
import { startPriceSiteSandbox } from './sandbox/price-site.ts';
import type { PriceSiteSandbox } from './sandbox/price-site-types.ts';
import { startProxySandbox } from './sandbox/proxy.ts';
import {
  PROXY_SANDBOX_PASSWORD,
  PROXY_SANDBOX_USER,
  type ProxySandbox,
} from './sandbox/proxy-types.ts';
import { startSpApiSandbox } from './sandbox/spapi.ts';
import {
  type RateLimit,
  type RateLimitedOperation,
  SPAPI_REPORTS_RATE_LIMITS,
} from './sandbox/spapi-rate-limits.ts';
import {
  LWA_TOKEN_PATH,
  SPAPI_SANDBOX_CREDENTIALS,
  SPAPI_SANDBOX_MARKETPLACE_ID,
  type SpApiSandbox,
} from './sandbox/spapi-types.ts';

/**
 * The sandbox upstreams of the local stack: Keepa, SP-API (with its LWA endpoint), a
 * SmartProxy-like proxy and a Buck.cheap-like price-history site. Tollgate's real clients talk
 * to them unchanged; only the providers' base URLs and the secrets differ.
 */

const HOST = '127.0.0.1';
export const SANDBOX_PORTS = { keepa: 4610, spapi: 4611, proxy: 4612, site: 4613 };

export interface Sandboxes {
  keepa: KeepaSandbox;
  spapi: SpApiSandbox;
  proxy: ProxySandbox;
  site: PriceSiteSandbox;
  /** Fields merged into `providers/{id}` so the functions call these sandboxes. */
  providerPatches: Record<string, Record<string, unknown>>;
  /** Sandbox credentials, by secret name (see functions/src/adapters/upstreams/secrets.ts). */
  secrets: Record<string, string>;
  controlled: Record<string, ControlledSandbox>;
  stop(): Promise<void>;
}

export interface SandboxOptions {
  ports: 'fixed' | 'free';
  /** From SP-API createReport to DONE (the sandbox's default otherwise). */
  spapiProcessingMs?: number;
  /**
   * SP-API rates other than the published ones, held alike by the sandbox and (patched into
   * providers/spapi) by the gate. Unset: the published rates, as the seed configures them.
   */
  spapiRateLimits?: Partial<Record<RateLimitedOperation, RateLimit>>;
}

export async function startSandboxes(options: SandboxOptions): Promise<Sandboxes> {
  const port = async (name: keyof typeof SANDBOX_PORTS) =>
    options.ports === 'free' ? freePort(HOST) : SANDBOX_PORTS[name];
  const started: Array<{ stop(): Promise<void> }> = [];
  const stop = async () => {
    for (const sandbox of started.splice(0).reverse()) await sandbox.stop().catch(() => undefined);
  };
  try {
    // Matches providers/keepa in the seed: 300 tokens, refilled at 300 a minute.
    const keepa = await startKeepaSandbox({
      port: await port('keepa'),
      capacity: 300,
      refillPerMinute: 300,
    });
    started.push(keepa);
    const spapi = await startSpApiSandbox({
      port: await port('spapi'),
      processingMs: options.spapiProcessingMs,
      rateLimits: options.spapiRateLimits,
    });
    started.push(spapi);
    const proxy = await startProxySandbox({
      port: await port('proxy'),
      users: [
        {
          username: PROXY_SANDBOX_USER,
          password: PROXY_SANDBOX_PASSWORD,
          // Above what the seed's provider document allows (10/s), so Tollgate's own pacing is
          // what shows; tests raise the provider's limit up to this.
          requestsPerSecond: 100,
          monthlyTrafficBytes: 50 * 1024 ** 3,
        },
      ],
    });
    started.push(proxy);
    const site = await startPriceSiteSandbox({ port: await port('site') });
    started.push(site);

    return {
      keepa,
      spapi,
      proxy,
      site,
      providerPatches: {
        keepa: { baseUrl: keepa.url, settings: { domainId: 3, dealPages: 2 } },
        spapi: {
          baseUrl: spapi.url,
          endpoints: { lwa: `${spapi.url}${LWA_TOKEN_PATH}` },
          settings: { marketplaceIds: [SPAPI_SANDBOX_MARKETPLACE_ID] },
          ...(options.spapiRateLimits
            ? { limits: spapiOperationLimits(options.spapiRateLimits) }
            : {}),
        },
        smartproxy: { baseUrl: proxy.url, endpoints: { site: site.url } },
      },
      secrets: {
        KEEPA_API_KEY: KEEPA_SANDBOX_KEY,
        SPAPI_LWA_CLIENT_ID: SPAPI_SANDBOX_CREDENTIALS.clientId,
        SPAPI_LWA_CLIENT_SECRET: SPAPI_SANDBOX_CREDENTIALS.clientSecret,
        SPAPI_REFRESH_TOKEN: SPAPI_SANDBOX_CREDENTIALS.refreshToken,
        SMARTPROXY_USERNAME: PROXY_SANDBOX_USER,
        SMARTPROXY_PASSWORD: PROXY_SANDBOX_PASSWORD,
      },
      controlled: { keepa, spapi, proxy, site },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** providers/spapi's operation limits for the given rates (the published ones otherwise). */
function spapiOperationLimits(
  rates: Partial<Record<RateLimitedOperation, RateLimit>>,
): Array<Record<string, unknown>> {
  return Object.entries({ ...SPAPI_REPORTS_RATE_LIMITS, ...rates }).map(([operation, rate]) => ({
    kind: 'operation',
    operation,
    ratePerSecond: rate.ratePerSecond,
    burst: rate.burst,
  }));
}

/**
 * The Functions emulator reads secrets from functions/.secret.local. Adds the sandbox values of
 * any secret the file lacks; a value already there (the developer's own) is kept.
 */
/**
 * Emulator-only parameter values (functions/.env.local: the Functions emulator reads it over
 * functions/.env; a deploy never does, and the upload leaves it out). The local stack's clients
 * carry no App Check token, so the stack turns its enforcement off.
 */
export function writeEmulatorEnv(functionsDir: string): void {
  writeFileSync(
    join(functionsDir, '.env.local'),
    '# Written by the local stack: emulator-only values over functions/.env.\nENFORCE_APP_CHECK=false\n',
  );
}

export function writeSecretsFile(functionsDir: string, secrets: Record<string, string>): void {
  const path = join(functionsDir, '.secret.local');
  const existing = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const have = new Set(
    existing
      .split('\n')
      .map((line) => /^([A-Z0-9_]+)=/.exec(line.trim())?.[1])
      .filter(Boolean),
  );
  const missing = Object.entries(secrets).filter(([name]) => !have.has(name));
  if (missing.length === 0) return;
  const header = existing ? '' : '# Written by the local stack: sandbox credentials only.\n';
  const body = missing.map(([name, value]) => `${name}=${value}`).join('\n');
  const separator = existing && !existing.endsWith('\n') ? '\n' : '';
  writeFileSync(path, `${existing}${separator}${header}${body}\n`);
}
