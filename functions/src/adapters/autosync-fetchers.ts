import type { AutoSyncFetcher } from './autosync';

/**
 * Which fetcher serves each auto-sync source. Upstream adapters register theirs when loaded, so
 * the schedule stays free of upstream clients and runs with whatever is wired.
 */
const fetchers = new Map<string, AutoSyncFetcher>();

/** Registers (or replaces) a source's fetcher; returns a function that unregisters it. */
export function registerAutoSyncFetcher(source: string, fetcher: AutoSyncFetcher): () => void {
  fetchers.set(source, fetcher);
  return () => {
    if (fetchers.get(source) === fetcher) fetchers.delete(source);
  };
}

export function autoSyncFetcher(source: string): AutoSyncFetcher | undefined {
  return fetchers.get(source);
}
