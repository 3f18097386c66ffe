import type { IngestFetchers } from './ingest';

/**
 * Which fetchers serve each provider's ingest. Upstream adapters (the Keepa client) register
 * theirs when loaded, so the task function stays free of upstream clients.
 */
const registry = new Map<string, IngestFetchers>();

/** Registers (or replaces) a provider's fetchers; returns a function that unregisters them. */
export function registerIngestFetchers(provider: string, fetchers: IngestFetchers): () => void {
  registry.set(provider, fetchers);
  return () => {
    if (registry.get(provider) === fetchers) registry.delete(provider);
  };
}

export function ingestFetchers(provider: string): IngestFetchers | undefined {
  return registry.get(provider);
}
