import { z } from 'zod';
import type { Flags } from '../config';
import type { ChunkResult, Interval } from './backfill';

/**
 * Audits re-fetch a whole past window (a day, a week) to catch what the upstream restated after
 * the backfill fetched it. Each is a runtime flag (config/flags) and runs only when overdue:
 * its interval equals its window, so consecutive audits cover time without gaps.
 */

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

export const auditKinds = ['daily', 'weekly'] as const;
export type AuditKind = (typeof auditKinds)[number];

export const auditConfigSchema = z.object({
  dailyWindowHours: z.number().positive().default(24),
  weeklyWindowHours: z
    .number()
    .positive()
    .default(7 * 24),
  /** Windows end this long before now, as backfills do. */
  safeLagMinutes: z.number().nonnegative().default(5),
  /**
   * Schedulers fire a little early or late; an audit this close to due counts as due, so a
   * daily audit on a 15-minute cycle does not slip by one cycle every day.
   */
  earlyToleranceMinutes: z.number().nonnegative().default(2),
});
export type AuditConfig = z.infer<typeof auditConfigSchema>;
export const DEFAULT_AUDIT_CONFIG: AuditConfig = auditConfigSchema.parse({});

const epochMs = z.number().int().nonnegative().nullable().default(null);
/** When each audit last completed (every chunk stored); null if never. */
export const auditRunsSchema = z.object({ daily: epochMs, weekly: epochMs });
export type AuditRuns = z.infer<typeof auditRunsSchema>;

export type AuditFlags = Pick<Flags, 'dailyAuditEnabled' | 'weeklyAuditEnabled'>;

export interface DueAudit extends Interval {
  kind: AuditKind;
}

export function auditWindowMs(kind: AuditKind, config: AuditConfig): number {
  const hours = kind === 'daily' ? config.dailyWindowHours : config.weeklyWindowHours;
  return Math.round(hours * HOUR_MS);
}

/** The audits to run now, with the window each re-fetches. */
export function dueAudits(
  flags: AuditFlags,
  lastRuns: Partial<AuditRuns> | undefined,
  now: number,
  config: AuditConfig = DEFAULT_AUDIT_CONFIG,
): DueAudit[] {
  const enabled: Record<AuditKind, boolean> = {
    daily: flags.dailyAuditEnabled,
    weekly: flags.weeklyAuditEnabled,
  };
  const endMs = now - Math.round(config.safeLagMinutes * MINUTE_MS);
  const toleranceMs = Math.round(config.earlyToleranceMinutes * MINUTE_MS);
  return auditKinds.flatMap((kind): DueAudit[] => {
    const windowMs = auditWindowMs(kind, config);
    const last = lastRuns?.[kind] ?? null;
    if (!enabled[kind] || (last !== null && now - last < windowMs - toleranceMs)) return [];
    return [{ kind, startMs: endMs - windowMs, endMs }];
  });
}

/**
 * Records an audit run only when all of its chunks were stored; otherwise it stays overdue and
 * runs again next cycle.
 */
export function recordAuditRun(
  lastRuns: Partial<AuditRuns> | undefined,
  kind: AuditKind,
  results: readonly ChunkResult[],
  now: number,
): { lastRuns: AuditRuns; recorded: boolean } {
  const runs: AuditRuns = { daily: lastRuns?.daily ?? null, weekly: lastRuns?.weekly ?? null };
  if (results.length === 0 || results.some((r) => r.outcome !== 'stored')) {
    return { lastRuns: runs, recorded: false };
  }
  return { lastRuns: { ...runs, [kind]: now }, recorded: true };
}
