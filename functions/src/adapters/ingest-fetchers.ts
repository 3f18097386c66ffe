import type { IngestFetchers } from './ingest';
import { Registry } from './registry';

/** Which fetchers serve each provider's ingest (the Keepa client registers its own). */
const fetchers = new Registry<IngestFetchers>();

export function registerIngestFetchers(provider: string, value: IngestFetchers): () => void {
  return fetchers.register(provider, value);
}

export function ingestFetchers(provider: string): IngestFetchers | undefined {
  return fetchers.get(provider);
}
