import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyChunkResults,
  type BackfillConfig,
  type BackfillState,
  backfillConfigSchema,
  type ChunkResult,
  type Interval,
  merge,
  planBackfill,
} from '../../../src/core/pipeline/backfill';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const T0 = Date.UTC(2026, 0, 1);

const configArb: fc.Arbitrary<BackfillConfig> = fc
  .record({
    minLookbackHours: fc.constantFrom(0.1, 1, 3, 12),
    safeLagMinutes: fc.integer({ min: 0, max: 30 }),
    chunkHours: fc.constantFrom(0.25, 1, 2.5, 6, 24),
    maxChunksPerCycle: fc.integer({ min: 1, max: 40 }),
  })
  .map((c) => backfillConfigSchema.parse(c));

/** Disjoint, sorted windows after the watermark, as the reducer keeps them. */
const stateArb: fc.Arbitrary<BackfillState> = fc
  .record({
    watermark: fc.option(fc.integer({ min: -96 * 60, max: 60 }), { nil: null }),
    cuts: fc.array(fc.integer({ min: 1, max: 96 * 60 }), { maxLength: 8 }),
  })
  .map(({ watermark, cuts }) => {
    const watermarkMs = watermark === null ? null : T0 + watermark * MINUTE;
    const base = watermarkMs ?? T0 - 96 * HOUR;
    const points = [...new Set(cuts)].sort((a, b) => a - b).map((m) => base + m * MINUTE);
    const completed: Interval[] = [];
    // Every other pair of points, skipping one point so stored windows never touch.
    for (let i = 1; i + 1 < points.length; i += 3) {
      completed.push({ startMs: points[i]!, endMs: points[i + 1]! });
    }
    return { watermarkMs, completed };
  });

function expectExactCover(windows: Interval[], startMs: number, endMs: number): void {
  const sorted = [...windows].sort((a, b) => a.startMs - b.startMs);
  let cursor = startMs;
  for (const w of sorted) {
    expect(w.startMs).toBe(cursor); // no gap, no overlap
    expect(w.endMs).toBeGreaterThan(w.startMs);
    cursor = w.endMs;
  }
  expect(cursor).toBe(endMs);
}

function covers(union: Interval[], startMs: number, endMs: number): boolean {
  if (endMs <= startMs) return true;
  return merge(union).some((w) => w.startMs <= startMs && w.endMs >= endMs);
}

describe('backfill planning properties', () => {
  it('covers [start, end) exactly with chunks and skipped windows, chunks at most chunkHours', () => {
    fc.assert(
      fc.property(stateArb, configArb, (state, config) => {
        const plan = planBackfill(state, T0, config);
        const chunkMs = config.chunkHours * HOUR;
        expect(plan.endMs).toBe(T0 - config.safeLagMinutes * MINUTE);
        expect(plan.startMs).toBeLessThanOrEqual(plan.endMs - config.minLookbackHours * HOUR);
        if (state.watermarkMs !== null) expect(plan.startMs).toBeLessThanOrEqual(state.watermarkMs);
        expectExactCover(
          [...plan.chunks, ...plan.skipped, ...plan.deferred],
          plan.startMs,
          plan.endMs,
        );
        expect(plan.chunks.length).toBeLessThanOrEqual(config.maxChunksPerCycle);
        expect(plan.chunks.length).toBeGreaterThan(0);
        if (plan.deferred.length > 0) expect(plan.chunks).toHaveLength(config.maxChunksPerCycle);
        // Data not stored yet is never deferred for a re-fetch of stored data.
        const watermark = state.watermarkMs;
        if (watermark !== null && plan.deferred.some((w) => w.endMs > watermark)) {
          for (const chunk of plan.chunks) expect(chunk.endMs).toBeGreaterThan(watermark);
        }
        for (let i = 1; i < plan.chunks.length; i++) {
          expect(plan.chunks[i]!.startMs).toBeGreaterThanOrEqual(plan.chunks[i - 1]!.endMs);
        }
        for (const chunk of plan.chunks) {
          expect(chunk.endMs - chunk.startMs).toBeLessThanOrEqual(chunkMs);
          expect(chunk.id).toBe(`${chunk.startMs}-${chunk.endMs}`);
        }
        // Skipped windows were stored before, and never lie in the fresh tail.
        for (const w of plan.skipped) {
          expect(covers(state.completed, w.startMs, w.endMs)).toBe(true);
          expect(w.endMs).toBeLessThanOrEqual(plan.endMs - config.minLookbackHours * HOUR);
        }
      }),
    );
  });
});

type Fate = 'stored' | 'quota' | 'other';

describe('backfill cycles', () => {
  it('never move the watermark past data that was not stored, and catch up once errors stop', () => {
    fc.assert(
      fc.property(
        configArb,
        fc.array(
          fc.record({
            advanceMinutes: fc.integer({ min: 0, max: 48 * 60 }),
            fates: fc.array(fc.constantFrom<Fate>('stored', 'stored', 'quota', 'other'), {
              maxLength: 50,
            }),
            parallel: fc.boolean(),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        (config, cycles) => {
          let state: BackfillState | undefined;
          let now = T0;
          let storedEver: Interval[] = [];
          let origin: number | undefined;
          let previousWatermark: number | null = null;

          const runCycle = (fateOf: (i: number) => Fate, parallel: boolean) => {
            const plan = planBackfill(state, now, config);
            origin ??= plan.chunks[0]?.startMs;
            const results: ChunkResult[] = [];
            let aborted = false;
            for (const [i, chunk] of plan.chunks.entries()) {
              // Sequential runs stop at a quota error; parallel ones had every call in flight.
              if (aborted && !parallel) {
                results.push({ chunk, outcome: 'not-attempted' });
                continue;
              }
              const fate = fateOf(i);
              if (fate === 'stored') {
                storedEver = merge([...storedEver, chunk]);
                results.push({ chunk, outcome: 'stored' });
              } else if (fate === 'quota') {
                aborted = true;
                results.push({ chunk, outcome: 'quota-error' });
              } else {
                results.push({ chunk, outcome: 'other-error', message: 'boom' });
              }
            }
            const outcome = applyChunkResults(state, results);
            state = outcome.state;
            expect(outcome.skipAudits).toBe(results.some((r) => r.outcome === 'quota-error'));
            const { watermarkMs, completed } = outcome.state;
            // The watermark only moves forward ...
            if (previousWatermark !== null)
              expect(watermarkMs).toBeGreaterThanOrEqual(previousWatermark);
            previousWatermark = watermarkMs;
            // ... and everything from where the backfill began up to it was stored.
            if (watermarkMs !== null && origin !== undefined) {
              expect(covers(storedEver, origin, watermarkMs)).toBe(true);
            }
            // An unfinished chunk is behind the watermark only if its data was stored before.
            for (const r of results) {
              if (r.outcome !== 'stored' && watermarkMs !== null && r.chunk.startMs < watermarkMs) {
                expect(
                  covers(storedEver, r.chunk.startMs, Math.min(r.chunk.endMs, watermarkMs)),
                ).toBe(true);
              }
            }
            // Recorded windows are stored, after the watermark, sorted and apart.
            for (const [i, w] of completed.entries()) {
              expect(covers(storedEver, w.startMs, w.endMs)).toBe(true);
              if (watermarkMs !== null) expect(w.startMs).toBeGreaterThan(watermarkMs);
              if (i > 0) expect(w.startMs).toBeGreaterThan(completed[i - 1]!.endMs);
            }
            return plan;
          };

          for (const cycle of cycles) {
            now += cycle.advanceMinutes * MINUTE;
            runCycle((i) => cycle.fates[i] ?? 'stored', cycle.parallel);
          }
          // Once the upstream behaves, the backfill reaches the safe end within a few cycles.
          for (
            let i = 0;
            i < 2_000 && state?.watermarkMs !== now - config.safeLagMinutes * MINUTE;
            i++
          ) {
            runCycle(() => 'stored', false);
          }
          expect(state?.watermarkMs).toBe(now - config.safeLagMinutes * MINUTE);
          expect(state?.completed).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
  });
});
