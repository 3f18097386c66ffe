import type { Firestore } from 'firebase-admin/firestore';
import { SelfQuotaMonitor, type SelfQuotaStatus } from '../../core/storage/self-quota';
import { firestoreOps, selfQuotaPauseSeconds, setSelfQuotaSource } from '../observability/metrics';
import { instrumentFirestore, type OpSink } from './firestore-ops';
import { nextRecord, takeTurn, turnOf } from './pace-turn';
import { SelfQuotaLimits } from './self-quota-limits';

/**
 * The Firestore self-quota of a Firestore instance: every operation it makes is counted
 * (firestore-ops.ts), the limits come from `providers/firestore` and the background share from
 * `categories/firestore-pipeline` (read at most once a minute, defaults when absent or
 * invalid), and heavy work paces itself with `paceFirestoreWork(db, work)` between its pages
 * and batches. The instance's default Firestore is attached in firebase.ts; a test attaches
 * its own Firestore to its own monitor.
 *
 * The limits are per instance: each instance has its own monitor and counts only its own
 * operations, so N instances may together spend up to N times the limits. Nothing is shared
 * across the fleet; operators set the limits of `providers/firestore` to the project's limit
 * divided by the most instances they expect to run at once.
 */

/** The growing delay heavy work takes on top of waiting for room is m times this. */
export const PACE_BASE_MS = 100;
/**
 * The longest one `pace` call waits in all (its turn, room in the windows, the delay): the
 * await bound (flags.maxAwaitSeconds, 60 s by default). Past it the work goes on: see
 * `paceFirestoreWork`.
 */
export const PACE_MAX_WAIT_MS = 60_000;
/**
 * After a paced call is let through, the next waiter of the instance waits until that work has
 * spent something (it is then counted) or this long, so waiters are not let into a window
 * together before any of them shows in its count.
 */
export const PACE_ADMIT_HOLD_MS = 1_000;

export type HeavyWork = 'ingest' | 'validation' | 'backup' | 'batch';

export interface SelfQuotaReading extends SelfQuotaStatus {
  limitsSource: 'provider' | 'default';
}

export interface SelfQuota {
  readonly monitor: SelfQuotaMonitor;
  /** Absent when the limits are not read from Firestore (the monitor's own are used). */
  readonly limits: SelfQuotaLimits | undefined;
  /**
   * Holds heavy work at the heavy-work threshold (see `paceFirestoreWork`); answers the ms
   * paused (0: not paced).
   */
  pace(work: HeavyWork): Promise<number>;
  /** The monitor's status after refreshing its limits if due. */
  status(): Promise<SelfQuotaReading>;
}

export interface AttachOptions {
  /** Read the limits from Firestore (default true). */
  limits?: boolean;
  now?: () => number;
  cacheMs?: number;
  sleep?: (ms: number) => Promise<void>;
  paceBaseMs?: number;
  /** The longest one pace call waits in all (PACE_MAX_WAIT_MS). */
  paceMaxWaitMs?: number;
  /** PACE_ADMIT_HOLD_MS. */
  paceAdmitHoldMs?: number;
}

const SELF_QUOTA = Symbol.for('tollgate.selfQuota');

/** The self-quota `db` is attached to; found through wrappers that forward to it. */
export function selfQuotaOf(db: Firestore): SelfQuota | undefined {
  return (db as unknown as Record<symbol, SelfQuota | undefined>)[SELF_QUOTA];
}

/**
 * Counts `db`'s operations into `monitor`, keeps its limits from Firestore and gives heavy work
 * its pace. A Firestore already attached keeps its first attachment (returned).
 */
export function attachSelfQuota(
  db: Firestore,
  monitor: SelfQuotaMonitor,
  options: AttachOptions = {},
): SelfQuota {
  const existing = selfQuotaOf(db);
  if (existing) return existing;
  const limits =
    options.limits === false
      ? undefined
      : new SelfQuotaLimits(db, monitor, { now: options.now, cacheMs: options.cacheMs });
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = options.now ?? Date.now;
  const baseMs = options.paceBaseMs ?? PACE_BASE_MS;
  const maxWaitMs = options.paceMaxWaitMs ?? PACE_MAX_WAIT_MS;
  const holdMs = options.paceAdmitHoldMs ?? PACE_ADMIT_HOLD_MS;
  const sink: OpSink = (op, count) => {
    monitor.record(op, count);
    firestoreOps.inc({ op }, count);
    // Limits also apply to instances that never pace (callables only): read when due.
    void limits?.refresh();
  };
  const quota: SelfQuota = {
    monitor,
    limits,
    async pace(work) {
      const startedMs = now();
      await limits?.refresh();
      const turn = turnOf(monitor);
      const handOn = await takeTurn(turn);
      let slept = 0;
      try {
        /** Sleeps at most what is left of the bound; false when nothing is left. */
        const nap = async (ms: number, until?: Promise<void>): Promise<boolean> => {
          const left = maxWaitMs - Math.max(now() - startedMs, slept);
          if (left <= 0) return false;
          const wantMs = Math.max(1, Math.min(Math.ceil(ms), left));
          const before = now();
          const rang = await (until
            ? Promise.race([until.then(() => false), sleep(wantMs).then(() => true)])
            : sleep(wantMs).then(() => true));
          const pausedMs = rang ? wantMs : Math.max(0, now() - before);
          slept += pausedMs;
          if (pausedMs > 0) selfQuotaPauseSeconds.inc({ work }, pausedMs / 1000);
          return true;
        };
        let delayed = false;
        for (;;) {
          // 1. The call let through before this one has not spent anything yet: its spending
          //    is not counted, so the windows cannot say whether there is room for this one.
          const admitted = turn.admitted;
          if (admitted && monitor.recorded() === admitted.recorded) {
            const holdLeft = admitted.atMs + holdMs - now();
            if (holdLeft > 0) {
              const recorded = nextRecord(monitor);
              const waited = await nap(holdLeft, recorded.promise);
              recorded.cancel();
              if (!waited) break;
              // Whatever happened, that call is not waited for again.
              turn.admitted = undefined;
              continue;
            }
          }
          // 2. A window at or over the heavy-work threshold: wait until it has room.
          const roomMs = monitor.heavyWaitMs();
          if (roomMs > 0) {
            if (!(await nap(roomMs))) break;
            continue;
          }
          // 3. The growing delay of the background multiplier, once, then check again.
          const delayMs = delayed ? 0 : monitor.paceDelayMs(baseMs);
          if (delayMs > 0) {
            delayed = true;
            if (!(await nap(delayMs))) break;
            continue;
          }
          break;
        }
        if (slept > 0) turn.admitted = { atMs: now(), recorded: monitor.recorded() };
        return slept;
      } finally {
        handOn();
      }
    },
    async status() {
      await limits?.refresh();
      return { ...monitor.status(), limitsSource: limits?.source ?? 'default' };
    },
  };
  Object.defineProperty(db, SELF_QUOTA, { value: quota });
  instrumentFirestore(db, sink);
  return quota;
}

/**
 * Heavy work calls this before each page or batch. Under the heavy-work threshold (the soft
 * limit scaled by the `firestore-pipeline` share) and with the background multiplier at 1, it
 * answers at once. While a second or minute window of any op is at or above it, it waits until
 * the window has room (the second turns, the minute's oldest seconds leave it), then takes the
 * multiplier's growing delay on top. Calls of one instance go one at a time, each re-checking
 * after every wait, and a call let through after pausing is waited for until it has spent
 * something (or PACE_ADMIT_HOLD_MS), so concurrent waiters do not all enter the same window.
 * A paused pipeline category (share 1%) slows heavy work to this pace without stopping it.
 *
 * One call never waits longer than the bound (PACE_MAX_WAIT_MS, the await bound, 60 s by
 * default; `paceMaxWaitMs`). Past it the work goes on: ingest, validation and backups have no
 * way to re-enqueue themselves for a Firestore pause (a throw would fail the task or the run),
 * so a bounded wait is the pace they get. Waits are that long only when a heavy-work threshold
 * is below what one page or batch spends in a minute. A Firestore without a self-quota is not
 * paced.
 */
export function paceFirestoreWork(db: Firestore, work: HeavyWork): Promise<number> {
  return selfQuotaOf(db)?.pace(work) ?? Promise.resolve(0);
}

let instance: SelfQuotaMonitor | undefined;

/** This instance's monitor (its default Firestore counts into it). */
export function instanceSelfQuotaMonitor(): SelfQuotaMonitor {
  instance ??= new SelfQuotaMonitor();
  return instance;
}

/** Attaches the instance's default Firestore to the instance's monitor (firebase.ts). */
export function attachInstanceSelfQuota(db: Firestore): SelfQuota {
  return attachSelfQuota(db, instanceSelfQuotaMonitor());
}

setSelfQuotaSource(() => instanceSelfQuotaMonitor().status());
