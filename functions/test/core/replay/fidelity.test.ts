import { describe, expect, it } from 'vitest';
import {
  FIDELITY_SCENARIO,
  recordedRunArrivals,
} from '../../../../devstack/src/bench/recorded-run';
import { REPLAY_SCENARIO, scenarioArrivals } from '../../../../devstack/src/bench/replay-scenario';
import { categorySchema, flagsSchema, providerSchema } from '../../../src/core/config';
import { queueRateFor } from '../../../src/core/queues/queue-rate';
import { FleetSimulator, prng, replayPolicy } from '../../../src/core/replay';
import { DemandRecorder } from '../../../src/core/storage/write-buffer/demand-stats';
import { Fleet } from '../quota/fleet-sim';

/**
 * Fidelity against simulated runs, replayed from their record alone through replayPolicy (the
 * callable's path: its drain, deferrals counted within the range). Against a run of the real
 * thing (engines on Firestore, an HTTP upstream, a Cloud Tasks queue, in wall time):
 * devstack/test/bench/recorded-run.test.ts.
 *
 * A run of the simulated fleet on the replay bench's scenario (below): the replay predicts its
 * utilization and deferrals within 2% for every seed, and its asks exactly. Its
 * demand is above the bucket, so re-asks come back as fast as the provider's queue dispatches
 * them, which the replay models exactly; at 6 calls/s, below the queue's rate, one run's
 * deferrals are predicted within +0.8% to +6.4% (seeds 1-10, a one-hour run), no closer than
 * that run's own calls run again (next paragraph).
 *
 * A run of the property tests' fleet harness (fleet-sim.ts: its own claim table, interleaving
 * and retries; bursts of 200 calls; maxAwaitSeconds 1; re-asks at their retry time, no work
 * queue, so `queue: 'none'`): utilization within 2% for every seed; deferrals within 3.5% for
 * every seed (-2.1% to +2.9% over seeds 1-8, depending on where the asks of a recorded second
 * fall within it) and within 2% on the mean of seeds 1-8 (+0.9%). Within 2% on every seed is
 * below what one recorded run can tell: the same calls at the same instants, run again by the
 * fleet with another seed (its instances' cache phases and claim picks), give deferrals 2.5%
 * apart (one standard deviation, the replay bench's scenario at 6 calls/s, seeds 1-10). Spreading
 * each second's asks evenly, as this replay did first, smoothed out the clumps Poisson arrivals
 * have and predicted too few deferrals: -5.0% to +2.5%, mean -1.7%. With the default queue
 * (dispatches at 1.25x the provider's rate, which this harness does not have) the replay
 * predicts about 75% fewer deferrals: the queue spaces re-asks so fewer of them are deferred
 * again.
 */

const MINUTES = 5;
const RETRIES = 1_000;
const from = Date.UTC(2026, 11, 1);
const to = from + MINUTES * 60_000;
const provider = providerSchema.parse({
  id: 'p',
  limits: [{ kind: 'tokenBucket', capacity: 100, refillPerSecond: 20 }],
  safetyMarginMs: 100,
});
const categories = [
  categorySchema.parse({ id: 'a', provider: 'p', sharePercent: 60 }),
  categorySchema.parse({ id: 'b', provider: 'p', sharePercent: 40 }),
];

/** 12 calls/s (Poisson) with a burst of 200 calls in 2 s every minute: deferrals, no overload. */
async function recordedRun() {
  const recorder = new DemandRecorder();
  let deferrals = 0;
  const fleet = new Fleet({
    startMs: from,
    provider,
    categories,
    instances: 5,
    offsetsMs: [0],
    seed: 7,
    onDecision: (request, decision, atMs, retriesLeft) => {
      if (atMs >= to) return;
      if (decision.kind === 'retryAt') deferrals++;
      recorder.record({
        provider: 'p',
        category: request.category,
        at: atMs,
        cost: request.cost ?? 1,
        bytes: 0,
        requests: 1,
        attempt: RETRIES - retriesLeft,
        outcome: decision.kind === 'granted' ? 'granted' : 'deferred',
        ...(decision.kind === 'retryAt' ? { delayMs: decision.atMs - atMs } : {}),
      });
    },
  });
  const random = prng(3);
  const asks: number[] = [];
  for (let t = from; t < to; ) {
    t += (-Math.log(1 - random()) * 1000) / 12;
    if (t < to) asks.push(Math.floor(t));
  }
  for (let b = from + 20_000; b < to; b += 60_000) {
    for (let i = 0; i < 200; i++) asks.push(b + i * 10);
  }
  asks.sort((x, y) => x - y);
  let n = 0;
  for (const at of asks) {
    await fleet.clock.runUntil(at);
    void fleet.ask(
      n++,
      { provider: 'p', category: random() < 0.6 ? 'a' : 'b', cost: 1, maxWaitMs: 1_000 },
      { durationMs: 200, actual: { cost: 1, bytes: 0, requests: 1 } },
      RETRIES,
    );
  }
  await fleet.clock.runUntil(to);
  const granted = fleet.calls.filter((c) => c.atMs < to).length;
  return {
    records: recorder.records(),
    utilization: granted / (100 + 20 * MINUTES * 60),
    deferrals,
    errors: fleet.errors,
  };
}

describe('replay fidelity', () => {
  it('predicts a recorded run’s utilization within 2%, its deferrals within 2% on the mean of seeds', async () => {
    const run = await recordedRun();
    expect(run.errors).toEqual([]);
    expect(run.deferrals).toBeGreaterThan(1_000);
    const current = {
      providers: [provider],
      categories,
      flags: flagsSchema.parse({ maxAwaitSeconds: 1 }),
    };
    const errors: number[] = [];
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const report = await replayPolicy({
        fromMs: from,
        toMs: to,
        demand: run.records,
        current,
        policy: {},
        instances: 5,
        seed,
        queue: 'none',
      });
      const replay = report.current;
      const utilization = replay.limits.find((l) => l.limit === 'bucket')!.utilization;
      const deferrals = replay.categories.reduce((s, c) => s + c.deferrals, 0);
      expect(replay.upstream429).toEqual([]);
      expect(Math.abs(utilization - run.utilization) / run.utilization).toBeLessThan(0.02);
      const error = (deferrals - run.deferrals) / run.deferrals;
      expect(Math.abs(error)).toBeLessThan(0.035);
      errors.push(error);
    }
    const mean = errors.reduce((a, b) => a + b, 0) / errors.length;
    expect(Math.abs(mean)).toBeLessThan(0.02);
  }, 120_000);
});

/**
 * The replay bench's scenario at its 8 calls/s (devstack/src/bench/replay-scenario.ts, the same
 * calls), ten minutes of its busy half-hour: Keepa's bucket (300, 10/s) shared 70/30, 10.4 calls/s (60/40 between the
 * categories), 10 instances and the provider's work queue, recorded by the simulated fleet
 * running the real gate, as production records demand.
 */
async function benchRun(minutes: number) {
  const current = {
    providers: [providerSchema.parse(REPLAY_SCENARIO.provider)],
    categories: REPLAY_SCENARIO.categories.map((c) => categorySchema.parse(c)),
    flags: flagsSchema.parse({}),
  };
  const toMs = from + minutes * 60_000;
  const arrivals = scenarioArrivals(from, toMs, 8, prng(11));
  const run = await new FleetSimulator({
    config: current,
    fromMs: from,
    toMs,
    instances: 10,
    seed: 3,
  }).run(arrivals);
  return { current, toMs, run };
}

/** First asks of a category recorded in whole minutes before `toMs`. */
function firstAsksOf(
  records: ReturnType<DemandRecorder['records']>,
  category: string,
  toMs: number,
): number {
  return records
    .filter((m) => m.category === category && m.minuteMs < toMs)
    .reduce((n, m) => n + Object.values(m.firstAsks).reduce((a, b) => a + b, 0), 0);
}

describe('replay fidelity, the simulated fleet on the replay bench scenario', () => {
  it('predicts its utilization and deferrals within 2% for every seed, and its asks exactly', async () => {
    const { current, toMs, run } = await benchRun(10);
    const deferrals = (c: Array<{ deferrals: number }>) => c.reduce((s, x) => s + x.deferrals, 0);
    const recorded = {
      utilization: run.limits[0]!.utilization,
      deferrals: deferrals(run.categories),
    };
    expect(recorded.deferrals).toBeGreaterThan(1_500);
    for (const seed of [1, 2, 3, 4]) {
      const report = await replayPolicy({
        fromMs: from,
        toMs,
        demand: run.recorded.records(),
        current,
        policy: {},
        instances: 10,
        seed,
      });
      const replay = report.current;
      // Every call that asked the gate in the range, first asks apart (work items still in the
      // queue at the end never asked it, and are in no record).
      expect(replay.categories.map((c) => [c.category, c.asked])).toEqual(
        run.categories.map((c) => [
          c.category,
          firstAsksOf(run.recorded.records(), c.category, toMs),
        ]),
      );
      const utilization = replay.limits[0]!.utilization;
      expect(Math.abs(utilization / recorded.utilization - 1)).toBeLessThan(0.02);
      expect(Math.abs(deferrals(replay.categories) / recorded.deferrals - 1)).toBeLessThan(0.02);
    }
  }, 120_000);
});

/**
 * The work queues run at the rates the replay is given: the callable passes what the queue sync
 * would set under each policy (workQueueRates in adapters/queues/queue-rates.ts: the work the
 * collections do, whose re-collect calls cost 1, so keepa's queue runs at 1.25 x 20/s x 80% = 20/s
 * here, whatever the deal scans cost). A run of calls of cost 2 through that queue is predicted
 * within 2%; replayed through a queue sized by the calls' cost (10/s), as a first fix had it, the
 * deferrals are off by about two thirds (review: measured 1,785, predicted 585).
 */
describe('replay fidelity, the work queue at the rate production sets', () => {
  it('predicts a run through a 20/s queue of calls costing 2 within 2%', async () => {
    const config = {
      providers: [
        providerSchema.parse({
          id: 'keepa',
          limits: [{ kind: 'tokenBucket', capacity: 60, refillPerSecond: 20 }],
        }),
      ],
      categories: [
        categorySchema.parse({ id: 'deals', provider: 'keepa', sharePercent: 60 }),
        categorySchema.parse({ id: 'history', provider: 'keepa', sharePercent: 20 }),
      ],
      flags: flagsSchema.parse({ maxAwaitSeconds: 1 }),
    };
    const production = queueRateFor(
      config.providers[0]!,
      config.categories,
      [{ work: 'recollect', cost: 1 }],
      {
        maxDispatchesPerSecond: 10,
        maxConcurrentDispatches: 10,
      },
    ).maxDispatchesPerSecond;
    expect(production).toBe(20);
    const toMs = from + 120_000;
    const arrivals = recordedRunArrivals({
      ...FIDELITY_SCENARIO,
      phases: [
        { seconds: 20, callsPerSecond: 24 },
        { seconds: 40, callsPerSecond: 8 },
      ],
      durationMs: 120_000,
      seed: 4,
    }).map((a) => ({
      atMs: from + a.atMs,
      provider: 'keepa',
      category: a.category,
      cost: 2,
      bytes: 0,
      requests: 1,
    }));
    const run = await new FleetSimulator({
      config,
      fromMs: from,
      toMs,
      instances: 5,
      seed: 3,
      queueDispatchesPerSecond: production,
    }).run(arrivals);
    const deferrals = (c: Array<{ deferrals: number }>) => c.reduce((s, x) => s + x.deferrals, 0);
    expect(deferrals(run.categories)).toBeGreaterThan(300);
    const replay = (rate: number) =>
      replayPolicy({
        fromMs: from,
        toMs,
        demand: run.recorded.records(),
        current: config,
        policy: {},
        instances: 5,
        workQueueRates: () => ({ keepa: rate }),
      });
    const report = await replay(production);
    const utilization = report.current.limits[0]!.utilization;
    expect(Math.abs(utilization / run.limits[0]!.utilization - 1)).toBeLessThan(0.02);
    const error = (r: typeof report) =>
      deferrals(r.current.categories) / deferrals(run.categories) - 1;
    expect(Math.abs(error(report))).toBeLessThan(0.02);
    // Sized by the calls' cost instead (10/s): far off.
    expect(Math.abs(error(await replay(10)))).toBeGreaterThan(0.2);
  }, 60_000);
});
