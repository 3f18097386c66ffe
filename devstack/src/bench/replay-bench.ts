import { createRequire } from 'node:module';
import type * as Threads from '../../../functions/src/adapters/operations/replay-threads.ts';
import type * as Config from '../../../functions/src/core/config.ts';
import type * as Replay from '../../../functions/src/core/replay/index.ts';
import type * as Demand from '../../../functions/src/core/storage/write-buffer/demand-stats.ts';

/**
 * The `replay` bench scenario: how many simulated seconds policy replay runs per wall second.
 * A recorded day is made by the simulator itself (the real gate on a simulated fleet, recording
 * demand as production does), then replayed from its per-minute records under the current and
 * a proposed policy, as `tollgate replay` does. Compiled code (functions/lib), as production
 * runs it. Reported as a ratio; nothing here is a wall-clock threshold.
 */

import { REPLAY_SCENARIO, scenarioArrivals } from './replay-scenario.ts';

const require = createRequire(import.meta.url);
const { categorySchema, flagsSchema, providerSchema } =
  require('../../../functions/lib/core/config.js') as typeof Config;
const { FleetSimulator, replayPolicy, prng, MAX_REPLAY_CALLS } =
  require('../../../functions/lib/core/replay/index.js') as typeof Replay;
require('../../../functions/lib/core/storage/write-buffer/demand-stats.js') as typeof Demand;
const { threadRunner } =
  require('../../../functions/lib/adapters/operations/replay-threads.js') as typeof Threads;

export interface ReplayBenchOptions {
  /** Simulated hours replayed (default 6). */
  hours: number;
  /** Calls asked per second on average (default 8, a Keepa-sized provider). */
  callsPerSecond: number;
  instances: number;
}

export interface ReplayBenchResult {
  simulatedSeconds: number;
  firstAsks: number;
  recordedMinutes: number;
  recordWallMs: number;
  /** The replay as the callable runs it: the two policies at once, a thread each. */
  replayWallMs: number;
  /** Simulated seconds per wall second of that replay (both policies). */
  speedup: number;
  /** The same replay with the two policies in turn, in one thread (the baseline). */
  inTurnWallMs: number;
  inTurnSpeedup: number;
  current: { utilization: number; deferrals: number };
  proposed: { utilization: number; deferrals: number };
  /** The recorded run against its replay under the current policy: relative errors, %. */
  fidelity: { utilization: number; deferrals: number };
}

/**
 * Why a replay of `hours` at `callsPerSecond` would be refused (a replay simulates at most
 * MAX_REPLAY_CALLS first asks), or undefined when it fits; checked before a day is recorded.
 * The scenario's mean rate over its three half-hours is `callsPerSecond`; 1% spare for chance.
 */
export function replayRefusal(hours: number, callsPerSecond: number): string | undefined {
  const expected = hours * 3_600 * callsPerSecond;
  if (expected * 1.01 <= MAX_REPLAY_CALLS) return undefined;
  return `${hours} h at ${callsPerSecond} calls/s is about ${Math.round(expected)} first asks; a replay simulates at most ${MAX_REPLAY_CALLS}`;
}

export async function runReplayBench(options: ReplayBenchOptions): Promise<ReplayBenchResult> {
  const current = {
    providers: [providerSchema.parse(REPLAY_SCENARIO.provider)],
    categories: REPLAY_SCENARIO.categories.map((c) => categorySchema.parse(c)),
    flags: flagsSchema.parse({}),
  };
  const fromMs = Date.UTC(2026, 11, 1);
  const toMs = fromMs + options.hours * 3_600_000;
  const arrivals = scenarioArrivals(fromMs, toMs, options.callsPerSecond, prng(11));
  const recordStarted = performance.now();
  const recorded = await new FleetSimulator({
    config: current,
    fromMs,
    toMs,
    instances: options.instances,
    seed: 3,
  }).run(arrivals);
  const recordWallMs = performance.now() - recordStarted;
  const demand = recorded.recorded.records();
  const replay = (runner?: Replay.PolicyRunner) =>
    replayPolicy({
      fromMs,
      toMs,
      demand,
      current,
      policy: {
        categories: [
          { id: 'deals', sharePercent: 50 },
          { id: 'history', sharePercent: 50 },
        ],
      },
      instances: options.instances,
      wallNow: () => performance.now(),
      ...(runner ? { runner } : {}),
    });
  const inTurn = await replay();
  const report = await replay(threadRunner());
  if (JSON.stringify(report.current) !== JSON.stringify(inTurn.current)) {
    throw new Error('replay bench: the threads answered otherwise than the runs in turn');
  }
  const deferrals = (categories: Array<{ deferrals: number }>) =>
    categories.reduce((s, c) => s + c.deferrals, 0);
  const error = (predicted: number, measured: number) =>
    Number(((100 * (predicted - measured)) / Math.max(1, measured)).toFixed(2));
  const side = (o: Replay.PolicyOutcome) => ({
    utilization: Number(o.limits[0]!.utilization.toFixed(4)),
    deferrals: deferrals(o.categories),
  });
  return {
    simulatedSeconds: (2 * (toMs - fromMs)) / 1000,
    firstAsks: report.demand.firstAsks,
    recordedMinutes: demand.length,
    recordWallMs: Math.round(recordWallMs),
    replayWallMs: Math.round(report.wallMs),
    speedup: Math.round(report.speedup),
    inTurnWallMs: Math.round(inTurn.wallMs),
    inTurnSpeedup: Math.round(inTurn.speedup),
    current: side(report.current),
    proposed: side(report.proposed),
    fidelity: {
      utilization: error(report.current.limits[0]!.utilization, recorded.limits[0]!.utilization),
      deferrals: error(deferrals(report.current.categories), deferrals(recorded.categories)),
    },
  };
}
