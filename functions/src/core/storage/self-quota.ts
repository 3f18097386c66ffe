import { resolveSelfQuotaConfig } from './self-quota-defaults';
import {
  FIRESTORE_OPS,
  type FirestoreOp,
  type QuotaWindow,
  type SelfQuotaConfig,
  type SelfQuotaOptions,
  type SelfQuotaStatus,
  type SelfQuotaWarning,
  WINDOWS,
} from './self-quota-types';

export { DEFAULT_SELF_QUOTA, resolveSelfQuotaConfig } from './self-quota-defaults';
export {
  FIRESTORE_OPS,
  type FirestoreOp,
  type OpLimits,
  type QuotaWindow,
  type SelfQuotaConfig,
  type SelfQuotaOptions,
  type SelfQuotaStatus,
  type SelfQuotaWarning,
} from './self-quota-types';

/**
 * Counts this instance's Firestore reads, writes and deletes per second and per minute against
 * configured limits. Warns at 90% of a limit; above the soft limit (80%) it throttles with a
 * delay multiplier that doubles for each consecutive second over the soft limit (up to 10x)
 * and halves for each second under it, back to 1x. Pure: the clock is injected.
 *
 * Heavy background work (ingest, validation, backups) is held at the heavy-work threshold,
 * `limit * softRatio * backgroundShare` of each op's second and minute windows: while any
 * window is at or above it, `heavyWaitMs` says how long until the windows have room again
 * (the second turns, or enough of the minute's oldest seconds leave it), and a second
 * multiplier of the same kind grows from that threshold for a growing delay on top. With a
 * share below 1 heavy work slows down before the instance as a whole is throttled, leaving the
 * rest of the limit to interactive work. Limits and share may be replaced at run time
 * (`configure`).
 *
 * The limits are this instance's: every instance counts only its own operations, so N
 * instances together may spend up to N times them (see core/storage/self-quota-config.ts).
 */

const SECONDS_PER_MINUTE = 60;

export class SelfQuotaMonitor {
  private current: SelfQuotaConfig;
  /** Per op, counts of the last 60 whole seconds, indexed by second mod 60. */
  private readonly buckets: Record<FirestoreOp, number[]>;
  private readonly minuteSums: Record<FirestoreOp, number>;
  private second: number;
  /** Multiplier as of the end of the last completed second. */
  private settled = 1;
  /** The same for heavy background work (soft limit scaled by the background share). */
  private settledBackground = 1;
  private readonly lastWarning = new Map<string, number>();
  private readonly warnings: SelfQuotaWarning[] = [];
  private readonly listeners = new Set<(warning: SelfQuotaWarning) => void>();
  private readonly recordListeners = new Set<() => void>();
  /** Operations recorded since the monitor was made (never decreases). */
  private recordedOps = 0;

  constructor(
    private readonly base: SelfQuotaOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    this.current = resolveSelfQuotaConfig(base);
    const zeros = () => new Array<number>(SECONDS_PER_MINUTE).fill(0);
    this.buckets = { read: zeros(), write: zeros(), delete: zeros() };
    this.minuteSums = { read: 0, write: 0, delete: 0 };
    this.second = Math.floor(this.now() / 1000);
  }

  get config(): SelfQuotaConfig {
    return this.current;
  }

  /**
   * Replaces the limits and the background share (each op's limits fall back to the
   * constructor's, then the defaults); counts and multipliers carry on. Throws a RangeError,
   * changing nothing, when the result is not a valid configuration.
   */
  configure(options: Pick<SelfQuotaOptions, 'limits' | 'backgroundShare'>): void {
    const limits = { ...this.base.limits };
    for (const op of FIRESTORE_OPS) {
      limits[op] = { ...this.base.limits?.[op], ...options.limits?.[op] };
    }
    this.current = resolveSelfQuotaConfig({
      ...this.base,
      ...(options.backgroundShare === undefined
        ? {}
        : { backgroundShare: options.backgroundShare }),
      limits,
    });
  }

  /** Counts `count` operations now; returns the warnings this raised (also sent to listeners). */
  record(op: FirestoreOp, count = 1): SelfQuotaWarning[] {
    if (!(count > 0)) return [];
    const atMs = this.now();
    this.advance(atMs);
    const slot = this.second % SECONDS_PER_MINUTE;
    this.buckets[op][slot] = (this.buckets[op][slot] ?? 0) + count;
    this.minuteSums[op] += count;
    this.recordedOps += count;
    const raised: SelfQuotaWarning[] = [];
    for (const window of WINDOWS) {
      const usage = this.usageAt(op, window);
      const limit = this.limit(op, window);
      if (usage < limit * this.config.warnRatio) continue;
      const key = `${op}/${window}`;
      const last = this.lastWarning.get(key);
      if (last !== undefined && atMs - last < this.config.warningCooldownMs) continue;
      this.lastWarning.set(key, atMs);
      raised.push({ atMs, op, window, usage, limit, percent: percentOf(usage, limit) });
    }
    for (const warning of raised) this.emit(warning);
    for (const listener of this.recordListeners) {
      try {
        listener();
      } catch {
        // A failing listener must not break counting.
      }
    }
    return raised;
  }

  /** Every operation recorded so far (it only grows): tells whether anything was spent since. */
  recorded(): number {
    return this.recordedOps;
  }

  /** Calls `listener` after each `record` that counted something; answers the unsubscribe. */
  onRecord(listener: () => void): () => void {
    this.recordListeners.add(listener);
    return () => this.recordListeners.delete(listener);
  }

  /** Operations counted in the current second, or in the last 60 seconds. */
  usage(op: FirestoreOp, window: QuotaWindow): number {
    this.advance(this.now());
    return this.usageAt(op, window);
  }

  /** The delay multiplier to apply now (1 = not throttled). */
  multiplier(): number {
    this.advance(this.now());
    return this.overSoft() ? this.grow(this.settled) : this.settled;
  }

  throttled(): boolean {
    return this.multiplier() > 1;
  }

  /** The multiplier for heavy background work: grows from `softRatio * backgroundShare`. */
  backgroundMultiplier(): number {
    this.advance(this.now());
    return this.overSoft(this.backgroundRatio())
      ? this.grow(this.settledBackground)
      : this.settledBackground;
  }

  /**
   * How long heavy work must wait from now until no op's second or minute window is at or
   * above the heavy-work threshold (`limit * softRatio * backgroundShare`); 0 when none is.
   * A full second has room when it turns; a full minute when enough of its oldest seconds have
   * left it. Only what was recorded counts: what is spent meanwhile is seen at the re-check.
   */
  heavyWaitMs(): number {
    const atMs = this.now();
    this.advance(atMs);
    let untilSecond = this.second;
    for (const op of FIRESTORE_OPS) {
      const buckets = this.buckets[op];
      if (this.usageAt(op, 'second') >= this.heavyThreshold(op, 'second')) {
        untilSecond = Math.max(untilSecond, this.second + 1);
      }
      const threshold = this.heavyThreshold(op, 'minute');
      let usage = this.minuteSums[op];
      // Seconds leave the window oldest first: slot (second + k) % 60 empties at second + k.
      let k = 0;
      while (usage >= threshold && k < SECONDS_PER_MINUTE) {
        k++;
        usage -= buckets[(this.second + k) % SECONDS_PER_MINUTE] ?? 0;
      }
      untilSecond = Math.max(untilSecond, this.second + k);
    }
    return untilSecond > this.second ? Math.max(0, untilSecond * 1000 - atMs) : 0;
  }

  /**
   * The growing delay heavy work takes on top of waiting for room: 0 while the background
   * multiplier is 1, else `baseMs` stretched by it.
   */
  paceDelayMs(baseMs: number): number {
    const m = this.backgroundMultiplier();
    return m > 1 ? baseMs * m : 0;
  }

  /** `baseMs` stretched by the current multiplier. */
  delayMs(baseMs: number): number {
    return baseMs * this.multiplier();
  }

  /** Recent warnings, newest last. */
  recent(): readonly SelfQuotaWarning[] {
    return this.warnings;
  }

  onWarning(listener: (warning: SelfQuotaWarning) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  status(): SelfQuotaStatus {
    const multiplier = this.multiplier();
    const usage = {} as SelfQuotaStatus['usage'];
    for (const op of FIRESTORE_OPS) {
      const entry = {} as Record<QuotaWindow, { usage: number; limit: number; percent: number }>;
      for (const window of WINDOWS) {
        const n = this.usageAt(op, window);
        const limit = this.limit(op, window);
        entry[window] = { usage: n, limit, percent: percentOf(n, limit) };
      }
      usage[op] = entry;
    }
    return {
      multiplier,
      throttled: multiplier > 1,
      backgroundMultiplier: this.backgroundMultiplier(),
      backgroundShare: this.config.backgroundShare,
      usage,
    };
  }

  private limit(op: FirestoreOp, window: QuotaWindow): number {
    return window === 'second'
      ? this.config.limits[op].perSecond
      : this.config.limits[op].perMinute;
  }

  private usageAt(op: FirestoreOp, window: QuotaWindow): number {
    return window === 'second'
      ? (this.buckets[op][this.second % SECONDS_PER_MINUTE] ?? 0)
      : this.minuteSums[op];
  }

  private overSoft(ratio = this.config.softRatio): boolean {
    return FIRESTORE_OPS.some((op) =>
      WINDOWS.some((window) => this.usageAt(op, window) > this.limit(op, window) * ratio),
    );
  }

  private heavyThreshold(op: FirestoreOp, window: QuotaWindow): number {
    return this.limit(op, window) * this.backgroundRatio();
  }

  private backgroundRatio(): number {
    return this.config.softRatio * this.config.backgroundShare;
  }

  private grow(m: number): number {
    return Math.min(this.config.maxMultiplier, m * this.config.growthFactor);
  }

  /**
   * Closes every second that ended before `atMs`: the multiplier grows if that second was over
   * the soft limit and decays if not, and the second drops out of the minute window. A long
   * idle gap ends with empty windows and no throttling, so it is not walked second by second.
   */
  private advance(atMs: number): void {
    const target = Math.floor(atMs / 1000);
    if (target <= this.second) return;
    if (target - this.second > 2 * SECONDS_PER_MINUTE) {
      for (const op of FIRESTORE_OPS) {
        this.buckets[op].fill(0);
        this.minuteSums[op] = 0;
      }
      this.settled = 1;
      this.settledBackground = 1;
      this.second = target;
      return;
    }
    while (this.second < target) {
      this.settled = this.overSoft()
        ? this.grow(this.settled)
        : Math.max(1, this.settled / this.config.growthFactor);
      this.settledBackground = this.overSoft(this.backgroundRatio())
        ? this.grow(this.settledBackground)
        : Math.max(1, this.settledBackground / this.config.growthFactor);
      this.second++;
      const slot = this.second % SECONDS_PER_MINUTE;
      for (const op of FIRESTORE_OPS) {
        this.minuteSums[op] -= this.buckets[op][slot] ?? 0;
        this.buckets[op][slot] = 0;
      }
    }
  }

  private emit(warning: SelfQuotaWarning): void {
    this.warnings.push(warning);
    if (this.warnings.length > this.config.keepWarnings) this.warnings.shift();
    for (const listener of this.listeners) {
      try {
        listener(warning);
      } catch {
        // A failing listener must not break counting.
      }
    }
  }
}

function percentOf(usage: number, limit: number): number {
  return Math.round((usage / limit) * 1000) / 10;
}
