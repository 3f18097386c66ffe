import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Aggregate,
  type AggregationConfig,
  add,
  aggregationConfigSchema,
  due,
  emptyAggregation,
  flush,
  nextDeadline,
  type SourceResponse,
} from '../../../src/core/pipeline/aggregation';

const responseArb: fc.Arbitrary<SourceResponse> = fc.record({
  workItemId: fc.constantFrom('i0', 'i1', 'i2', 'i3', 'i4', 'i5'),
  source: fc.constantFrom('m0', 'm1', 'm2', 'm3', 'm4'),
  value: fc.oneof(fc.constant(null), fc.integer({ min: 1, max: 1_000 })),
});

/** A delivery, a timer firing (flush what is due) or an operator forcing some or all items. */
type Step =
  | { kind: 'deliver'; response: SourceResponse; advanceMs: number }
  | { kind: 'tick'; advanceMs: number }
  | { kind: 'force'; ids: string[] | true };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('deliver' as const),
      response: responseArb,
      advanceMs: fc.nat(30_000),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('tick' as const), advanceMs: fc.nat(90_000) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('force' as const),
      ids: fc.oneof(fc.constant(true as const), fc.subarray(['i0', 'i1', 'i2', 'i3', 'i4', 'i5'])),
    }),
  },
);

const configArb: fc.Arbitrary<AggregationConfig> = fc
  .record({
    minResponses: fc.integer({ min: 1, max: 5 }),
    timeoutSeconds: fc.integer({ min: 1, max: 120 }),
  })
  // Exactly once holds while written items are remembered; beyond that the adapter's
  // create-if-absent write is the guard.
  .map((c) => aggregationConfigSchema.parse({ ...c, rememberWrittenSeconds: 1e6 }));

function run(steps: Step[], config: AggregationConfig) {
  let state = emptyAggregation();
  let nowMs = 0;
  const written: Aggregate[] = [];
  const accepted = new Map<string, Set<string>>();
  for (const step of steps) {
    if (step.kind === 'force') {
      const out = flush(state, nowMs, config, step.ids);
      state = out.state;
      written.push(...out.aggregates);
      continue;
    }
    nowMs += step.advanceMs;
    if (step.kind === 'deliver') {
      const result = add(state, step.response, nowMs);
      state = result.state;
      if (result.outcome === 'added') {
        const sources = accepted.get(step.response.workItemId) ?? new Set();
        sources.add(step.response.source);
        accepted.set(step.response.workItemId, sources);
      }
    }
    const out = flush(state, nowMs, config);
    state = out.state;
    written.push(...out.aggregates);
    // Nothing due is left behind by a flush.
    expect(due(state, nowMs, config)).toEqual([]);
    const next = nextDeadline(state, config);
    if (next !== undefined) expect(next).toBeGreaterThan(nowMs);
  }
  // The timer keeps firing at the next deadline until nothing is pending.
  for (let deadline = nextDeadline(state, config); deadline !== undefined; ) {
    const out = flush(state, deadline, config);
    expect(out.aggregates.length).toBeGreaterThan(0);
    state = out.state;
    written.push(...out.aggregates);
    deadline = nextDeadline(state, config);
  }
  return { written, accepted, final: state };
}

describe('aggregation properties', () => {
  it('writes each work item exactly once, whatever the arrival order', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 80 }), configArb, (steps, config) => {
        const { written, accepted, final } = run(steps, config);
        const ids = written.map((a) => a.workItemId);
        expect(new Set(ids).size).toBe(ids.length);
        expect(new Set(ids)).toEqual(new Set(accepted.keys()));
        expect(final.pending.size).toBe(0);
        // Every acknowledged response is in its item's aggregate.
        for (const aggregate of written) {
          expect(new Set(aggregate.sources)).toEqual(accepted.get(aggregate.workItemId));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('aggregates the same responses the same way in any order', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(responseArb, {
          selector: (r) => `${r.workItemId}/${r.source}`,
          maxLength: 30,
        }),
        fc.infiniteStream(fc.nat()),
        (responses, keys) => {
          const shuffled = responses
            .map((r) => ({ r, key: keys.next().value as number }))
            .sort((a, b) => a.key - b.key)
            .map(({ r }) => r);
          const once = (list: SourceResponse[]) => {
            const state = list.reduce((s, r) => add(s, r, 0).state, emptyAggregation());
            const config = aggregationConfigSchema.parse({ minResponses: 10 });
            return flush(state, 0, config, true)
              .aggregates.map((a) => ({ ...a, firstAtMs: 0 }))
              .sort((a, b) => a.workItemId.localeCompare(b.workItemId));
          };
          expect(once(shuffled)).toEqual(once(responses));
        },
      ),
      { numRuns: 300 },
    );
  });
});
