import type { Collection } from './collection-schema';

/** How complete a collection is: collected against target per marketplace and overall. */

export interface MarketplaceCompletion {
  marketplace: string;
  target: number;
  collected: number;
  /** 0..100; collecting beyond the target does not count. */
  percent: number;
}

export interface Completion {
  /** Collected is capped per marketplace, so one marketplace cannot make up for another. */
  overall: { target: number; collected: number; percent: number };
  marketplaces: MarketplaceCompletion[];
  done: boolean;
}

export function completion(collection: Collection): Completion {
  const marketplaces = Object.entries(collection.marketplaces)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([marketplace, { target, collected }]) => ({
      marketplace,
      target,
      collected,
      percent: (Math.min(collected, target) / target) * 100,
    }));
  const target = marketplaces.reduce((sum, m) => sum + m.target, 0);
  const collected = marketplaces.reduce((sum, m) => sum + Math.min(m.collected, m.target), 0);
  return {
    overall: { target, collected, percent: (collected / target) * 100 },
    marketplaces,
    done: marketplaces.every((m) => m.collected >= m.target),
  };
}
