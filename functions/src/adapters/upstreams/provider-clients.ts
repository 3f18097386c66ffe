// What every upstream client is built from: its provider document (through the quota engine's
// configuration cache) and required fields, one cached client per configuration, raw payloads.
import { ConfigError, type Provider } from '../../core/config';
import { instanceQuotaEngine } from '../quota/instance-quota-engine';
import { payloadStore } from '../storage/payload-store';
import { type RawPayloads, rawPayloads } from '../storage/raw-payloads';

/** The provider document, through the quota engine's short-lived configuration cache. */
export async function providerConfig(id: string): Promise<Provider> {
  const config = await instanceQuotaEngine().contexts.runtimeConfig();
  const provider = config.providers.find((p) => p.id === id);
  if (!provider) {
    throw new ConfigError(`providers/${id}`, [{ path: '', message: 'not configured' }]);
  }
  return provider;
}

export function required(provider: Provider, field: 'baseUrl' | `endpoints.${string}`): string {
  const value =
    field === 'baseUrl' ? provider.baseUrl : provider.endpoints[field.slice('endpoints.'.length)];
  if (!value) {
    throw new ConfigError(`providers/${provider.id}`, [{ path: field, message: 'required' }]);
  }
  return value;
}

let raw: RawPayloads | undefined;
/** Raw upstream payloads go to the instance's payload store (temporary: cleaned up by age). */
export function instanceRawPayloads(): RawPayloads {
  raw ??= rawPayloads(payloadStore());
  return raw;
}

/** One client per configuration: rebuilt when the document or a secret changes, else reused. */
const clients = new Map<string, { key: string; client: unknown }>();
export function cached<T>(name: string, config: unknown, build: () => T): T {
  const key = JSON.stringify(config);
  const entry = clients.get(name);
  if (entry?.key === key) return entry.client as T;
  const client = build();
  clients.set(name, { key, client });
  return client;
}
