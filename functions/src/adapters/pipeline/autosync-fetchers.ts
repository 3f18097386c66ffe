import { Registry } from '../registry';
import type { AutoSyncFetcher } from './autosync-input';

/** Which fetcher serves each auto-sync source. */
const fetchers = new Registry<AutoSyncFetcher>();

export function registerAutoSyncFetcher(source: string, fetcher: AutoSyncFetcher): () => void {
  return fetchers.register(source, fetcher);
}

export function autoSyncFetcher(source: string): AutoSyncFetcher | undefined {
  return fetchers.get(source);
}
