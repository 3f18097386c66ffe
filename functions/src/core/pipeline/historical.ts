import { z } from 'zod';
import type { Collection } from './collection-schema';

/**
 * Historical collection batches (the Buck.cheap pattern): a few times a day the schedule asks,
 * per marketplace of a running collection, which listing pages to discover next. Each page
 * becomes a `discover` work item whose handler enqueues one work item per product found. Pages
 * are handed out only as far as the collection can absorb: never past its target, and at most
 * `productsPerRun` ahead of what it has collected, so a lagging collection is not flooded with
 * work it cannot do before the next run.
 */

export const historicalConfigSchema = z.object({
  /** Per marketplace and run: discovery stays at most this far ahead of the collected count. */
  productsPerRun: z.number().int().positive().default(200),
  /** Products on one listing page of the source site. */
  listingPageSize: z.number().int().positive().default(50),
});
export type HistoricalConfig = z.infer<typeof historicalConfigSchema>;

const marketplaceCursorSchema = z.object({
  /** The next listing page to hand out (1-based). */
  nextPage: z.number().int().positive().default(1),
  /** A discovered page came back empty: the catalogue has no more pages. */
  exhausted: z.boolean().default(false),
});

/** `batches/{collection}`: where discovery stands per marketplace. */
export const historicalStateSchema = z.object({
  marketplaces: z.record(z.string(), marketplaceCursorSchema).default({}),
});
export type HistoricalState = z.infer<typeof historicalStateSchema>;

export interface DiscoveryPage {
  marketplace: string;
  page: number;
  /** Products of the page to take: the last page of a target takes only what it lacks. */
  limit: number;
}

export interface DiscoveryPlan {
  pages: DiscoveryPage[];
  /** The state once the pages are handed out. */
  next: HistoricalState;
}

export function planDiscovery(
  collection: Collection,
  state: HistoricalState,
  config: HistoricalConfig,
): DiscoveryPlan {
  const pages: DiscoveryPage[] = [];
  const marketplaces: HistoricalState['marketplaces'] = { ...state.marketplaces };
  if (collection.status !== 'running') return { pages, next: state };
  for (const [marketplace, { target, collected }] of Object.entries(collection.marketplaces)) {
    const cursor = marketplaceCursorSchema.parse(marketplaces[marketplace] ?? {});
    if (cursor.exhausted) continue;
    const reach = Math.min(target, collected + config.productsPerRun);
    let page = cursor.nextPage;
    // Page p covers products (p-1)*size .. p*size-1; hand it out while it starts below reach.
    while ((page - 1) * config.listingPageSize < reach) {
      const first = (page - 1) * config.listingPageSize;
      pages.push({ marketplace, page, limit: Math.min(config.listingPageSize, target - first) });
      page++;
    }
    marketplaces[marketplace] = { ...cursor, nextPage: page };
  }
  return { pages, next: { marketplaces } };
}

/** The state after a discovered page turned out empty. */
export function markExhausted(state: HistoricalState, marketplace: string): HistoricalState {
  const cursor = marketplaceCursorSchema.parse(state.marketplaces[marketplace] ?? {});
  return {
    marketplaces: { ...state.marketplaces, [marketplace]: { ...cursor, exhausted: true } },
  };
}

/**
 * After a restart: every marketplace's listing is handed out again from the page that holds its
 * first product not yet collected (collection runs in listing order), so pages whose tasks were
 * lost are discovered again; the products a re-discovered page finds already stored are not
 * collected twice (the discover handler skips them). A catalogue found exhausted stays so.
 */
export function rewindDiscovery(
  collection: Collection,
  state: HistoricalState,
  config: HistoricalConfig,
): HistoricalState {
  const marketplaces: HistoricalState['marketplaces'] = { ...state.marketplaces };
  for (const [marketplace, cursor] of Object.entries(state.marketplaces)) {
    const collected = collection.marketplaces[marketplace]?.collected ?? 0;
    const first = Math.floor(collected / config.listingPageSize) + 1;
    marketplaces[marketplace] = { ...cursor, nextPage: Math.min(cursor.nextPage, first) };
  }
  return { marketplaces };
}

/**
 * The key of a work item of a collection's listing: restarted collections' items carry the
 * restart, so they get task ids of their own (Cloud Tasks keeps an id taken for a while after
 * its task ran or was lost).
 */
export function generationKey(key: string, restarts: number): string {
  return restarts > 0 ? `${key}~r${restarts}` : key;
}
