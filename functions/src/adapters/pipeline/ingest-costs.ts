import type { DocumentSnapshot, Firestore } from 'firebase-admin/firestore';
import {
  type BatchingConfig,
  type BatchKind,
  batchKinds,
  type CostPerItem,
  withBatchCap,
  withCostEstimates,
} from '../../core/pipeline/batching';
import { logger } from '../../log';
import { stateRef } from './ingest-queues';

/**
 * What an ingest batch costs per item, per kind: estimated from the configuration, the
 * upstream's own price and what the last batches really cost, the observed costs kept with the
 * collection's ingest state for later slices.
 */

/**
 * Each kind's estimated cost per item: the highest of the configured one, the upstream's own
 * (IngestFetchers.costPerItem) and what the kind's last batch really cost per item (the
 * upstream's `consumed` over the batch's items). The observed costs are kept with the
 * collection's ingest state, so a reservation that keeps falling short of the real cost is
 * raised to it from the next batch on, in this slice and the ones after it.
 */
export class CostEstimates {
  changed = false;
  config: BatchingConfig;
  /** Items per batch the category's share carries, per kind, as the gate said this slice. */
  private readonly caps: Partial<Record<BatchKind, number>> = {};

  constructor(
    private readonly configured: BatchingConfig,
    private readonly upstream: CostPerItem | undefined,
    readonly observed: CostPerItem,
  ) {
    this.config = this.estimate();
  }

  /** A batch of `items` items of `kind` cost `consumed` (when the upstream says). */
  learn(kind: BatchKind, items: number, consumed: number | undefined): void {
    if (consumed === undefined || !Number.isFinite(consumed) || consumed < 0 || items < 1) return;
    const perItem = consumed / items;
    if (this.observed[kind] === perItem) return;
    this.observed[kind] = perItem;
    this.changed = true;
    this.config = this.estimate();
  }

  /**
   * The share carries at most `maxCost` a call: batches of `kind` shrink to fit, so a cost
   * learned above what the share was checked for slows the collection instead of stalling it.
   * False when not even one item fits.
   */
  capToShare(kind: BatchKind, maxCost: number): boolean {
    const items = Math.floor(maxCost / this.config[kind].costPerItem + 1e-9);
    if (items < 1) return false;
    this.caps[kind] = Math.min(this.caps[kind] ?? Number.POSITIVE_INFINITY, items);
    this.config = this.estimate();
    return true;
  }

  private estimate(): BatchingConfig {
    let config = withCostEstimates(this.configured, this.upstream, this.observed);
    for (const kind of batchKinds) {
      const cap = this.caps[kind];
      if (cap !== undefined) config = withBatchCap(config, kind, cap);
    }
    return config;
  }
}

const OBSERVED_COSTS_FIELD = 'observedCostPerItem';

/** The observed cost per item of each kind's last batch, as kept in the collection's ingest state. */
export function observedCosts(state: DocumentSnapshot): CostPerItem {
  const stored = state.get(OBSERVED_COSTS_FIELD) as Record<string, unknown> | undefined;
  const costs: CostPerItem = {};
  for (const kind of batchKinds) {
    const value = stored?.[kind];
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) costs[kind] = value;
  }
  return costs;
}

/** Keeps the observed costs for later slices. Losing them must not fail the slice. */
export async function recordObservedCosts(db: Firestore, collection: string, costs: CostPerItem) {
  try {
    await stateRef(db, collection).set(
      { [OBSERVED_COSTS_FIELD]: costs },
      { mergeFields: [OBSERVED_COSTS_FIELD] },
    );
  } catch (error) {
    logger.warn({ err: error, collection }, 'ingest observed costs not recorded');
  }
}
