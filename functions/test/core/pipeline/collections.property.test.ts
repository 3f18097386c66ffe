import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { completion } from '../../../src/core/pipeline/collection-completion';
import {
  type Collection,
  collectionConfigSchema,
  collectionSchema,
} from '../../../src/core/pipeline/collection-schema';
import {
  type PhaseTransition,
  recordProgress,
  startCollection,
} from '../../../src/core/pipeline/collections';
import { phaseReached, shareOfPhase } from '../../../src/core/pipeline/phases';

const T0 = Date.UTC(2026, 0, 1);
const MINUTE = 60_000;
const MARKETPLACES = ['takealot', 'amazon', 'noon'] as const;

/** Valid schedules: phase 1 at 0%, then strictly increasing thresholds. */
const scheduleArb = fc
  .tuple(
    fc.integer({ min: 0, max: 10_000 }),
    fc.uniqueArray(fc.integer({ min: 1, max: 100 }), { maxLength: 5 }),
    fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 5, maxLength: 5 }),
  )
  .map(([first, thresholds, shares]) => [
    { fromPercent: 0, sharePercent: first / 100 },
    ...[...thresholds]
      .sort((a, b) => a - b)
      .map((fromPercent, i) => ({ fromPercent, sharePercent: shares[i]! / 100 })),
  ]);

const stepArb = fc.oneof(
  fc.record({
    kind: fc.constant('absolute' as const),
    marketplace: fc.constantFrom(...MARKETPLACES),
    value: fc.integer({ min: 0, max: 1_200 }),
    minutes: fc.integer({ min: 0, max: 120 }),
  }),
  fc.record({
    kind: fc.constant('delta' as const),
    marketplace: fc.constantFrom(...MARKETPLACES),
    value: fc.integer({ min: 0, max: 300 }),
    minutes: fc.integer({ min: 0, max: 120 }),
  }),
  fc.record({
    kind: fc.constant('target' as const),
    marketplace: fc.constantFrom(...MARKETPLACES),
    value: fc.integer({ min: 1, max: 1_500 }),
    minutes: fc.integer({ min: 0, max: 120 }),
  }),
);

describe('collection phases', () => {
  it('only move forward and the share sequence follows the schedule, whatever the progress', () => {
    fc.assert(
      fc.property(
        scheduleArb,
        fc.dictionary(fc.constantFrom(...MARKETPLACES), fc.integer({ min: 1, max: 1_000 }), {
          minKeys: 1,
        }),
        fc.array(stepArb, { maxLength: 60 }),
        (phases, targets, steps) => {
          const config = collectionConfigSchema.parse({
            phases,
            sampleIntervalMinutes: 15,
            rateWindowMinutes: 120,
          });
          const request = { id: 'c', provider: 'p', category: 'cat', targets };
          const created = startCollection(undefined, request, T0, config);
          let c: Collection = created.collection;
          const applied: PhaseTransition[] = [created.transition!];
          let now = T0;
          for (const step of steps) {
            now += step.minutes * MINUTE;
            const before = c;
            let outcome: { collection: Collection; transition: PhaseTransition | null };
            if (step.kind === 'target') {
              outcome = startCollection(
                c,
                { ...request, targets: { [step.marketplace]: step.value } },
                now,
                config,
              );
            } else if (!c.marketplaces[step.marketplace]) {
              continue;
            } else {
              outcome = recordProgress(
                c,
                step.kind === 'absolute'
                  ? { marketplace: step.marketplace, collected: step.value }
                  : { marketplace: step.marketplace, added: step.value },
                now,
                config,
              );
            }
            c = outcome.collection;
            expect(c.phase).toBeGreaterThanOrEqual(before.phase);
            // Counts never go down.
            for (const [m, entry] of Object.entries(before.marketplaces)) {
              expect(c.marketplaces[m]!.collected).toBeGreaterThanOrEqual(entry.collected);
            }
            const state = completion(c);
            // The phase is the furthest the completion ever reached.
            expect(c.phase).toBeGreaterThanOrEqual(
              phaseReached(phases, state.overall.collected, state.overall.target),
            );
            // Completed exactly when every target is reached (a raised target reopens it).
            expect(c.status === 'completed').toBe(state.done);
            if (outcome.transition) {
              expect(outcome.transition.from).toBe(before.phase);
              expect(outcome.transition.to).toBe(c.phase);
              expect(outcome.transition.sharePercent).toBe(shareOfPhase(phases, c.phase));
              applied.push(outcome.transition);
            } else {
              expect(c.phase).toBe(before.phase);
            }
            expect(c.samples.length).toBeLessThanOrEqual(120 / 15 + 2);
          }
          // History: phases 1, 2, 3, ... in order, each with the schedule's share, times ascending.
          expect(c.phaseHistory.map((h) => h.phase)).toEqual(c.phaseHistory.map((_, i) => i + 1));
          expect(c.phaseHistory.map((h) => h.sharePercent)).toEqual(
            c.phaseHistory.map((h) => shareOfPhase(phases, h.phase)),
          );
          for (let i = 1; i < c.phaseHistory.length; i++) {
            expect(c.phaseHistory[i]!.at).toBeGreaterThanOrEqual(c.phaseHistory[i - 1]!.at);
          }
          // The shares applied to the category chain up: each starts where the last ended.
          for (let i = 1; i < applied.length; i++) {
            expect(applied[i]!.previousSharePercent).toBe(applied[i - 1]!.sharePercent);
          }
          expect(applied.at(-1)!.sharePercent).toBe(shareOfPhase(phases, c.phase));
          // What is written is always a valid document.
          expect(collectionSchema.parse(c)).toEqual(c);
        },
      ),
      { numRuns: 300 },
    );
  });
});
