import type { Category, Limit, Provider } from '../config';
import { effectiveShares } from '../quota/allocation';
import { concurrencyCap, lineShape } from '../quota/limits';
import { askedOf, type WorkCall } from '../quota/share-check';

/** A task queue's dispatch limits, as Cloud Tasks takes them. */
export interface QueueRate {
  maxDispatchesPerSecond: number;
  maxConcurrentDispatches: number;
}

/**
 * How far above what the gate will grant a provider's work queue dispatches: enough that the
 * gate, not the queue, is what holds work back (the queue's rate is a smoothed average, the
 * gate also grants bursts), little enough that few tasks are dispatched only to be deferred.
 */
export const QUEUE_HEADROOM = 1.25;
/** Cloud Tasks' bounds; a queue never stops dispatching altogether (deferred items wait in it). */
export const MIN_DISPATCHES_PER_SECOND = 0.01;
export const MAX_DISPATCHES_PER_SECOND = 500;
export const MAX_CONCURRENT_DISPATCHES = 5000;

/**
 * The burst a queue dispatching at `maxDispatchesPerSecond` gets: the size of its token bucket.
 * Cloud Tasks picks it from the rate and does not say how (RateLimits.max_burst_size, output
 * only, at most 500); taken here, as in the local stack's queue, as one second of the rate.
 */
export function queueBurst(maxDispatchesPerSecond: number): number {
  return Math.max(1, Math.min(MAX_DISPATCHES_PER_SECOND, Math.ceil(maxDispatchesPerSecond)));
}

/** The shortest length of each window unit: the fastest a window's limit can be spent. */
const WINDOW_SECONDS = { second: 1, minute: 60, hour: 3600, day: 86_400, month: 28 * 86_400 };

/** What a limit refills per second, at 100%. */
function ratePerSecond(limit: Limit): number | undefined {
  if (limit.kind === 'tokenBucket' || limit.kind === 'operation') {
    return lineShape(limit).ratePerSecond;
  }
  if (limit.kind === 'window') return limit.limit / WINDOW_SECONDS[limit.unit];
  return undefined;
}

/**
 * Work items per second a provider's limits can grant its categories' work, at most: for each
 * limit every call of the work asks something of, its rate times the total share of the active
 * categories that have work (`working`; all when absent), over the least any call asks of it;
 * the tightest such limit decides. Undefined when no limit bounds every call (bytes windows,
 * operation limits of some calls only).
 */
export function grantableItemsPerSecond(
  provider: Pick<Provider, 'id' | 'limits'>,
  categories: readonly Category[],
  calls: readonly WorkCall[],
  working?: ReadonlySet<string>,
): number | undefined {
  if (calls.length === 0) return undefined;
  const ofProvider = categories.filter((c) => c.provider === provider.id);
  // Effective shares over all of them (a paused category's share goes to the others), summed
  // over those with work: a share nothing runs on grants the queue nothing.
  const percent = effectiveShares([...ofProvider])
    .filter((share) => !share.paused && (!working || working.has(share.category)))
    .reduce((sum, share) => sum + share.percent, 0);
  let tightest: number | undefined;
  for (const limit of provider.limits) {
    const rate = ratePerSecond(limit);
    if (rate === undefined) continue;
    const asked = calls.map((call) => askedOf(limit, call) ?? 0);
    const least = Math.min(...asked);
    if (!(least > 0)) continue; // some call asks nothing of it: it does not bound every item
    const items = (rate * percent) / 100 / least;
    tightest = tightest === undefined ? items : Math.min(tightest, items);
  }
  return tightest;
}

/**
 * The rate a provider's work queue should dispatch at: just above what the gate will grant
 * (QUEUE_HEADROOM), within Cloud Tasks' bounds, above the deploy-time value as well as below
 * it (a queue slower than the gate leaves paid quota unspent). Concurrency follows the
 * provider's concurrency limit the same way. Where the work or the limits say nothing (no
 * known work, no limit bounding every item, no concurrency limit), the deploy-time value.
 */
export function queueRateFor(
  provider: Provider,
  categories: readonly Category[],
  calls: readonly WorkCall[],
  deployed: QueueRate,
  working?: ReadonlySet<string>,
): QueueRate {
  const items = grantableItemsPerSecond(provider, categories, calls, working);
  const cap = concurrencyCap(provider.limits);
  return {
    maxDispatchesPerSecond:
      items === undefined
        ? Math.min(MAX_DISPATCHES_PER_SECOND, deployed.maxDispatchesPerSecond)
        : Math.min(
            MAX_DISPATCHES_PER_SECOND,
            Math.max(MIN_DISPATCHES_PER_SECOND, roundUp(items * QUEUE_HEADROOM)),
          ),
    maxConcurrentDispatches:
      cap === undefined
        ? Math.min(MAX_CONCURRENT_DISPATCHES, deployed.maxConcurrentDispatches)
        : Math.min(MAX_CONCURRENT_DISPATCHES, Math.ceil(cap * QUEUE_HEADROOM)),
  };
}

/** Up to 3 significant digits, so small drifts do not rewrite the queue. */
function roundUp(value: number): number {
  if (value <= 0) return 0;
  const scale = 10 ** (2 - Math.floor(Math.log10(value)));
  return Math.ceil(value * scale) / scale;
}
