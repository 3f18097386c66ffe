import type { SelfQuotaMonitor } from '../../core/storage/self-quota';
import type { WriteBuffer } from '../storage/write-buffer';

/** What a quota engine (quota-engine.ts) takes, and its default timings. */

export interface QuotaEngineOptions {
  instanceId?: string;
  /** Per-minute usage statistics go through this group-commit buffer, when given. */
  buffer?: WriteBuffer;
  /**
   * Recorded demand (`demandStats`) goes through this buffer (default: `buffer`). The instance
   * engine's flushes every DEMAND_FLUSH_INTERVAL_MS, so demand costs at most one write per
   * kind of call and minute document per 10 s, however the calls are spaced.
   */
  demandBuffer?: WriteBuffer;
  /**
   * Counts the engine's Firestore operations (every one of `db`'s, see self-quota-runtime.ts)
   * against this self-quota, when given and `db` has none yet.
   */
  selfQuota?: SelfQuotaMonitor;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Window tokens of a limit not asked for this long are given back to other instances. */
  idleReleaseMs?: number;
  /** Idle limits are looked for at most this often: on acquire, and on the timer if enabled. */
  idleCheckMs?: number;
  /**
   * Looks for idle limits on an unref'd timer every `idleCheckMs`, so a fully idle instance
   * gives its window tokens back too (the instance engine does; short-lived engines need not).
   */
  idleTimer?: boolean;
}

/** Window tokens of a limit idle this long are given back (see QuotaEngineOptions). */
export const IDLE_RELEASE_MS = 30_000;
export const IDLE_CHECK_MS = 10_000;
/** How long recorded demand waits in the instance's demand buffer before it is written. */
export const DEMAND_FLUSH_INTERVAL_MS = 10_000;
