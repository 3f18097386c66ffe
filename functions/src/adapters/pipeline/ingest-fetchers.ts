import type { Collection } from '../../core/pipeline/collection-schema';
import { Registry } from '../registry';
import type { IngestFetchers } from './ingest';

/**
 * Builds the fetchers of one collection's ingest (they store into that collection), from the
 * provider's configuration and credentials. Each provider's upstream wiring registers one.
 */
export type IngestFetchersFactory = (collection: Collection) => Promise<IngestFetchers>;

const factories = new Registry<IngestFetchersFactory>();

export function registerIngestFetchers(
  provider: string,
  factory: IngestFetchersFactory,
): () => void {
  return factories.register(provider, factory);
}

export function ingestFetchers(provider: string): IngestFetchersFactory | undefined {
  return factories.get(provider);
}
