import type { Limit, Provider } from '../config';
import { limitIdentity } from '../quota/epochs';
import { windowAt } from '../quota/windows';

/** What one call spends of an upstream's limits. */
export interface CallAmounts {
  operation?: string | undefined;
  cost: number;
  bytes: number;
  requests: number;
}

export interface UpstreamAnswer {
  ok: boolean;
  /** For a 429: which limit refused and what Retry-After the upstream would send (s). */
  limit?: string;
  retryAfterSeconds?: number;
}

/** A name for a limit, as the reports show it (`bucket`, `op:getReport`, `window:day:requests`). */
export const limitName = limitIdentity;

function windowAmount(limit: Extract<Limit, { kind: 'window' }>, call: CallAmounts): number {
  return limit.measure === 'bytes'
    ? call.bytes
    : limit.measure === 'requests'
      ? call.requests
      : call.cost;
}

interface BucketState {
  level: number;
  atMs: number;
}

/**
 * An exact model of an upstream's quota, in true time: a token bucket (capacity, continuous
 * refill; Keepa's `allowNegative` lets a call run while the balance is positive), per-operation
 * buckets (burst, rate), fixed windows (second to month, counting cost, requests or bytes) and a
 * concurrency cap. It answers 429 where the real upstream would: a call that finds its bucket
 * short, its window full or every slot busy. A refused call spends nothing.
 */
export class UpstreamModel {
  private readonly buckets = new Map<string, BucketState>();
  private readonly windows = new Map<string, { id: string; used: number }>();
  inFlight = 0;
  peakInFlight = 0;
  readonly refusals = new Map<string, number>();

  constructor(readonly provider: Provider) {}

  call(atMs: number, call: CallAmounts): UpstreamAnswer {
    const checks: Array<() => void> = [];
    for (const limit of this.provider.limits) {
      const name = limitName(limit);
      if (limit.kind === 'tokenBucket' || limit.kind === 'operation') {
        if (limit.kind === 'operation' && limit.operation !== call.operation) continue;
        const capacity = limit.kind === 'tokenBucket' ? limit.capacity : limit.burst;
        const rate = limit.kind === 'tokenBucket' ? limit.refillPerSecond : limit.ratePerSecond;
        const state = this.bucket(name, capacity, rate, atMs);
        const need = limit.kind === 'tokenBucket' ? call.cost : 1;
        const negative = limit.kind === 'tokenBucket' && limit.allowNegative;
        if (negative ? state.level <= 0 : state.level + 1e-9 < need) {
          const deficit = negative ? -state.level + 1e-9 : need - state.level;
          return this.refuse(name, Math.max(0.001, deficit / rate));
        }
        checks.push(() => {
          state.level -= need;
        });
      } else if (limit.kind === 'window') {
        const w = windowAt(limit.unit, atMs);
        const state = this.windows.get(name);
        const used = state?.id === w.id ? state.used : 0;
        const amount = windowAmount(limit, call);
        if (used + amount > limit.limit + 1e-9) {
          return this.refuse(name, Math.max(0.001, (w.endMs - atMs) / 1000));
        }
        checks.push(() => this.windows.set(name, { id: w.id, used: used + amount }));
      } else if (limit.kind === 'concurrency') {
        if (this.inFlight >= limit.max) return this.refuse(name, 1);
      }
    }
    for (const apply of checks) apply();
    this.inFlight++;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
    return { ok: true };
  }

  /** A call that went out has ended. */
  end(): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
  }

  private refuse(limit: string, retryAfterSeconds: number): UpstreamAnswer {
    this.refusals.set(limit, (this.refusals.get(limit) ?? 0) + 1);
    return { ok: false, limit, retryAfterSeconds };
  }

  private bucket(name: string, capacity: number, rate: number, atMs: number): BucketState {
    let state = this.buckets.get(name);
    if (!state) {
      state = { level: capacity, atMs };
      this.buckets.set(name, state);
    }
    if (atMs > state.atMs) {
      state.level = Math.min(capacity, state.level + ((atMs - state.atMs) / 1000) * rate);
      state.atMs = atMs;
    }
    return state;
  }
}

/**
 * How much of each limit a run spent: what went out, against what the limit allows over the
 * range (C + r·T for buckets and operations, the windows' limits pro rata for the part of each
 * window inside the range, and for concurrency the peak against the cap).
 */
export class LimitUsage {
  private readonly used = new Map<string, number>();
  private peak = 0;

  constructor(readonly provider: Provider) {}

  count(call: CallAmounts): void {
    for (const limit of this.provider.limits) {
      const name = limitName(limit);
      let amount = 0;
      if (limit.kind === 'tokenBucket') amount = call.cost;
      else if (limit.kind === 'operation') amount = limit.operation === call.operation ? 1 : 0;
      else if (limit.kind === 'window') amount = windowAmount(limit, call);
      else continue;
      this.used.set(name, (this.used.get(name) ?? 0) + amount);
    }
  }

  inFlight(n: number): void {
    this.peak = Math.max(this.peak, n);
  }

  report(fromMs: number, toMs: number): LimitUtilization[] {
    const seconds = (toMs - fromMs) / 1000;
    return this.provider.limits.map((limit) => {
      const name = limitName(limit);
      let allowance: number;
      let used = this.used.get(name) ?? 0;
      if (limit.kind === 'tokenBucket')
        allowance = limit.capacity + limit.refillPerSecond * seconds;
      else if (limit.kind === 'operation') allowance = limit.burst + limit.ratePerSecond * seconds;
      else if (limit.kind === 'window') {
        allowance = 0;
        for (
          let w = windowAt(limit.unit, fromMs);
          w.startMs < toMs;
          w = windowAt(limit.unit, w.endMs)
        ) {
          const overlap = Math.min(w.endMs, toMs) - Math.max(w.startMs, fromMs);
          allowance += (limit.limit * overlap) / (w.endMs - w.startMs);
        }
      } else {
        allowance = limit.max;
        used = this.peak;
      }
      return {
        provider: this.provider.id,
        limit: name,
        used,
        allowance,
        utilization: allowance > 0 ? used / allowance : 0,
      };
    });
  }
}

export interface LimitUtilization {
  provider: string;
  limit: string;
  used: number;
  allowance: number;
  utilization: number;
}
