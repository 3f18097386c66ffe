import type { Category, Provider } from '../config';
import { isPaused } from '../quota/allocation';
import {
  type CategoryWork,
  checkedPercent,
  introducedProblems,
  limitProblems,
  type ShareProblem,
  shareProblems,
  type WorkCall,
} from '../quota/share-check';
import { keepaIngestCostPerItem } from '../upstreams/keepa-product-request';
import { type BatchingConfig, batchKinds, largestAffordable, withCostEstimates } from './batching';
import type { Collection } from './collection-schema';
import type { PhaseSchedule } from './phases';

/**
 * What each category's work asks of the gate per call, derived from the configuration that
 * decides it: which collections run on the category (and so which upstream work: Keepa ingest
 * and deal scans, proxy listing pages and price histories), the batch sizes in
 * `config/pipeline`, the provider's settings (Keepa's deal pages), and the scheduled SP-API
 * sync. quota/share-check.ts checks the result against the categories' shares.
 *
 * The upstream wiring (adapters/upstreams/wiring.ts) takes its costs and operation names from
 * here, so what is checked is what runs.
 */

/** Keepa charges 5 tokens per deal page. */
export const KEEPA_DEAL_PAGE_COST = 5;
const DEFAULT_KEEPA_DEAL_PAGES = 2;
/** Operation names of the work items (operation limits are matched by these). */
export const KEEPA_DEAL_OPERATION = 'deal';
export const LISTING_OPERATION = 'listing';
export const PRODUCT_OPERATION = 'product';

/** Deal pages one Keepa deal scan reads: `settings.dealPages` of the provider, default 2. */
export function keepaDealPages(provider: Pick<Provider, 'settings'> | undefined): number {
  return Number(provider?.settings.dealPages ?? DEFAULT_KEEPA_DEAL_PAGES);
}

/** Amazon SP-API vendor real-time sales: reports created per window, one quota category. */
export const REALTIME_SALES_SYNC = {
  source: 'spapi-vendor-sales',
  provider: 'spapi',
  category: 'spapi-realtime-sales',
} as const;

/** Operations one window of the sync calls per marketplace: create, poll, download. */
export const REALTIME_SALES_OPERATIONS = ['createReport', 'getReport', 'getReportDocument'];

/** Work that runs on a schedule for a fixed category, whatever the collections. */
export interface ScheduledSync {
  provider: string;
  category: string;
  calls: WorkCall[];
}

export const SCHEDULED_SYNCS: readonly ScheduledSync[] = [
  {
    provider: REALTIME_SALES_SYNC.provider,
    category: REALTIME_SALES_SYNC.category,
    calls: REALTIME_SALES_OPERATIONS.map((operation) => ({
      work: `SP-API real-time sales sync: ${operation}`,
      operation,
      cost: 1,
    })),
  },
];

/** A validation fix: one work item per failing product, cost 1, no operation. */
const RECOLLECT_CALL: WorkCall = { work: 'validation re-collection', cost: 1 };

/**
 * Ingest slices (adapters/pipeline/ingest.ts) ask the gate for one batch at a time, the batch kind as
 * the operation, at its estimated cost. The largest batch is the configured size, or fewer
 * items when the bucket plus the allowed deficit cannot pay for that many (the planner's cap,
 * from the capacity the slice starts from: the provider's token bucket).
 */
function ingestCalls(provider: Provider, configured: BatchingConfig): WorkCall[] {
  // Priced as the runner reserves them: at least Keepa's documented price per item.
  const batching = withCostEstimates(configured, keepaIngestCostPerItem());
  const bucket = provider.limits.find((l) => l.kind === 'tokenBucket');
  return batchKinds.map((kind) => {
    const { size, costPerItem } = batching[kind];
    const items =
      bucket?.kind === 'tokenBucket'
        ? Math.max(1, largestAffordable(kind, bucket.capacity, batching))
        : size;
    return {
      work: `Keepa ingest ${kind} batch (${items} x ${costPerItem})`,
      operation: kind,
      cost: items * costPerItem,
    };
  });
}

function keepaDealScan(provider: Provider): WorkCall[] {
  const pages = keepaDealPages(provider);
  // The wiring cannot enqueue a scan of no or an unreadable number of pages either.
  if (!(Number.isFinite(pages) && pages > 0)) return [];
  return [
    {
      work: `Keepa deal scan (${pages} pages x ${KEEPA_DEAL_PAGE_COST})`,
      operation: KEEPA_DEAL_OPERATION,
      cost: pages * KEEPA_DEAL_PAGE_COST,
    },
  ];
}

/**
 * The calls one running collection's work makes, by its provider, as the upstream wiring
 * registers it: Keepa collections run ingest slices and deal scans; proxy collections hand
 * out listing pages whose products each become a price-history item. Validation re-collects
 * failing products of both. Collections of other providers have no upstream work.
 */
const COLLECTION_WORK = new Map<
  string,
  (provider: Provider, batching: BatchingConfig) => WorkCall[]
>([
  [
    'keepa',
    (provider, batching) => [
      ...ingestCalls(provider, batching),
      ...keepaDealScan(provider),
      RECOLLECT_CALL,
    ],
  ],
  [
    'smartproxy',
    () => [
      { work: 'listing page discovery', operation: LISTING_OPERATION, cost: 1 },
      { work: 'price history', operation: PRODUCT_OPERATION, cost: 1 },
      RECOLLECT_CALL,
    ],
  ],
]);

export type WorkCollection = Pick<Collection, 'provider' | 'category' | 'status'>;

export interface CategoryWorkInput {
  providers: readonly Provider[];
  categories: readonly Pick<Category, 'id' | 'provider'>[];
  batching: BatchingConfig;
  /**
   * The collections. Completed ones hand out no new work and are not counted (what they still
   * ask, Keepa's light refreshes and validation's re-collections, is refused by the gate as
   * before if their share is too small); running, stalled and paused ones are.
   */
  collections: readonly WorkCollection[];
  syncs?: readonly ScheduledSync[];
}

/**
 * Per category, the calls its work makes (duplicates removed). Work is only attributed to a
 * category of the provider it calls; a collection or sync naming a category of another
 * provider is a different misconfiguration.
 */
export function categoryWork(input: CategoryWorkInput): Map<string, WorkCall[]> {
  const providers = new Map(input.providers.map((p) => [p.id, p]));
  const categories = new Map(input.categories.map((c) => [c.id, c]));
  const work = new Map<string, Map<string, WorkCall>>();
  const add = (providerId: string, categoryId: string, calls: readonly WorkCall[]) => {
    if (categories.get(categoryId)?.provider !== providerId || calls.length === 0) return;
    const known = work.get(categoryId) ?? new Map<string, WorkCall>();
    for (const call of calls) known.set(JSON.stringify(call), call);
    work.set(categoryId, known);
  };
  for (const collection of input.collections) {
    if (collection.status === 'completed') continue;
    const provider = providers.get(collection.provider);
    const calls = provider && COLLECTION_WORK.get(provider.id)?.(provider, input.batching);
    if (calls) add(collection.provider, collection.category, calls);
  }
  for (const sync of input.syncs ?? SCHEDULED_SYNCS) add(sync.provider, sync.category, sync.calls);
  return new Map([...work].map(([category, calls]) => [category, [...calls.values()]]));
}

export type PhasedCollection = WorkCollection & Pick<Collection, 'id' | 'phase' | 'phases'>;

/**
 * The problems a collection's later phases will bring: each phase after the current one sets
 * its category's share (an override still pins it), so the category must carry its work at
 * every one of them. A phase whose share pauses the category (at or below its minimum) asks
 * nothing. Completed collections have no later phase.
 */
export function laterPhaseProblems(
  config: { providers: readonly Provider[]; categories: readonly Category[] },
  work: CategoryWork,
  collections: readonly PhasedCollection[],
  defaultPhases: PhaseSchedule,
): ShareProblem[] {
  const providers = new Map(config.providers.map((p) => [p.id, p]));
  const categories = new Map(config.categories.map((c) => [c.id, c]));
  return collections.flatMap((collection) => {
    const category = categories.get(collection.category);
    const provider = providers.get(collection.provider);
    const calls = work.get(collection.category);
    if (collection.status === 'completed' || !category || !provider || !calls) return [];
    if (category.provider !== provider.id) return [];
    const schedule = collection.phases ?? defaultPhases;
    return schedule.slice(collection.phase).flatMap((phase, i) => {
      const atPhase: Category = { ...category, sharePercent: phase.sharePercent };
      if (isPaused(atPhase)) return [];
      return limitProblems(provider, atPhase, checkedPercent(atPhase), calls).map((p) => ({
        ...p,
        phase: {
          collection: collection.id,
          phase: collection.phase + i + 1,
          fromPercent: phase.fromPercent,
        },
      }));
    });
  });
}

/** Everything a configuration's shares, work and schedules decide, in one place. */
export interface WorkConfiguration extends Omit<CategoryWorkInput, 'categories' | 'collections'> {
  categories: readonly Category[];
  collections: readonly PhasedCollection[];
  /** config/pipeline `collections.phases`: the schedule of collections without their own. */
  defaultPhases: PhaseSchedule;
}

/**
 * The share problems of a configuration: at the shares configured now, and, with
 * `laterPhases`, at the shares the collections' later phases will set.
 */
export function workProblems(
  config: WorkConfiguration,
  options: { laterPhases?: boolean } = {},
): ShareProblem[] {
  const work = categoryWork(config);
  const now = shareProblems(config, work);
  if (!options.laterPhases) return now;
  return [...now, ...laterPhaseProblems(config, work, config.collections, config.defaultPhases)];
}

/**
 * The problems `after` has that `before` did not: what a configuration change would introduce
 * (see introducedProblems). Operators' changes are refused for these.
 */
export function introducedShareProblems(
  before: WorkConfiguration,
  after: WorkConfiguration,
  options: { laterPhases?: boolean } = {},
): ShareProblem[] {
  return introducedProblems(workProblems(before, options), workProblems(after, options));
}
