import type { Firestore } from 'firebase-admin/firestore';
import { Pool } from 'undici';
import { simulatePolicy } from '../../../functions/src/adapters/operations/replay.ts';
import {
  engineWorkPorts,
  WorkRunner,
} from '../../../functions/src/adapters/pipeline/work-runner.ts';
import { QuotaEngine } from '../../../functions/src/adapters/quota/quota-engine.ts';
import { DEMAND_FLUSH_INTERVAL_MS } from '../../../functions/src/adapters/quota/quota-engine-options.ts';
import { WriteBuffer } from '../../../functions/src/adapters/storage/write-buffer.ts';
import { categorySchema, providerSchema } from '../../../functions/src/core/config.ts';
import type { SimulatePolicyResult } from '../../../functions/src/core/operations/index.ts';
import {
  type WorkItem,
  workItemSchema,
  workItemTaskId,
} from '../../../functions/src/core/pipeline/work-items.ts';
import { queueRateFor } from '../../../functions/src/core/queues/queue-rate.ts';
import { QuotaExceededError } from '../../../functions/src/core/quota/errors.ts';
import { prng } from '../../../functions/src/core/replay/sim-clock.ts';
import { LocalQueue } from '../emulators/cloud-tasks/queue.ts';
import { burstFor, DEFAULT_RETRY } from '../emulators/cloud-tasks/queue-rules.ts';
import type { BenchUpstream } from './harness.ts';
import { httpGet } from './harness.ts';
import { shapeUpstream } from './remote-upstream.ts';
import { EnginePool } from './tollgate-limiter.ts';

/**
 * A recorded run, replayed: the fidelity check of policy replay against the real thing rather
 * than against the simulator's own runs. For `durationMs` of wall time, work items arrive
 * (Poisson, at the phases' rates) and go through production's path: a WorkRunner on one of
 * `instances` QuotaEngines on the Firestore emulator, each with its own usage and demand write
 * buffers (the demand buffer flushing every 10 s, as on an instance), granted items calling the
 * token-bucket upstream over HTTP, work items enqueued on a local Cloud Tasks queue (the local
 * stack's LocalQueue: schedule times, a token bucket at the provider's queue rate as
 * queue-rate.ts sizes it) that dispatches them to the next instance, and deferred items
 * re-enqueued on it for their retry time, as production does.
 *
 * Measured on the run: deferrals of asks made within it, and tokens the upstream admitted for
 * calls granted within it, over what its bucket allows (C + r·T). Then `simulatePolicy`, the
 * callable's own code, reads the demand the engines recorded and replays the range: its
 * prediction under the current policy is set against the measurements.
 */

export interface RecordedRunPhase {
  seconds: number;
  callsPerSecond: number;
}

export interface RecordedRunOptions {
  /** A Firestore of its own (a fresh project): the run writes its provider's configuration. */
  db: Firestore;
  upstream: BenchUpstream;
  provider: { id: string; capacity: number; refillPerSecond: number; maxAwaitSeconds: number };
  /** The provider's categories: share, and the fraction of the arrivals that are theirs. */
  categories: Array<{ id: string; sharePercent: number; demand: number }>;
  /** The arrival rate, phase after phase, round again until the run ends. */
  phases: RecordedRunPhase[];
  /** Whole seconds, as the range starts on one. */
  durationMs: number;
  instances: number;
  seed: number;
}

interface Outcome {
  utilization: number;
  deferrals: number;
  deferralsByCategory: Record<string, number>;
  upstream429: number;
}

/**
 * The run the fidelity test and `npm run bench -- --only fidelity` make: a Keepa-like bucket
 * (30 tokens, 10/s) shared 70/30 by deals and history, asked 50/50, so history asks more than
 * its share grants and is deferred; 20 s at 16 calls/s, above what the provider's queue
 * dispatches (12.5/s: work items wait in it, and re-asks share its rate with them), then 40 s at
 * 6 calls/s, round again; 5 instances; the gate holds a call at most 1 s for its tokens (the
 * `maxAwaitSeconds` flag), so calls are deferred rather than held. Its deferrals depend on the
 * queue: replayed with the queue at 12/s or 13/s instead of 12.5/s they move by about 10%.
 */
export const FIDELITY_SCENARIO = {
  provider: { id: 'keepa', capacity: 30, refillPerSecond: 10, maxAwaitSeconds: 1 },
  categories: [
    { id: 'deals', sharePercent: 70, demand: 50 },
    { id: 'history', sharePercent: 30, demand: 50 },
  ],
  phases: [
    { seconds: 20, callsPerSecond: 16 },
    { seconds: 40, callsPerSecond: 6 },
  ],
  instances: 5,
} satisfies Partial<RecordedRunOptions>;

export interface RecordedRunResult {
  fromMs: number;
  toMs: number;
  /** Calls that arrived; those that asked the gate within the range; those the replay read. */
  arrivals: number;
  firstAsks: { asked: number; recorded: number };
  measured: Outcome;
  predicted: Outcome;
  /** (predicted - measured) / measured, in %. */
  error: { utilization: number; deferrals: number };
  queue: { maxDispatchesPerSecond: number; maxBurstSize: number; dispatches: number };
  replay: SimulatePolicyResult;
}

/** Offsets (ms from the start) and categories of the run's first asks. */
export function recordedRunArrivals(
  options: Pick<RecordedRunOptions, 'phases' | 'durationMs' | 'categories' | 'seed'>,
): Array<{ atMs: number; category: string }> {
  const random = prng(options.seed);
  const cycleMs = options.phases.reduce((s, p) => s + p.seconds * 1000, 0);
  const rateAt = (t: number) => {
    let within = t % cycleMs;
    for (const phase of options.phases) {
      if (within < phase.seconds * 1000) return phase.callsPerSecond;
      within -= phase.seconds * 1000;
    }
    return options.phases[0]!.callsPerSecond;
  };
  const total = options.categories.reduce((s, c) => s + c.demand, 0);
  const pick = () => {
    let x = random() * total;
    for (const c of options.categories) {
      x -= c.demand;
      if (x < 0) return c.id;
    }
    return options.categories[options.categories.length - 1]!.id;
  };
  const arrivals: Array<{ atMs: number; category: string }> = [];
  for (let t = 0; ; ) {
    t += (-Math.log(1 - random()) * 1000) / rateAt(t);
    if (t >= options.durationMs) return arrivals;
    arrivals.push({ atMs: Math.floor(t), category: pick() });
  }
}

export async function runRecordedRun(options: RecordedRunOptions): Promise<RecordedRunResult> {
  const { db, upstream, instances } = options;
  const id = options.provider.id;
  const providerDoc = {
    limits: [
      {
        kind: 'tokenBucket',
        capacity: options.provider.capacity,
        refillPerSecond: options.provider.refillPerSecond,
      },
    ],
  };
  await db.doc(`providers/${id}`).set(providerDoc);
  // How long a gate may hold a call for its tokens is a flag (config/flags), not the provider's.
  await db.doc('config/flags').set({ maxAwaitSeconds: options.provider.maxAwaitSeconds });
  for (const c of options.categories) {
    await db.doc(`categories/${c.id}`).set({ provider: id, sharePercent: c.sharePercent });
  }
  const provider = providerSchema.parse({ id, ...providerDoc });
  const categories = options.categories.map((c) =>
    categorySchema.parse({ id: c.id, provider: id, sharePercent: c.sharePercent }),
  );
  // The work queue's rate, deployed as queue-rate.ts sizes it for calls of cost 1 in every
  // category (what the queue sync keeps while no collection says more).
  const rate = queueRateFor(provider, categories, [{ work: 'fidelity call', cost: 1 }], {
    maxDispatchesPerSecond: 500,
    maxConcurrentDispatches: 1000,
  });

  const buffers: WriteBuffer[] = [];
  const pool = new EnginePool({
    instances,
    create: () => {
      const buffer = new WriteBuffer(db);
      const demandBuffer = new WriteBuffer(db, { intervalMs: DEMAND_FLUSH_INTERVAL_MS });
      buffers.push(buffer, demandBuffer);
      return new QuotaEngine(db, { buffer, demandBuffer });
    },
  });
  const http = new Pool(upstream.url, { connections: 32 });
  let queue: LocalQueue | undefined;
  const inFlight = new Set<Promise<void>>();
  let fromMs = 0;
  let toMs = 0;
  let deferrals = 0;
  let firstAsksInRange = 0;
  const deferralsByCategory: Record<string, number> = {};
  let admittedTokens = 0;
  let upstream429 = 0;
  const failures: unknown[] = [];
  const arrivals = recordedRunArrivals(options);
  // Whatever happens, nothing is left running: the queue, the calls, the engines, the buffers.
  const close = async () => {
    queue?.stop();
    while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    await Promise.all(pool.engines().map((e) => e.shutdown()));
    await Promise.all(buffers.map((b) => b.flush()));
    await http.close();
  };
  try {
    await Promise.all(
      pool.engines().flatMap((e) => options.categories.map((c) => e.contexts.context(id, c.id))),
    );
    await shapeUpstream(upstream, options.provider);
    await httpGet(http, '/stats');

    const handler = async (item: WorkItem) => {
      const grantedAt = Date.now();
      const status = await httpGet(http, `/call?cost=${item.cost}`);
      if (status === 429) {
        if (grantedAt < toMs) upstream429++;
        throw new QuotaExceededError(id, 'call', undefined);
      }
      if (status !== 200) throw new Error(`upstream answered ${status}`);
      if (grantedAt < toMs) admittedTokens += item.cost;
      return undefined;
    };
    const run = (item: WorkItem) => {
      const done = pool.run(async (engine) => {
        const askedAt = Date.now();
        if (item.deferrals === 0 && askedAt < toMs) firstAsksInRange++;
        const runner = new WorkRunner(
          engineWorkPorts(engine, async (_queue, next, enqueueOptions) => {
            const added = queue!.add({
              name: enqueueOptions.id,
              body: JSON.stringify(next),
              scheduleTimeMs: enqueueOptions.scheduleTime?.getTime(),
            });
            return added ? 'enqueued' : 'duplicate';
          }),
          () => handler,
          () => `${id}Work`,
        );
        const outcome = await runner.run(item);
        if (outcome.kind === 'deferred' && askedAt < toMs) {
          deferrals++;
          deferralsByCategory[item.category] = (deferralsByCategory[item.category] ?? 0) + 1;
        }
      });
      inFlight.add(done);
      void done.catch(() => undefined).finally(() => inFlight.delete(done));
      return done;
    };
    const workQueue = new LocalQueue(
      {
        name: `projects/demo/locations/local/queues/${id}Work`,
        rateLimits: { ...rate, maxBurstSize: burstFor(rate.maxDispatchesPerSecond) },
        retryConfig: DEFAULT_RETRY,
        defaultUri: '',
      },
      async (task) => {
        try {
          await run(workItemSchema.parse(JSON.parse(task.body)));
          return { status: 200 };
        } catch (error) {
          failures.push(error);
          return { status: 500 };
        }
      },
    );
    queue = workQueue;

    // From a whole second: the record keeps which second a call asked in, so a range of whole
    // seconds is one the replay reads exactly (a partial second is placed at random within it).
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000)));
    await upstream.reset();
    fromMs = Math.floor(Date.now() / 1000) * 1000;
    toMs = fromMs + options.durationMs;
    await new Promise<void>((resolve) => {
      let next = 0;
      const tick = () => {
        const elapsed = Date.now() - fromMs;
        while (next < arrivals.length && arrivals[next]!.atMs <= elapsed) {
          const { category } = arrivals[next]!;
          const item: WorkItem = {
            collection: 'fidelity',
            kind: 'call',
            key: String(next),
            provider: id,
            category,
            cost: 1,
            deferrals: 0,
          };
          // Enqueued, as production enqueues work items: the queue dispatches it when it may.
          workQueue.add({ name: workItemTaskId(item), body: JSON.stringify(item) });
          next++;
        }
        if (next >= arrivals.length) return resolve();
        setTimeout(tick, Math.max(0, arrivals[next]!.atMs - (Date.now() - fromMs)));
      };
      tick();
    });
    // Past the range: what is still waiting in a gate finishes (uncounted), the queue stops.
    await new Promise((r) => setTimeout(r, Math.max(0, toMs - Date.now())));
  } finally {
    await close();
  }
  if (failures.length > 0) {
    throw new AggregateError(failures, `recorded run: ${failures.length} work items failed`);
  }

  // The queue was deployed at `rate`; with no collections, the queue sync keeps it there, and
  // the replay runs the queue the sync would (adapters/queues/queue-rates.ts workQueueRates).
  const replay = await simulatePolicy(
    {
      db,
      now: () => toMs,
      queues: { admin: undefined as never, deployed: () => rate },
    } as unknown as Parameters<typeof simulatePolicy>[0],
    { from: fromMs, to: toMs, policy: {}, provider: id, instances, seed: options.seed },
  );
  const allowed =
    options.provider.capacity + (options.provider.refillPerSecond * (toMs - fromMs)) / 1000;
  const measured = {
    utilization: admittedTokens / allowed,
    deferrals,
    deferralsByCategory,
    upstream429,
  };
  const predicted = {
    utilization: replay.current.limits[0]!.utilization,
    deferrals: replay.current.categories.reduce((s, c) => s + c.deferrals, 0),
    deferralsByCategory: Object.fromEntries(
      replay.current.categories.map((c) => [c.category, c.deferrals]),
    ),
    upstream429: replay.current.upstream429.reduce((s, u) => s + u.count, 0),
  };
  const error = (p: number, m: number) => Number(((100 * (p - m)) / Math.max(1e-9, m)).toFixed(2));
  return {
    fromMs,
    toMs,
    arrivals: arrivals.length,
    firstAsks: { asked: firstAsksInRange, recorded: replay.demand.firstAsks },
    measured,
    predicted,
    error: {
      utilization: error(predicted.utilization, measured.utilization),
      deferrals: error(predicted.deferrals, measured.deferrals),
    },
    queue: {
      maxDispatchesPerSecond: rate.maxDispatchesPerSecond,
      maxBurstSize: burstFor(rate.maxDispatchesPerSecond),
      dispatches: queue?.totals.dispatches ?? 0,
    },
    replay,
  };
}
