import { ConfigError, type Provider, type RuntimeConfig } from '../config';
import { WORK_QUEUE_PROVIDERS } from '../pipeline/work-items';
import type { DemandMinute } from '../storage/write-buffer/demand-stats';
import { arrivalFeed, type DemandPlan, demandPlan } from './demand';
import { applyPolicy, type PolicyInput } from './policy';
import type { CategoryOutcome, SimResult } from './sim-types';
import { FleetSimulator } from './simulator';
import type { LimitUtilization } from './upstream-model';
import { defaultQueueRate } from './work-queues';

/**
 * Policy replay: recorded demand run through the real gate under simulated time, once with the
 * configuration in force and once with a proposed one (the configuration documents that would
 * change), against a model of the upstreams as they really are (the current providers' limits),
 * so a proposal that asks more than an upstream gives shows up as predicted 429s.
 */

/**
 * A running collection whose ETA the replay predicts. With its measured rate (items per second
 * now, under the current policy), the rate under each policy is that rate times the policy's
 * granted cost for the category over the current policy's; without one, `remainingCost` at the
 * category's granted cost per second.
 */
export interface ReplayCollection {
  id: string;
  category: string;
  remainingItems?: number;
  itemsPerSecond?: number | null;
  /** Cost still to spend (e.g. Keepa tokens), when no item rate is known. */
  remainingCost?: number;
  deadlineMs?: number | null;
}

export interface ReplayOptions {
  fromMs: number;
  toMs: number;
  demand: readonly DemandMinute[];
  current: RuntimeConfig;
  policy: PolicyInput;
  collections?: readonly ReplayCollection[];
  /** Simulated instances (default 10). */
  instances?: number;
  seed?: number;
  callDurationMs?: number;
  /** Simulated ms done of the total (both runs), for a progress bar. */
  onProgress?: (doneMs: number, totalMs: number) => void;
  /** ETAs are from this instant (default: the end of the range). */
  nowMs?: number;
  /** A wall clock, to report the speed-up (default Date.now). */
  wallNow?: () => number;
  /**
   * The providers' work queues: `provider-rate` (default) at the rates of workQueueRates, each
   * recorded first ask taking its token when it asked and deferred calls coming back when the
   * queue dispatches them; `none`, no queue: deferred calls come back at their retry time (a
   * harness or caller without one).
   */
  queue?: ReplayQueue;
  /**
   * The rate (dispatches/s) each provider's work queue runs at under a configuration, as
   * production sets it for the work its collections do (the queue sync's workQueueRates, which
   * the callable passes); a provider absent has no work queue. Default: for keepa and
   * smartproxy, what their limits grant calls of cost 1 in every category (defaultQueueRate);
   * none for the others.
   */
  workQueueRates?: (config: RuntimeConfig) => Record<string, number>;
  /**
   * Runs the two policies' simulations: one after the other in this thread (default,
   * {@link runInTurn}), or at once where the host has threads for them (the callable's and the
   * bench's worker threads, adapters/operations/replay-threads.ts). The answer is the same.
   */
  runner?: PolicyRunner;
}

export type ReplayQueue = 'provider-rate' | 'none';

/**
 * One policy's simulation, as plain data (a worker thread can be handed it): the recorded
 * demand's plan (demandPlan, made once for both runs), run under `config` against the real
 * upstreams.
 */
export interface PolicyRunJob {
  config: RuntimeConfig;
  upstreams: Provider[];
  plan: DemandPlan;
  fromMs: number;
  toMs: number;
  instances: number;
  seed: number;
  callDurationMs?: number;
  queue?: ReplayQueue;
  /**
   * Each provider's work queue rate (dispatches/s); a provider absent has none. Default: see
   * ReplayOptions.workQueueRates.
   */
  queueRates?: Record<string, number>;
}

/** What a replay reads of one policy's simulation (plain data). */
export type PolicyRun = Pick<
  SimResult,
  'fromMs' | 'toMs' | 'categories' | 'limits' | 'upstream429' | 'claims'
>;

/**
 * Runs a replay's simulations and returns their results in the jobs' order; `onProgress` is
 * told each job's simulated time (ms since the epoch) and may throw to stop them all.
 */
export type PolicyRunner = (
  jobs: PolicyRunJob[],
  onProgress: (job: number, simulatedMs: number) => void,
) => Promise<PolicyRun[]>;

/** Simulates one policy: its calls made minute by minute as the run reaches them. */
export async function runPolicy(
  job: PolicyRunJob,
  onProgress?: (simulatedMs: number) => void,
): Promise<PolicyRun> {
  const queueRates = job.queueRates ?? defaultWorkQueueRates(job.config);
  const sim = new FleetSimulator({
    config: job.config,
    upstreams: job.upstreams,
    fromMs: job.fromMs,
    toMs: job.toMs,
    instances: job.instances,
    seed: job.seed,
    record: false,
    ...(job.callDurationMs === undefined ? {} : { callDurationMs: job.callDurationMs }),
    // The work queue production would run for this policy and this work (none where it has none).
    queueDispatchesPerSecond:
      job.queue === 'none'
        ? Number.POSITIVE_INFINITY
        : (provider) => queueRates[provider.id] ?? Number.POSITIVE_INFINITY,
    firstAsks: 'dispatched',
    ...(onProgress ? { onProgress } : {}),
  });
  const { fromMs, toMs, categories, limits, upstream429, claims } = await sim.run(
    arrivalFeed(job.plan, job.seed),
  );
  return { fromMs, toMs, categories, limits, upstream429, claims };
}

/** The simulations one after the other, in this thread. */
export const runInTurn: PolicyRunner = async (jobs, onProgress) => {
  const runs: PolicyRun[] = [];
  for (const [i, job] of jobs.entries()) runs.push(await runPolicy(job, (t) => onProgress(i, t)));
  return runs;
};

/** First asks one replay simulates at most (per run; both runs ask the same calls). */
export const MAX_REPLAY_CALLS = 2_000_000;

/** The recorded demand holds more calls than one replay simulates (MAX_REPLAY_CALLS). */
export class ReplayTooLargeError extends Error {
  constructor(
    readonly calls: number,
    readonly limit: number,
  ) {
    super(
      `the range holds ${calls} recorded calls, more than the ${limit} one replay simulates: narrow it or name a provider`,
    );
    this.name = 'ReplayTooLargeError';
  }
}

export interface PolicyOutcome {
  categories: CategoryOutcome[];
  limits: LimitUtilization[];
  upstream429: Array<{ provider: string; limit: string; count: number }>;
  collections: Array<{
    id: string;
    category: string;
    /** Items (or cost, without a measured item rate) still to collect. */
    remaining: number;
    /** Items (or cost) per second under this policy. */
    ratePerSecond: number;
    etaMs: number | null;
    deadlineMs: number | null;
    /** `stalled`: no rate (nothing granted, or no measured rate to scale). */
    status: 'on-track' | 'late' | 'no-deadline' | 'stalled';
  }>;
  claims: { won: number; lost: number };
}

export interface ReplayReport {
  fromMs: number;
  toMs: number;
  seed: number;
  instances: number;
  /** The recorded demand replayed: documents read, asks in them, first asks in the range. */
  demand: { minutes: number; asked: number; firstAsks: number };
  current: PolicyOutcome;
  proposed: PolicyOutcome;
  /** Simulated seconds per wall second over both runs. */
  speedup: number;
  wallMs: number;
}

export const MAX_REPLAY_MS = 7 * 86_400_000;

/** Without the work production's queues are sized for: keepa's and smartproxy's for calls of cost 1. */
function defaultWorkQueueRates(config: RuntimeConfig): Record<string, number> {
  return Object.fromEntries(
    config.providers
      .filter((p) => (WORK_QUEUE_PROVIDERS as readonly string[]).includes(p.id))
      .map((p) => [p.id, defaultQueueRate(p, config.categories)]),
  );
}

export async function replayPolicy(options: ReplayOptions): Promise<ReplayReport> {
  const { fromMs, toMs } = options;
  if (!(toMs > fromMs)) {
    throw new ConfigError('replay', [{ path: 'to', message: 'must be after from' }]);
  }
  if (toMs - fromMs > MAX_REPLAY_MS) {
    throw new ConfigError('replay', [{ path: 'to', message: 'a range of at most 7 days' }]);
  }
  const proposed = applyPolicy(options.current, options.policy);
  const seed = options.seed ?? 1;
  const instances = options.instances ?? 10;
  const wallNow = options.wallNow ?? Date.now;
  const started = wallNow();
  const span = toMs - fromMs;
  const plan = demandPlan(options.demand, { fromMs, toMs });
  if (plan.firstAsks > MAX_REPLAY_CALLS) {
    throw new ReplayTooLargeError(plan.firstAsks, MAX_REPLAY_CALLS);
  }
  const inRange = options.demand.filter((m) => m.minuteMs + 60_000 > fromMs && m.minuteMs < toMs);
  const jobs = [options.current, proposed].map(
    (config): PolicyRunJob => ({
      config,
      upstreams: options.current.providers,
      plan,
      fromMs,
      toMs,
      instances,
      seed,
      ...(options.callDurationMs === undefined ? {} : { callDurationMs: options.callDurationMs }),
      ...(options.queue === undefined ? {} : { queue: options.queue }),
      ...(options.workQueueRates ? { queueRates: options.workQueueRates(config) } : {}),
    }),
  );
  // Progress over both runs: each run's simulated time within the range, summed.
  const done = jobs.map(() => 0);
  const runs = await (options.runner ?? runInTurn)(jobs, (i, t) => {
    done[i] = Math.max(0, Math.min(span, t - fromMs));
    options.onProgress?.(
      done.reduce((a, b) => a + b, 0),
      2 * span,
    );
  });
  const wallMs = Math.max(1, wallNow() - started);
  return {
    fromMs,
    toMs,
    seed,
    instances,
    demand: {
      minutes: inRange.length,
      asked: inRange.reduce((s, m) => s + m.asked, 0),
      firstAsks: runs[0]!.categories.reduce((s, c) => s + c.asked, 0),
    },
    current: outcome(runs[0]!, runs[0]!, options.collections ?? [], options.nowMs ?? toMs),
    proposed: outcome(runs[1]!, runs[0]!, options.collections ?? [], options.nowMs ?? toMs),
    speedup: (2 * span) / wallMs,
    wallMs,
  };
}

function outcome(
  run: PolicyRun,
  baseline: PolicyRun,
  collections: readonly ReplayCollection[],
  nowMs: number,
): PolicyOutcome {
  const seconds = (run.toMs - run.fromMs) / 1000;
  const grantedCost = (r: PolicyRun, category: string) =>
    r.categories.filter((x) => x.category === category).reduce((s, x) => s + x.grantedCost, 0);
  return {
    categories: run.categories,
    limits: run.limits,
    upstream429: run.upstream429,
    claims: { won: run.claims.won, lost: run.claims.lost },
    collections: collections.map((c) => {
      const granted = grantedCost(run, c.category);
      const before = grantedCost(baseline, c.category);
      let remaining: number;
      let ratePerSecond: number;
      if (c.remainingItems !== undefined) {
        // The measured rate, scaled by what this policy grants the category against today's
        // (no measured rate: no ETA).
        remaining = c.remainingItems;
        ratePerSecond = before > 0 && c.itemsPerSecond ? c.itemsPerSecond * (granted / before) : 0;
      } else {
        remaining = c.remainingCost ?? c.remainingItems ?? 0;
        ratePerSecond = seconds > 0 ? granted / seconds : 0;
      }
      const etaMs =
        remaining <= 0
          ? nowMs
          : ratePerSecond > 0
            ? Math.ceil(nowMs + (remaining / ratePerSecond) * 1000)
            : null;
      const deadlineMs = c.deadlineMs ?? null;
      const status =
        etaMs === null
          ? 'stalled'
          : deadlineMs === null
            ? 'no-deadline'
            : etaMs <= deadlineMs
              ? 'on-track'
              : 'late';
      return {
        id: c.id,
        category: c.category,
        remaining,
        ratePerSecond,
        etaMs,
        deadlineMs,
        status,
      };
    }),
  };
}
