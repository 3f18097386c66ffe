import type { Provider, RuntimeConfig } from '../config';
import type { DemandRecorder } from '../storage/write-buffer/demand-stats';
import type { WriteMeter } from './fleet-scale';
import type { LimitUtilization } from './upstream-model';

/** What a fleet simulation (simulator.ts) is given and what it returns. */

/** One call asked for the first time (a task's first attempt). */
export interface Arrival {
  atMs: number;
  provider: string;
  category: string;
  operation?: string | undefined;
  cost: number;
  bytes: number;
  requests: number;
}

/**
 * Arrivals made as the replay reaches them: the minutes that have calls, in time order, and for
 * each the streams of its calls (each stream in time order). A minute's streams are opened when
 * the simulated clock reaches the minute, and each stream has one call scheduled at a time, so
 * a replay holds the calls of the minutes under way plus the retries pending, not the range's.
 */
export interface ArrivalFeed {
  minutes: readonly number[];
  streams(minuteMs: number): Iterable<Arrival>[];
}

export interface SimOptions {
  /** The policy the gate enforces: providers, categories, flags. */
  config: RuntimeConfig;
  /** The upstreams' real limits (default: the policy's providers). */
  upstreams?: Provider[];
  fromMs: number;
  toMs: number;
  instances: number;
  seed: number;
  /** How long a granted call runs (default 200 ms). */
  callDurationMs?: number;
  /** How long an instance trusts its view of the allocation (5 s) and cooldowns (1 s). */
  viewCacheMs?: number;
  cooldownCacheMs?: number;
  /**
   * After `toMs`, calls asked in the range may still be granted (in-gate waits, re-asks, calls
   * in flight) for this long (default 120 s); what still waits then is `waitingAtEnd`.
   */
  drainMs?: number;
  /**
   * Tasks (work items' first asks, see firstAsks, and deferred calls coming back) a provider's
   * work queue dispatches per second at most: Cloud Tasks holds the backlog, not the gate.
   * Default: as production sets it for calls of cost 1 in every category (queue-rate.ts); a
   * replay passes the rate for its recorded work (replayQueueRate); Infinity: no queue.
   */
  queueDispatchesPerSecond?: number | ((provider: Provider) => number);
  /**
   * How first asks reach the gate. Work items come through the provider's work queue, sharing
   * its rate with the re-asks: `queued` (default), an arrival waits its turn in the queue;
   * `dispatched`, a recorded first ask goes at its time, which is when its queue dispatched it,
   * and takes its token (policy replay). `unqueued`: at its time, taking nothing (a caller
   * without a queue; the fleet-scale runs, which count what the queue would have to carry).
   */
  firstAsks?: 'queued' | 'dispatched' | 'unqueued';
  /** Counts claim creates, statistics writes and queue dispatches (fleet-scale.ts). */
  meter?: WriteMeter;
  /**
   * Whether the run records its own demand as production would (`recorded`; default true). A
   * replay reads only the outcome and leaves it off.
   */
  record?: boolean;
  /** Called at every simulated instant with the time (progress). */
  onProgress?: (simulatedMs: number) => void;
}

export interface CategoryOutcome {
  provider: string;
  category: string;
  asked: number;
  /** Calls that went out (a grant the upstream accepted or refused). */
  granted: number;
  grantedCost: number;
  /** Deferrals decided within the range (not those while it drains). */
  deferrals: number;
  deferralsByReason: Record<string, number>;
  /** Calls refused for good (cost beyond any share, unknown category). */
  refused: number;
  /**
   * Calls not granted (for good) nor refused when the drain after the range ended: waiting for
   * their retry time, or in the gate. asked + quota429 = granted + refused + waitingAtEnd (a
   * call the upstream refused with a 429 went out, counts as granted, and asks again).
   */
  waitingAtEnd: number;
  /** Time from a call's first ask to its grant, granted calls only (ms). */
  waitMs: { p50: number; p90: number; p99: number; max: number };
  quota429: number;
}

export interface SimResult {
  fromMs: number;
  toMs: number;
  categories: CategoryOutcome[];
  limits: LimitUtilization[];
  upstream429: Array<{ provider: string; limit: string; count: number }>;
  /** Claim documents: creates won and lost, by limit key (provider~category~limit). */
  claims: { won: number; lost: number; byKey: Record<string, { won: number; lost: number }> };
  /** Tokens claimed but never spent (stranded), from the gates' statistics. */
  tokensClaimed: number;
  /** The run's own recorded demand (what the production gate would have written; empty with `record: false`). */
  recorded: DemandRecorder;
  /** Simulated instants run. */
  turns: number;
}
