import { FLEET_RETENTION_MS, FLEET_SHARDS } from '../../core/observability/fleet-stats';
import { FleetAccumulator, type UpstreamCallSample } from '../../core/observability/fleet-writes';
import { logger } from '../../log';
import { installShutdownFlush } from '../storage/shutdown-flush';
import type { Timers } from '../storage/write-buffer-types';

/**
 * The recording half of fleet statistics (layout and reasons: core/observability/fleet-stats.ts): each
 * instance accumulates its upstream calls in memory and hands them to its write buffer as
 * increments of its shard's minute and hour documents, at most once per hand-over period and on
 * shutdown. Kept apart from the reads (fleet-stats.ts) so the HTTP wrapper imports little.
 */

/** What the recorder writes through: the instance's write buffer (or a test's). */
export interface MergeSink {
  merge(path: string, data: Record<string, unknown>): Promise<void>;
  flush?(): Promise<void>;
}

export const DEFAULT_HAND_OVER_MS = 15_000;

export interface FleetRecorderOptions {
  /** This instance's shard; random in [0, FLEET_SHARDS) by default. */
  shard?: number;
  /** Calls are handed over at most this often (and on flush). */
  handOverEveryMs?: number;
  retentionMs?: number;
  now?: () => number;
  timers?: Timers;
}

const unrefTimers: Timers = {
  setTimeout: (callback, ms) => {
    const handle = setTimeout(callback, ms);
    // A pending hand-over never keeps a process alive; shutdown hands over anyway.
    handle.unref?.();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * One instance's recorder of upstream calls. `record` only counts in memory; the counts reach
 * the sink as merge writes when the hand-over period has passed (checked at each call, with a
 * timer for the tail), and on `flush`.
 */
export class FleetStatsRecorder {
  readonly shard: number;
  private readonly accumulator = new FleetAccumulator();
  private readonly everyMs: number;
  private readonly retentionMs: number;
  private readonly now: () => number;
  private readonly timers: Timers;
  private readonly sinkOf: () => MergeSink;
  private sink: MergeSink | undefined;
  private lastHandOverMs: number;
  private timer: unknown;
  private readonly writes = new Set<Promise<void>>();

  constructor(sink: MergeSink | (() => MergeSink), options: FleetRecorderOptions = {}) {
    this.sinkOf = typeof sink === 'function' ? sink : () => sink;
    this.shard = options.shard ?? Math.floor(Math.random() * FLEET_SHARDS);
    this.everyMs = options.handOverEveryMs ?? DEFAULT_HAND_OVER_MS;
    this.retentionMs = options.retentionMs ?? FLEET_RETENTION_MS;
    this.now = options.now ?? Date.now;
    this.timers = options.timers ?? unrefTimers;
    this.lastHandOverMs = this.now();
  }

  record(sample: UpstreamCallSample): void {
    this.accumulator.add(sample);
    if (this.now() - this.lastHandOverMs >= this.everyMs) {
      void this.handOver();
    } else if (this.timer === undefined) {
      this.timer = this.timers.setTimeout(
        () => {
          this.timer = undefined;
          void this.handOver();
        },
        Math.max(0, this.lastHandOverMs + this.everyMs - this.now()),
      );
    }
  }

  /** Hands what was counted to the sink; resolves when those writes are durable (or failed). */
  handOver(): Promise<void> {
    this.lastHandOverMs = this.now();
    if (this.timer !== undefined) {
      this.timers.clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.accumulator.empty) return Promise.resolve();
    const writes = this.accumulator.drain(this.shard, this.retentionMs);
    let sink: MergeSink;
    try {
      this.sink ??= this.sinkOf();
      sink = this.sink;
    } catch (error) {
      logger.warn({ err: error }, 'fleet stats: no write buffer, counts dropped');
      return Promise.resolve();
    }
    const written = Promise.all(
      writes.map((w) =>
        sink.merge(w.path, w.data).catch((error: unknown) => {
          logger.warn({ err: error, path: w.path }, 'fleet stats not written');
        }),
      ),
    ).then(() => undefined);
    this.writes.add(written);
    void written.finally(() => this.writes.delete(written));
    return written;
  }

  /**
   * Hands over everything and waits until it is written (the sink flushed, if it can). A
   * recorder that never handed anything over does not create its sink for this.
   */
  async flush(): Promise<void> {
    const handed = this.handOver();
    await Promise.all([handed, ...this.writes, this.sink?.flush?.()]);
  }
}

let shared: FleetStatsRecorder | undefined;

/**
 * Connects this instance's upstream calls to fleet statistics (the write buffer is created on
 * first hand-over), flushed on SIGTERM. Once per process; later calls return the same recorder.
 */
export function connectFleetStats(
  sink: () => MergeSink,
  options: FleetRecorderOptions = {},
): FleetStatsRecorder {
  if (!shared) {
    shared = new FleetStatsRecorder(sink, options);
    installShutdownFlush(shared);
    // The sink (the instance's buffer, with its own shutdown flush) exists before any signal:
    // one created while a SIGTERM is being handled never hears it, so nothing would re-raise
    // the signal and the instance would wait for its kill.
    sink();
  }
  return shared;
}

/**
 * Counts one upstream attempt (called by the HTTP wrapper for every attempt); nothing happens
 * until the process connected fleet statistics (deployed functions do, see wiring.ts).
 */
export function recordUpstreamCall(sample: UpstreamCallSample): void {
  shared?.record(sample);
}

/** A Cloud Functions process (deployed, or in the Functions emulator), not a test or a tool. */
export function runsAsFunction(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.K_SERVICE || env.FUNCTION_TARGET) || env.FUNCTIONS_EMULATOR === 'true';
}
