import { ABANDONED_AFTER_MS, FUTURE_TOLERANCE_MS } from './scheduled-layout';

/** Which scheduled backups are kept: the newest complete one, and which the retention deletes. */

const DAY_MS = 24 * 3_600_000;

export type BackupState = 'complete' | 'incomplete' | 'corrupt';

export interface ListedBackup {
  id: string;
  createdAtMs: number;
  /** The slot of a complete backup (its manifest's). */
  slotMs?: number;
  state: BackupState;
}

/** Whether a backup is dated after `nowMs` (+ FUTURE_TOLERANCE_MS): then it is ignored. */
export function futureDated(backup: ListedBackup, nowMs: number): boolean {
  const latest = nowMs + FUTURE_TOLERANCE_MS;
  return backup.createdAtMs > latest || (backup.slotMs ?? backup.createdAtMs) > latest;
}

/** The newest backup whose manifest verified, as of `nowMs` (future-dated ones ignored). */
export function newestComplete<T extends ListedBackup>(
  backups: readonly T[],
  nowMs: number,
): T | undefined {
  let newest: T | undefined;
  for (const b of backups) {
    if (b.state !== 'complete' || futureDated(b, nowMs)) continue;
    if (!newest || b.createdAtMs > newest.createdAtMs) newest = b;
  }
  return newest;
}

/**
 * The backups the retention deletes as of `nowMs`: complete (or corrupt) ones started more than
 * `retentionDays` ago, and incomplete ones abandoned (older than ABANDONED_AFTER_MS); never the
 * newest complete one, however old, and never a future-dated one (nor does one count as newest).
 */
export function expiredBackups(
  backups: readonly ListedBackup[],
  nowMs: number,
  retentionDays: number,
  abandonedAfterMs = ABANDONED_AFTER_MS,
): string[] {
  const keep = newestComplete(backups, nowMs)?.id;
  const cutoff = nowMs - retentionDays * DAY_MS;
  return backups
    .filter((b) => {
      if (b.id === keep || futureDated(b, nowMs)) return false;
      if (b.state === 'incomplete') return nowMs - b.createdAtMs > abandonedAfterMs;
      return b.createdAtMs < cutoff;
    })
    .map((b) => b.id);
}
