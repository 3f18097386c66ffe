import type { ImplementedCallable } from './registry';

/** A callable's timeout unless it says otherwise (Cloud Functions' default). */
export const DEFAULT_CALLABLE_TIMEOUT_SECONDS = 60;

/**
 * Callables that run long jobs get a longer timeout than the default minute: the functions are
 * deployed with it (entry/operations/define.ts) and the client waits for it (@tollgate/client).
 */
export const TIMEOUT_SECONDS: Partial<Record<ImplementedCallable, number>> = {
  validateData: 540,
  forceFlush: 300,
  // Paged exports of large projects (adapters/backup/backup-export.ts stops cleanly before the
  // deadline).
  exportBackup: 540,
  // Scheduled restores page by page (adapters/operations/backups.ts starts no page near the
  // deadline and answers the page to resume at).
  importBackup: 540,
  refreshRealtimeSales: 120,
  // Replays up to a day of recorded demand twice (core/replay) in process.
  simulatePolicy: 540,
};
