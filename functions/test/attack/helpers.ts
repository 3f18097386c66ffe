import { categorySchema, flagsSchema, providerSchema } from '../../src/core/config';
import type { AcquireRequest } from '../../src/core/quota/decision';
import { nextAllocation } from '../../src/core/quota/epochs';
import { Gate } from '../../src/core/quota/gate';
import type { GateContext } from '../../src/core/quota/gate-ports';
import { categories, Fleet, provider } from '../core/quota/fleet-sim';

/**
 * Asks the same call on `instance` again and again, one at a time, each call running to its
 * end, until the gate answers "retry at" (or `max` grants). Returns the grants and the last
 * answer's reason.
 */
export async function drainOn(
  fleet: Fleet,
  instance: number,
  request: AcquireRequest,
  max = 10_000,
  actual?: { cost: number; bytes: number; requests: number },
): Promise<{ grants: number; reason?: string; retryAtMs?: number }> {
  let grants = 0;
  for (; grants < max; ) {
    const before = fleet.retries.length;
    const calls = fleet.calls.length;
    const asked = fleet.ask(instance, request, {
      durationMs: 1,
      actual: actual ?? {
        cost: request.cost ?? 1,
        bytes: request.bytes ?? 0,
        requests: request.requests ?? 1,
      },
    });
    await settleAll(fleet);
    await asked;
    if (fleet.retries.length > before) {
      const last = fleet.retries.at(-1)!;
      return { grants, reason: last.reason, retryAtMs: last.retryAtMs };
    }
    if (fleet.calls.length === calls) return { grants, reason: 'no call' };
    grants++;
  }
  return { grants };
}

export function sumBy<T>(items: readonly T[], f: (t: T) => number): number {
  return items.reduce((s, t) => s + f(t), 0);
}

/**
 * A worker that keeps asking for `request` on `instance` until `untilMs` (true time): granted
 * calls run 1 ms; told to retry, it sleeps until then (at most `maxSleepMs`).
 */
export async function worker(
  fleet: Fleet,
  instance: number,
  request: AcquireRequest,
  untilMs: number,
  maxSleepMs = 1_000,
): Promise<void> {
  while (fleet.clock.t < untilMs) {
    const before = fleet.retries.length;
    await fleet.ask(instance, request, {
      durationMs: 1,
      actual: {
        cost: request.cost ?? 1,
        bytes: request.bytes ?? 0,
        requests: request.requests ?? 1,
      },
    });
    // Retries of this worker only (other workers' answers land in the same log).
    const mine = fleet.retries.slice(before).filter((r) => r.instance === instance);
    if (mine.length > 0) {
      const retryAtMs = mine.at(-1)!.retryAtMs;
      await fleet.clock.sleep(Math.min(Math.max(1, retryAtMs - fleet.clock.t), maxSleepMs));
    } else await fleet.clock.sleep(1);
  }
}

function rest(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * The fleet's VirtualClock checks for work in progress only before its last rest, so a timer
 * can fire (and virtual time jump, up to the next timer) while a gate is between two claim
 * writes. For attacks that need claims to take no virtual time, this replaces runUntil on the
 * fleet's clock with one that fires a timer only once no port call is in progress.
 */
export function stableClock(fleet: Fleet): Fleet {
  const clock = fleet.clock as unknown as {
    t: number;
    working: number;
    spins: number;
    timers: Array<{ at: number; seq: number; fire: () => void }>;
    runUntil(target: number): Promise<void>;
  };
  clock.runUntil = async (target: number) => {
    for (let spins = 0; ; spins++) {
      clock.spins++;
      for (let quiet = 0, turns = 0; quiet < 3; turns++) {
        if (turns > 200_000)
          throw new Error(`work never ends at ${clock.t}: ${clock.working} port calls in progress`);
        await rest();
        if (clock.working > 0) quiet = 0;
        else quiet++;
      }
      if (spins > 1_000_000) throw new Error(`virtual time stuck at ${clock.t}`);
      clock.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = clock.timers[0];
      if (!next || next.at > target) break;
      clock.timers.shift();
      clock.t = Math.max(clock.t, next.at);
      next.fire();
    }
    clock.t = Math.max(clock.t, target);
    await rest();
  };
  return fleet;
}

/** Workers that always want more, one per entry of `requests` (instance = index % instances). */
export async function saturate(
  fleet: Fleet,
  requests: AcquireRequest[],
  untilMs: number,
  during?: (t: number) => void | Promise<void>,
  stepMs = 1_000,
): Promise<void> {
  const workers = requests.map((request, w) => worker(fleet, w, request, untilMs));
  for (let t = fleet.clock.t; t < untilMs; t += stepMs) {
    await fleet.clock.runUntil(t);
    await during?.(t);
  }
  await fleet.clock.runUntil(untilMs);
  await finish(fleet, workers);
}

/** Runs the fleet until the given workers have stopped and every call has ended. */
export async function finish(fleet: Fleet, workers: Array<Promise<unknown>>): Promise<void> {
  let done = false;
  const all = Promise.all(workers).then(() => {
    done = true;
  });
  await settleAll(fleet, undefined, () => !done);
  await all;
}

/** Like fleet.settle(), but patient with long claim runs (many writes, no timer meanwhile). */
export async function settleAll(
  fleet: Fleet,
  maxTurns = 2_000_000,
  busy: () => boolean = () => false,
): Promise<void> {
  const clock = fleet.clock as unknown as { timers: Array<{ at: number }> };
  for (
    let turns = 0;
    busy() || fleet.open > 0 || fleet.inFlight > 0 || fleet.settling > 0;
    turns++
  ) {
    if (turns > maxTurns) throw new Error('the fleet never came to rest');
    if (process.env.ATTACK_TRACE && turns % 10_000 === 0)
      console.log(
        'settleAll',
        turns,
        fleet.clock.t,
        fleet.open,
        fleet.inFlight,
        fleet.settling,
        clock.timers.length,
      );
    if (clock.timers.length > 0) {
      await fleet.clock.runUntil(Math.min(...clock.timers.map((t) => t.at)));
    } else await rest();
  }
}

/**
 * One gate on its own, with in-memory claims and a manual clock (sleep advances it), like
 * gate.test.ts: for attacks that need no fleet.
 */
export function soloGate(
  providerInput: Record<string, unknown>,
  shares: Record<string, number>,
  startMs: number,
) {
  let now = startMs;
  const provider = providerSchema.parse({ id: 'p', ...providerInput });
  const cats = Object.entries(shares).map(([id, sharePercent]) =>
    categorySchema.parse({ id, provider: 'p', sharePercent }),
  );
  const allocation = nextAllocation(undefined, provider, cats, 0).allocation;
  const claimed = new Map<string, string>();
  const counters = { claims: 0 };
  const context: Omit<GateContext, 'category'> = {
    provider,
    allocation,
    flags: flagsSchema.parse({}),
    cooldownUntilMs: undefined,
  };
  const gate = new Gate({
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
    random: () => 0.3,
    context: async (_p, category) => ({
      ...context,
      category: cats.find((c) => c.id === category),
    }),
    claim: async (k, ref) => {
      counters.claims++;
      const id = `${k}/${ref.id}`;
      if (claimed.has(id)) return false;
      claimed.set(id, 'block');
      return true;
    },
    claimRun: async (k, run) => {
      counters.claims++;
      const all = [...run.pages, ...run.blocks];
      const taken = all.filter((ref) => claimed.has(`${k}/${ref.id}`)).map((ref) => ref.id);
      if (taken.length > 0) return taken;
      for (const ref of run.blocks) claimed.set(`${k}/${ref.id}`, 'block');
      for (const ref of run.pages) claimed.set(`${k}/${ref.id}`, 'whole');
      return [];
    },
    claimPage: async (k, page, mode) => {
      counters.claims++;
      const id = `${k}/${page.id}`;
      const existing = claimed.get(id);
      if (existing) return existing === 'split' ? 'split' : 'taken';
      claimed.set(id, mode);
      return mode === 'whole' ? 'won' : 'split';
    },
  });
  return {
    gate,
    context,
    counters,
    now: () => now,
    advanceTo: (t: number) => {
      now = Math.max(now, t);
    },
  };
}

/**
 * The attacks' usual fleet: one provider with `limits` and a 600 ms margin (unless given),
 * categories at `shares`, six instances on skewed clocks, on a stable clock.
 */
export function skewedFleet(options: {
  startMs: number;
  limits: Array<Record<string, unknown>>;
  shares: Record<string, number>;
  offsetsMs: number[];
  seed: number;
  marginMs?: number;
}): Fleet {
  return stableClock(
    new Fleet({
      startMs: options.startMs,
      provider: provider(options.limits, options.marginMs ?? 600),
      categories: categories(options.shares),
      instances: options.offsetsMs.length,
      offsetsMs: options.offsetsMs,
      seed: options.seed,
    }),
  );
}

/**
 * `n` workers for provider `p`, alternating between categories b and a, willing to wait 0,
 * 100 or 1,000 ms in turn; `more` adds fields per worker.
 */
export function alternatingWorkers(
  n: number,
  more: (w: number) => Partial<AcquireRequest> = () => ({}),
): AcquireRequest[] {
  return Array.from({ length: n }, (_, w) => ({
    provider: 'p',
    category: w % 2 ? 'a' : 'b',
    maxWaitMs: [0, 100, 1_000][w % 3],
    ...more(w),
  }));
}
