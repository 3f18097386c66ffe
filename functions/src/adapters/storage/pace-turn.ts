// The pacing turn of a self-quota monitor: heavy work of one instance is let through one call at
// a time, and a call can wait for the monitor's next record.
import type { SelfQuotaMonitor } from '../../core/storage/self-quota';

/**
 * The pacing turn of one monitor (one instance): heavy work is let through one call at a time,
 * each re-checking the windows after every wait, so waiters released by the same turn of a
 * window do not all spend its room at once.
 */
export interface PaceTurn {
  tail: Promise<void>;
  /** The last call let through after pausing, and what the monitor had counted by then. */
  admitted?: { atMs: number; recorded: number };
}

const turns = new WeakMap<SelfQuotaMonitor, PaceTurn>();

export function turnOf(monitor: SelfQuotaMonitor): PaceTurn {
  let turn = turns.get(monitor);
  if (!turn) {
    turn = { tail: Promise.resolve() };
    turns.set(monitor, turn);
  }
  return turn;
}

/** Waits for the turn; answers the function that hands it on. */
export async function takeTurn(turn: PaceTurn): Promise<() => void> {
  const before = turn.tail;
  let done!: () => void;
  turn.tail = new Promise<void>((resolve) => {
    done = resolve;
  });
  await before;
  return done;
}

/** Resolves at the monitor's next record. */
export function nextRecord(monitor: SelfQuotaMonitor): {
  promise: Promise<void>;
  cancel: () => void;
} {
  let off: () => void = () => undefined;
  const promise = new Promise<void>((resolve) => {
    off = monitor.onRecord(() => {
      off();
      resolve();
    });
  });
  return { promise, cancel: () => off() };
}
