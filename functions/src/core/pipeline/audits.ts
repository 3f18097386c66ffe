import { z } from 'zod';
import type { Flags } from '../config';
import { type ChunkResult, chunkId, type Interval } from './backfill';

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

/**
 * An audit begun but not finished: its window, fixed when it began, and the chunks stored so
 * far. An audit longer than one cycle (a week of reports over several marketplaces at
 * SP-API's one report a minute) goes on where it stopped instead of starting over.
 */
export const auditProgressSchema = z.object({
  startMs: z.number(),
  endMs: z.number(),
  beganAtMs: z.number(),
  /** Ids of the chunks stored (backfill.ts chunkId). */
  done: z.array(z.string()).max(10_000).default([]),
});
export type AuditProgress = z.infer<typeof auditProgressSchema>;
export const auditProgressesSchema = z.object({
  daily: auditProgressSchema.nullable().default(null),
  weekly: auditProgressSchema.nullable().default(null),
});
export type AuditProgresses = z.infer<typeof auditProgressesSchema>;

export type AuditFlags = Pick<Flags, 'dailyAuditEnabled' | 'weeklyAuditEnabled'>;

export interface DueAudit extends Interval {
  kind: AuditKind;
  /** When this audit began: a resumed one keeps its first cycle's time. */
  beganAtMs: number;
  /** Chunks a previous cycle of this audit already stored. */
  done: string[];
}

export function auditWindowMs(kind: AuditKind, config: AuditConfig): number {
  const hours = kind === 'daily' ? config.dailyWindowHours : config.weeklyWindowHours;
  return Math.round(hours * HOUR_MS);
}

/**
 * The audits to run now, with the window each re-fetches: an audit in progress goes on with
 * its own window (unless it began a whole window ago: then it starts over), else an overdue
 * one begins.
 */
export function dueAudits(
  flags: AuditFlags,
  lastRuns: Partial<AuditRuns> | undefined,
  now: number,
  config: AuditConfig = DEFAULT_AUDIT_CONFIG,
  progress?: Partial<AuditProgresses>,
): DueAudit[] {
  const enabled: Record<AuditKind, boolean> = {
    daily: flags.dailyAuditEnabled,
    weekly: flags.weeklyAuditEnabled,
  };
  const endMs = now - Math.round(config.safeLagMinutes * MINUTE_MS);
  const toleranceMs = Math.round(config.earlyToleranceMinutes * MINUTE_MS);
  return auditKinds.flatMap((kind): DueAudit[] => {
    const windowMs = auditWindowMs(kind, config);
    if (!enabled[kind]) return [];
    const begun = progress?.[kind];
    if (begun && now - begun.beganAtMs < windowMs) {
      const { startMs, endMs: end, beganAtMs, done } = begun;
      return [{ kind, startMs, endMs: end, beganAtMs, done }];
    }
    const last = lastRuns?.[kind] ?? null;
    if (last !== null && now - last < windowMs - toleranceMs) return [];
    return [{ kind, startMs: endMs - windowMs, endMs, beganAtMs: now, done: [] }];
  });
}

/**
 * What a cycle of an audit leaves: done once every chunk of its window is stored (in this
 * cycle or an earlier one), recorded as run when it began, so consecutive audits cover time
 * without gaps; else its progress, for the next cycle to go on from.
 */
export function recordAuditProgress(
  lastRuns: Partial<AuditRuns> | undefined,
  audit: DueAudit,
  chunkIds: readonly string[],
  results: readonly ChunkResult[],
): { lastRuns: AuditRuns; progress: AuditProgress | null; recorded: boolean } {
  const runs: AuditRuns = { daily: lastRuns?.daily ?? null, weekly: lastRuns?.weekly ?? null };
  const stored = new Set(audit.done);
  for (const r of results) if (r.outcome === 'stored') stored.add(chunkId(r.chunk));
  if (chunkIds.length > 0 && chunkIds.every((id) => stored.has(id))) {
    return { lastRuns: { ...runs, [audit.kind]: audit.beganAtMs }, progress: null, recorded: true };
  }
  const { startMs, endMs, beganAtMs } = audit;
  const done = chunkIds.filter((id) => stored.has(id));
  return { lastRuns: runs, progress: { startMs, endMs, beganAtMs, done }, recorded: false };
}
