import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

/** A percentile summary in milliseconds (undefined fields: no samples). */
export interface LatencySummary {
  count: number;
  p50?: number;
  p99?: number;
  max?: number;
}

/**
 * The p-th percentile (0 < p <= 100) of ascending `sorted` by nearest rank: the smallest sample
 * with at least p% of the samples at or below it. Undefined for no samples.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** Collects durations (ms) in a growable typed array; summarises them on demand. */
export class LatencyRecorder {
  #samples = new Float64Array(1024);
  #count = 0;

  get count(): number {
    return this.#count;
  }

  record(ms: number): void {
    if (this.#count === this.#samples.length) {
      const bigger = new Float64Array(this.#samples.length * 2);
      bigger.set(this.#samples);
      this.#samples = bigger;
    }
    this.#samples[this.#count++] = ms;
  }

  summary(): LatencySummary {
    const sorted = this.#samples.slice(0, this.#count).sort();
    return {
      count: this.#count,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      max: sorted.length > 0 ? sorted[sorted.length - 1] : undefined,
    };
  }
}

const sleepMeter = new AsyncLocalStorage<{ sleptMs: number }>();

/**
 * A sleep to inject into a limiter (QuotaEngine's `sleep` option) that adds the time it really
 * slept, timer overshoot included, to the call running inside {@link meterSleeps}. The gate
 * awaits reserved tokens with it; subtracting it leaves the time the decision itself took.
 */
export async function meteredSleep(ms: number): Promise<void> {
  const started = performance.now();
  await sleep(ms);
  const meter = sleepMeter.getStore();
  if (meter) meter.sleptMs += performance.now() - started;
}

/** Runs `fn`, returning its value and how long {@link meteredSleep} slept inside it. */
export async function meterSleeps<T>(fn: () => Promise<T>): Promise<{ value: T; sleptMs: number }> {
  const meter = { sleptMs: 0 };
  const value = await sleepMeter.run(meter, fn);
  return { value, sleptMs: meter.sleptMs };
}

/** Milliseconds rounded for display (3 decimals: microseconds). */
export function roundMs(ms: number | undefined): number | undefined {
  return ms === undefined ? undefined : Math.round(ms * 1000) / 1000;
}

export function roundSummary(s: LatencySummary): LatencySummary {
  return { count: s.count, p50: roundMs(s.p50), p99: roundMs(s.p99), max: roundMs(s.max) };
}
