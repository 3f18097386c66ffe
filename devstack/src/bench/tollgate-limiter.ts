import type { QuotaEngine } from '../../../functions/src/adapters/quota/quota-engine.ts';
import type { LimiterAnswer, QuotaLimiter } from './harness.ts';
import { meterSleeps } from './latency.ts';

interface Slot {
  engine: QuotaEngine;
  /** Calls routed to this engine so far. */
  calls: number;
  inflight: number;
  /** Set while the engine drains, shuts down and is replaced: no calls are routed to it. */
  replacing?: Promise<void>;
  drained?: () => void;
}

export interface EnginePoolOptions {
  instances: number;
  /** Creates an instance's engine (cold: nothing cached, nothing held). */
  create(): QuotaEngine;
  /**
   * Calls an engine serves before it is recycled: it stops receiving calls, finishes those in
   * flight, `await engine.shutdown()` gives back what it holds, and only then a new engine
   * takes its place. Infinity (default): instances live for the whole run.
   */
  lifetimeCalls?: number;
}

export interface EnginePoolStats {
  /** Engines created, the first `instances` included. */
  enginesCreated: number;
  /** Engines shut down and replaced. */
  recycled: number;
  /** Calls that found every instance being replaced and waited for one. */
  waitedForInstance: number;
  /** `gate.stats` summed over every engine, retired ones included. */
  gate: Record<string, number>;
}

/**
 * Simulated function instances, each with its own QuotaEngine, taking calls round-robin
 * (a load balancer skipping instances that are going away), optionally recycled every
 * `lifetimeCalls` calls.
 */
export class EnginePool {
  private readonly slots: Slot[];
  private readonly lifetime: number;
  private next = 0;
  private retiredWrites = 0;
  private readonly retiredGate: Record<string, number> = {};
  private readonly replacements = new Set<Promise<void>>();
  private readonly counts = { enginesCreated: 0, recycled: 0, waitedForInstance: 0 };

  constructor(private readonly options: EnginePoolOptions) {
    this.lifetime = options.lifetimeCalls ?? Number.POSITIVE_INFINITY;
    this.slots = Array.from({ length: options.instances }, () => ({
      engine: this.create(),
      calls: 0,
      inflight: 0,
    }));
  }

  /** The engines serving now. */
  engines(): QuotaEngine[] {
    return this.slots.map((s) => s.engine);
  }

  private create(): QuotaEngine {
    this.counts.enginesCreated++;
    return this.options.create();
  }

  /** Runs `fn` on the next live instance; recycles it once it has served its lifetime. */
  async run<T>(fn: (engine: QuotaEngine) => Promise<T>): Promise<T> {
    let slot = this.pick();
    if (!slot) this.counts.waitedForInstance++;
    while (!slot) {
      await Promise.race(this.replacements);
      slot = this.pick();
    }
    const { engine } = slot;
    slot.calls++;
    slot.inflight++;
    if (slot.calls >= this.lifetime) this.replace(slot);
    try {
      return await fn(engine);
    } finally {
      slot.inflight--;
      if (slot.inflight === 0) slot.drained?.();
    }
  }

  private pick(): Slot | undefined {
    for (let i = 0; i < this.slots.length; i++) {
      const slot = this.slots[this.next++ % this.slots.length]!;
      if (!slot.replacing) return slot;
    }
    return undefined;
  }

  private replace(slot: Slot): void {
    const old = slot.engine;
    const drained = new Promise<void>((resolve) => {
      slot.drained = resolve;
    });
    const replacing = (async () => {
      if (slot.inflight > 0) await drained;
      await old.shutdown();
      this.retire(old);
      slot.engine = this.create();
      slot.calls = 0;
      slot.drained = undefined;
      slot.replacing = undefined;
      this.counts.recycled++;
    })();
    // Calls routed to this slot's engine are still counted in `inflight` (this one included).
    slot.replacing = replacing;
    this.replacements.add(replacing);
    void replacing.finally(() => this.replacements.delete(replacing));
  }

  private retire(engine: QuotaEngine): void {
    this.retiredWrites += engine.firestoreWrites();
    addNumbers(this.retiredGate, engine.gate.stats);
  }

  /** Waits for replacements under way (so every retired engine's counts are in). */
  async settle(): Promise<void> {
    while (this.replacements.size > 0) await Promise.all(this.replacements);
  }

  firestoreWrites(): number {
    return this.retiredWrites + this.slots.reduce((sum, s) => sum + s.engine.firestoreWrites(), 0);
  }

  stats(): EnginePoolStats {
    const gate = { ...this.retiredGate };
    for (const slot of this.slots) addNumbers(gate, slot.engine.gate.stats);
    return { ...this.counts, gate };
  }
}

function addNumbers(into: Record<string, number>, from: object): void {
  for (const [key, value] of Object.entries(from)) {
    if (typeof value === 'number') into[key] = (into[key] ?? 0) + value;
  }
}

export interface TollgateLimiterOptions {
  pool: EnginePool;
  provider: string;
  /** The category a worker's calls are made for. */
  categoryFor(worker: number): string;
  /** The gate awaits reserved tokens up to this long (the engines must sleep with meteredSleep). */
  maxWaitMs: number;
}

/** Deferrals of one reason: how many, and the longest "retry in" answered, in seconds. */
export interface DeferralTally {
  count: number;
  maxRetryInS: number;
}

/**
 * Tollgate's gate as the harness drives it. Each call's in-process wait for reserved tokens is
 * measured (the engines sleep through `meteredSleep`) and reported as `sleptMs`, so the harness
 * can tell the decision's own cost from that wait. Deferrals are tallied by reason.
 */
export function tollgateLimiter(
  opts: TollgateLimiterOptions,
): QuotaLimiter & { deferralsByReason: Record<string, DeferralTally> } {
  const deferralsByReason: Record<string, DeferralTally> = {};
  return {
    name: 'tollgate',
    deferralsByReason,
    acquire: (cost, worker = 0) =>
      opts.pool.run(async (engine): Promise<LimiterAnswer> => {
        const { value: decision, sleptMs } = await meterSleeps(() =>
          engine.acquire({
            provider: opts.provider,
            category: opts.categoryFor(worker),
            cost,
            maxWaitMs: opts.maxWaitMs,
          }),
        );
        if (decision.kind === 'granted') {
          decision.release();
          return { granted: true, sleptMs };
        }
        const reason = decision.detail ? `${decision.reason}: ${decision.detail}` : decision.reason;
        const tally = deferralsByReason[reason] ?? { count: 0, maxRetryInS: 0 };
        deferralsByReason[reason] = tally;
        tally.count++;
        const retryInS = Math.round((decision.atMs - Date.now()) / 100) / 10;
        tally.maxRetryInS = Math.max(tally.maxRetryInS, retryInS);
        return { granted: false, retryAtMs: decision.atMs, sleptMs };
      }),
    firestoreWrites: () => opts.pool.firestoreWrites(),
  };
}
