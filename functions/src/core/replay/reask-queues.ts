import type { Provider } from '../config';
import {
  MAX_DISPATCHES_PER_SECOND,
  MIN_DISPATCHES_PER_SECOND,
  QUEUE_HEADROOM,
} from '../queues/queue-rate';
import type { SimOptions } from './sim-types';

/**
 * The providers' work queues in a fleet simulation: Cloud Tasks holds the backlog and dispatches
 * at most so many re-asks (deferred tasks coming back) per provider and second, so a re-ask due
 * in a busy second comes back later.
 */
export class ReaskQueues {
  /** Re-asks booked per provider and second of the queue (see queueDispatchesPerSecond). */
  private readonly booked = new Map<string, Map<number, number>>();
  private readonly rates = new Map<string, number>();

  constructor(
    private readonly providers: ReadonlyMap<string, Provider>,
    private readonly options: Pick<SimOptions, 'queueDispatchesPerSecond'>,
  ) {}

  /** When a deferred call's task due at `atMs` comes back: then, or later if its queue is busy. */
  dispatchAt(providerId: string, atMs: number, nowMs: number): number {
    const rate = this.dispatchRate(providerId);
    if (!Number.isFinite(rate)) return atMs;
    let booked = this.booked.get(providerId);
    if (!booked) {
      booked = new Map();
      this.booked.set(providerId, booked);
    }
    const perSecond = Math.max(1, Math.floor(rate));
    let second = Math.floor(atMs / 1000);
    while ((booked.get(second) ?? 0) >= perSecond) second++;
    const n = booked.get(second) ?? 0;
    booked.set(second, n + 1);
    if (booked.size > 100_000) {
      for (const s of booked.keys()) if (s < Math.floor(nowMs / 1000) - 1) booked.delete(s);
    }
    const slotMs = second * 1000 + Math.floor((n * 1000) / perSecond);
    return Math.max(atMs, slotMs);
  }

  private dispatchRate(providerId: string): number {
    let rate = this.rates.get(providerId);
    if (rate !== undefined) return rate;
    const provider = this.providers.get(providerId);
    const option = this.options.queueDispatchesPerSecond;
    if (typeof option === 'number') rate = option;
    else if (option && provider) rate = option(provider);
    else rate = provider ? defaultQueueRate(provider) : Number.POSITIVE_INFINITY;
    this.rates.set(providerId, rate);
    return rate;
  }
}

/** A provider's work queue rate as queue-rate.ts sizes it, for calls of cost 1. */
export function defaultQueueRate(provider: Provider): number {
  const rates = provider.limits.flatMap((l) =>
    l.kind === 'tokenBucket'
      ? [l.refillPerSecond]
      : l.kind === 'operation'
        ? [l.ratePerSecond]
        : [],
  );
  if (rates.length === 0) return MAX_DISPATCHES_PER_SECOND;
  return Math.min(
    MAX_DISPATCHES_PER_SECOND,
    Math.max(MIN_DISPATCHES_PER_SECOND, QUEUE_HEADROOM * Math.min(...rates)),
  );
}
