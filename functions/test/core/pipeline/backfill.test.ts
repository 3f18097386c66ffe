import { describe, expect, it } from 'vitest';
import {
  applyChunkResults,
  type BackfillState,
  backfillConfigSchema,
  type ChunkResult,
  chunkWindow,
  EMPTY_BACKFILL_STATE,
  type Interval,
  planBackfill,
} from '../../../src/core/pipeline/backfill';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const NOW = Date.UTC(2026, 0, 10, 12, 0, 0);
const END = NOW - 5 * MINUTE;

const spans = (windows: Interval[]) =>
  windows.map((w) => [(w.startMs - END) / HOUR, (w.endMs - END) / HOUR]);

describe('backfill planning', () => {
  it('has the documented defaults', () => {
    expect(backfillConfigSchema.parse({})).toEqual({
      minLookbackHours: 3,
      safeLagMinutes: 5,
      chunkHours: 6,
      maxChunksPerCycle: 12,
    });
  });

  it('fetches the last 3 hours up to the safe lag on the first cycle', () => {
    const plan = planBackfill(undefined, NOW);
    expect(plan).toMatchObject({ startMs: END - 3 * HOUR, endMs: END, skipped: [], deferred: [] });
    expect(spans(plan.chunks)).toEqual([[-3, 0]]);
    expect(plan.chunks[0]!.id).toBe(`${END - 3 * HOUR}-${END}`);
  });

  it('backfills from the last completed window end in 6-hour chunks, the last one shorter', () => {
    const plan = planBackfill({ watermarkMs: END - 20 * HOUR, completed: [] }, NOW);
    expect(spans(plan.chunks)).toEqual([
      [-20, -14],
      [-14, -8],
      [-8, -2],
      [-2, 0],
    ]);
  });

  it('re-fetches at least the last 3 hours however recent the watermark', () => {
    const plan = planBackfill({ watermarkMs: END - 10 * MINUTE, completed: [] }, NOW);
    expect(spans(plan.chunks)).toEqual([[-3, 0]]);
    // A watermark ahead of the clock (skew) cannot make the plan empty either.
    expect(spans(planBackfill({ watermarkMs: NOW + HOUR, completed: [] }, NOW).chunks)).toEqual([
      [-3, 0],
    ]);
  });

  it('skips windows stored behind a gap, but not in the fresh tail', () => {
    const state: BackfillState = {
      watermarkMs: END - 20 * HOUR,
      completed: [
        { startMs: END - 14 * HOUR, endMs: END - 8 * HOUR },
        { startMs: END - 4 * HOUR, endMs: END - 1 * HOUR },
      ],
    };
    const plan = planBackfill(state, NOW);
    expect(spans(plan.skipped)).toEqual([
      [-14, -8],
      [-4, -3],
    ]);
    expect(spans(plan.chunks)).toEqual([
      [-20, -14],
      [-8, -4],
      [-3, 0],
    ]);
  });

  it('catches up oldest first, at most maxChunksPerCycle per cycle', () => {
    const config = backfillConfigSchema.parse({ maxChunksPerCycle: 2 });
    const plan = planBackfill({ watermarkMs: END - 30 * HOUR, completed: [] }, NOW, config);
    expect(spans(plan.chunks)).toEqual([
      [-30, -24],
      [-24, -18],
    ]);
    expect(spans(plan.deferred)).toEqual([[-18, 0]]);
  });

  it('fetches data not stored yet before re-fetching the lookback, when capped', () => {
    const config = backfillConfigSchema.parse({
      minLookbackHours: 12,
      chunkHours: 1,
      maxChunksPerCycle: 3,
    });
    const plan = planBackfill({ watermarkMs: END - 2 * HOUR, completed: [] }, NOW, config);
    // [-2, 0) is new; of the ten stored hours before it, the newest one fits.
    expect(spans(plan.chunks)).toEqual([
      [-3, -2],
      [-2, -1],
      [-1, 0],
    ]);
    expect(spans(plan.deferred)).toEqual([[-12, -3]]);
  });

  it('follows a changed configuration', () => {
    const config = backfillConfigSchema.parse({
      minLookbackHours: 1,
      safeLagMinutes: 30,
      chunkHours: 0.5,
    });
    const plan = planBackfill(undefined, NOW, config);
    expect(plan.chunks.map((c) => [c.startMs - NOW, c.endMs - NOW])).toEqual([
      [-90 * MINUTE, -60 * MINUTE],
      [-60 * MINUTE, -30 * MINUTE],
    ]);
  });

  it('chunks any window', () => {
    expect(chunkWindow(0, 10, 4).map((c) => [c.startMs, c.endMs])).toEqual([
      [0, 4],
      [4, 8],
      [8, 10],
    ]);
    expect(chunkWindow(5, 5, 4)).toEqual([]);
    expect(() => chunkWindow(0, 10, 0)).toThrow(RangeError);
  });
});

describe('a cycle outcome', () => {
  const state: BackfillState = { watermarkMs: END - 20 * HOUR, completed: [] };
  const chunks = planBackfill(state, NOW).chunks; // [-20,-14) [-14,-8) [-8,-2) [-2,0)

  it('advances the watermark over stored chunks', () => {
    const outcome = applyChunkResults(
      state,
      chunks.map((chunk) => ({ chunk, outcome: 'stored' })),
    );
    expect(outcome.state).toEqual({ watermarkMs: END, completed: [] });
    expect(outcome).toMatchObject({
      skipAudits: false,
      quotaError: null,
      findings: [],
      unfinished: [],
    });
  });

  it('on a quota error leaves the remaining chunks unmarked and skips the audits', () => {
    const results: ChunkResult[] = [
      { chunk: chunks[0]!, outcome: 'stored' },
      { chunk: chunks[1]!, outcome: 'quota-error', message: 'QuotaExceeded' },
      { chunk: chunks[2]!, outcome: 'not-attempted' },
      { chunk: chunks[3]!, outcome: 'not-attempted' },
    ];
    const outcome = applyChunkResults(state, results);
    expect(outcome.state).toEqual({ watermarkMs: END - 14 * HOUR, completed: [] });
    expect(outcome.skipAudits).toBe(true);
    expect(outcome.quotaError?.chunk).toBe(chunks[1]);
    expect(spans(outcome.unfinished)).toEqual([
      [-14, -8],
      [-8, -2],
      [-2, 0],
    ]);
    // Next cycle (after the cooldown) starts at the first unfinished chunk.
    expect(spans(planBackfill(outcome.state, NOW + HOUR).chunks)[0]).toEqual([-14, -8]);
  });

  it('logs other errors, goes on, and keeps later stored chunks behind the gap', () => {
    const results: ChunkResult[] = [
      { chunk: chunks[0]!, outcome: 'stored' },
      { chunk: chunks[1]!, outcome: 'other-error', message: 'report FATAL' },
      { chunk: chunks[2]!, outcome: 'stored' },
      { chunk: chunks[3]!, outcome: 'stored' },
    ];
    const outcome = applyChunkResults(state, results);
    expect(outcome.state).toEqual({
      watermarkMs: END - 14 * HOUR,
      completed: [{ startMs: END - 8 * HOUR, endMs: END }],
    });
    expect(outcome.skipAudits).toBe(false);
    expect(outcome.findings).toEqual([
      {
        severity: 'error',
        chunk: { startMs: END - 14 * HOUR, endMs: END - 8 * HOUR },
        message: 'report FATAL',
      },
    ]);
    // Next cycle retries the gap, skips what is stored, and re-fetches the fresh tail.
    const next = planBackfill(outcome.state, NOW);
    expect(spans(next.chunks)).toEqual([
      [-14, -8],
      [-3, 0],
    ]);
    // Filling the gap joins everything up.
    const filled = applyChunkResults(
      outcome.state,
      next.chunks.map((chunk) => ({ chunk, outcome: 'stored' })),
    );
    expect(filled.state).toEqual({ watermarkMs: END, completed: [] });
  });

  it('records chunks stored after a quota error (parallel fetches)', () => {
    const outcome = applyChunkResults(state, [
      { chunk: chunks[0]!, outcome: 'quota-error' },
      { chunk: chunks[1]!, outcome: 'stored' },
    ]);
    expect(outcome.state).toEqual({
      watermarkMs: END - 20 * HOUR,
      completed: [{ startMs: END - 14 * HOUR, endMs: END - 8 * HOUR }],
    });
  });

  it('starts the watermark at the first chunk on the first cycle, even when it failed', () => {
    const [chunk] = planBackfill(undefined, NOW).chunks;
    const outcome = applyChunkResults(undefined, [{ chunk: chunk!, outcome: 'quota-error' }]);
    expect(outcome.state.watermarkMs).toBe(END - 3 * HOUR);
    // An hour later the failed window is still fetched, not lost behind the 3-hour lookback.
    expect(planBackfill(outcome.state, NOW + HOUR).startMs).toBe(END - 3 * HOUR);
    expect(applyChunkResults(undefined, []).state).toEqual(EMPTY_BACKFILL_STATE);
  });

  it('does not move the watermark back for a failed re-fetch of the fresh tail', () => {
    const recent: BackfillState = { watermarkMs: END - 10 * MINUTE, completed: [] };
    const [chunk] = planBackfill(recent, NOW).chunks;
    const outcome = applyChunkResults(recent, [
      { chunk: chunk!, outcome: 'other-error', message: 'x' },
    ]);
    expect(outcome.state.watermarkMs).toBe(END - 10 * MINUTE);
  });
});
