import { describe, expect, it } from 'vitest';
import { flagsSchema } from '../../../src/core/config';
import {
  auditConfigSchema,
  auditRunsSchema,
  dueAudits,
  recordAuditRun,
} from '../../../src/core/pipeline/audits';
import type { ChunkResult } from '../../../src/core/pipeline/backfill';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2026, 0, 10, 0, 15, 0);
const END = NOW - 5 * MINUTE;
const defaults = flagsSchema.parse({});
const never = auditRunsSchema.parse({});

describe('audit scheduling', () => {
  it('runs the daily audit by default, not the weekly one', () => {
    expect(never).toEqual({ daily: null, weekly: null });
    expect(dueAudits(defaults, never, NOW)).toEqual([
      { kind: 'daily', startMs: END - DAY, endMs: END },
    ]);
  });

  it('follows the runtime flags', () => {
    const both = { dailyAuditEnabled: true, weeklyAuditEnabled: true };
    expect(dueAudits(both, never, NOW)).toEqual([
      { kind: 'daily', startMs: END - DAY, endMs: END },
      { kind: 'weekly', startMs: END - 7 * DAY, endMs: END },
    ]);
    expect(dueAudits({ dailyAuditEnabled: false, weeklyAuditEnabled: false }, never, NOW)).toEqual(
      [],
    );
  });

  it('runs an audit only when overdue', () => {
    const flags = { dailyAuditEnabled: true, weeklyAuditEnabled: true };
    const runs = { daily: NOW - 12 * HOUR, weekly: NOW - 3 * DAY };
    expect(dueAudits(flags, runs, NOW)).toEqual([]);
    expect(dueAudits(flags, runs, NOW + 12 * HOUR).map((a) => a.kind)).toEqual(['daily']);
    expect(dueAudits(flags, runs, NOW + 4 * DAY).map((a) => a.kind)).toEqual(['daily', 'weekly']);
  });

  it('tolerates a scheduler firing a little early', () => {
    const runs = { daily: NOW - DAY + MINUTE };
    expect(dueAudits(defaults, runs, NOW)).toHaveLength(1);
    expect(dueAudits(defaults, { daily: NOW - DAY + 3 * MINUTE }, NOW)).toEqual([]);
    const strict = auditConfigSchema.parse({ earlyToleranceMinutes: 0 });
    expect(dueAudits(defaults, runs, NOW, strict)).toEqual([]);
  });

  it('uses the configured windows', () => {
    const config = auditConfigSchema.parse({ dailyWindowHours: 12, safeLagMinutes: 0 });
    expect(dueAudits(defaults, { daily: NOW - 12 * HOUR }, NOW, config)).toEqual([
      { kind: 'daily', startMs: NOW - 12 * HOUR, endMs: NOW },
    ]);
  });

  it('records a run only when every chunk was stored', () => {
    const chunk = { startMs: END - DAY, endMs: END };
    const stored: ChunkResult[] = [{ chunk, outcome: 'stored' }];
    expect(recordAuditRun(never, 'daily', stored, NOW)).toEqual({
      lastRuns: { daily: NOW, weekly: null },
      recorded: true,
    });
    for (const failed of [
      [{ chunk, outcome: 'quota-error' }],
      [{ chunk, outcome: 'other-error', message: 'x' }],
      [{ chunk, outcome: 'not-attempted' }],
      [],
    ] as ChunkResult[][]) {
      const outcome = recordAuditRun({ daily: NOW - 2 * DAY }, 'daily', failed, NOW);
      expect(outcome).toEqual({
        lastRuns: { daily: NOW - 2 * DAY, weekly: null },
        recorded: false,
      });
      expect(dueAudits(defaults, outcome.lastRuns, NOW + 15 * MINUTE)).toHaveLength(1);
    }
  });
});
