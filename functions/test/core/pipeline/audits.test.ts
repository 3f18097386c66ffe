import { describe, expect, it } from 'vitest';
import { flagsSchema } from '../../../src/core/config';
import {
  type AuditProgress,
  auditConfigSchema,
  auditRunsSchema,
  dueAudits,
  recordAuditProgress,
} from '../../../src/core/pipeline/audits';
import { type ChunkResult, chunkId, chunkWindow } from '../../../src/core/pipeline/backfill';

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
      { kind: 'daily', startMs: END - DAY, endMs: END, beganAtMs: NOW, done: [] },
    ]);
  });

  it('follows the runtime flags', () => {
    const both = { dailyAuditEnabled: true, weeklyAuditEnabled: true };
    expect(dueAudits(both, never, NOW)).toEqual([
      { kind: 'daily', startMs: END - DAY, endMs: END, beganAtMs: NOW, done: [] },
      { kind: 'weekly', startMs: END - 7 * DAY, endMs: END, beganAtMs: NOW, done: [] },
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
      { kind: 'daily', startMs: NOW - 12 * HOUR, endMs: NOW, beganAtMs: NOW, done: [] },
    ]);
  });

  it('records a run only when every chunk was stored', () => {
    const chunk = { startMs: END - DAY, endMs: END };
    const [audit] = dueAudits(defaults, never, NOW);
    const ids = [chunkId(chunk)];
    const stored: ChunkResult[] = [{ chunk, outcome: 'stored' }];
    expect(recordAuditProgress(never, audit!, ids, stored)).toEqual({
      lastRuns: { daily: NOW, weekly: null },
      progress: null,
      recorded: true,
    });
    for (const failed of [
      [{ chunk, outcome: 'quota-error' }],
      [{ chunk, outcome: 'other-error', message: 'x' }],
      [{ chunk, outcome: 'not-attempted' }],
      [],
    ] as ChunkResult[][]) {
      const outcome = recordAuditProgress({ daily: NOW - 2 * DAY }, audit!, ids, failed);
      expect(outcome).toMatchObject({
        lastRuns: { daily: NOW - 2 * DAY, weekly: null },
        recorded: false,
      });
      expect(
        dueAudits(defaults, outcome.lastRuns, NOW + 15 * MINUTE, undefined, {
          daily: outcome.progress,
        }),
      ).toHaveLength(1);
    }
  });

  it('goes on where a long audit stopped, with its window, and records when it began', () => {
    const weekly = { dailyAuditEnabled: false, weeklyAuditEnabled: true };
    const [audit] = dueAudits(weekly, never, NOW);
    const chunks = chunkWindow(audit!.startMs, audit!.endMs, 6 * HOUR);
    expect(chunks).toHaveLength(28);
    const ids = chunks.map(chunkId);
    let runs = never;
    let progress: AuditProgress | null = null;
    let at = NOW;
    const fetched: string[] = [];
    // Each cycle, 15 minutes apart, stores four more chunks; one fails and is fetched again.
    for (let cycle = 0; cycle < 20; cycle++) {
      const [due] = dueAudits(weekly, runs, at, undefined, { weekly: progress });
      if (!due) break;
      expect(due).toMatchObject({ startMs: audit!.startMs, endMs: audit!.endMs, beganAtMs: NOW });
      const todo = chunks.filter((c) => !due.done.includes(chunkId(c))).slice(0, 4);
      const results: ChunkResult[] = todo.map((chunk, i) => ({
        chunk,
        outcome: cycle === 1 && i === 0 ? 'other-error' : 'stored',
        message: 'x',
      }));
      for (const r of results) if (r.outcome === 'stored') fetched.push(chunkId(r.chunk));
      const outcome = recordAuditProgress(runs, due, ids, results);
      runs = outcome.lastRuns;
      progress = outcome.progress;
      at += 15 * MINUTE;
    }
    // Every chunk once, the audit recorded as run when it began: the next is due a week later.
    expect([...fetched].sort()).toEqual([...ids].sort());
    expect(runs.weekly).toBe(NOW);
    expect(progress).toBeNull();
    expect(dueAudits(weekly, runs, at, undefined, { weekly: progress })).toEqual([]);
    expect(dueAudits(weekly, runs, NOW + 7 * DAY)).toHaveLength(1);
  });

  it('starts over an audit in progress for a whole window', () => {
    const weekly = { dailyAuditEnabled: false, weeklyAuditEnabled: true };
    const stale = { startMs: 0, endMs: 1, beganAtMs: NOW - 7 * DAY, done: [] };
    expect(dueAudits(weekly, never, NOW, undefined, { weekly: stale })).toEqual([
      { kind: 'weekly', startMs: END - 7 * DAY, endMs: END, beganAtMs: NOW, done: [] },
    ]);
  });
});
