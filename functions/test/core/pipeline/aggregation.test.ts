import { describe, expect, it } from 'vitest';
import {
  type AggregationState,
  add,
  aggregateValues,
  aggregationConfigSchema,
  defaultAggregationConfig,
  due,
  emptyAggregation,
  flush,
  median,
  nextDeadline,
  type SourceResponse,
} from '../../../src/core/pipeline/aggregation';

const response = (
  workItemId: string,
  source: string,
  value: number | null,
  confidence?: number,
): SourceResponse => ({
  workItemId,
  source,
  value,
  ...(confidence === undefined ? {} : { confidence }),
});

function addAll(state: AggregationState, responses: Array<[SourceResponse, number]>) {
  return responses.reduce((s, [r, at]) => add(s, r, at).state, state);
}

describe('aggregation configuration', () => {
  it('defaults to three responses or sixty seconds', () => {
    expect(defaultAggregationConfig).toEqual({
      minResponses: 3,
      timeoutSeconds: 60,
      agreementTolerance: 0.02,
      rememberWrittenSeconds: 3600,
    });
    expect(aggregationConfigSchema.safeParse({ minResponses: 0 }).success).toBe(false);
  });
});

describe('collecting responses', () => {
  it('is due at quorum and writes one aggregate', () => {
    let state = addAll(emptyAggregation(), [
      [response('item-1', 'miner-b', 101, 0.9), 1_000],
      [response('item-1', 'miner-a', 100, 0.95), 2_000],
    ]);
    expect(due(state, 2_000)).toEqual([]);
    state = add(state, response('item-1', 'miner-c', 99), 3_000).state;
    expect(due(state, 3_000)).toEqual([{ workItemId: 'item-1', reason: 'quorum' }]);
    expect(nextDeadline(state)).toBe(3_000);

    const { state: after, aggregates } = flush(state, 3_000);
    expect(aggregates).toEqual([
      {
        workItemId: 'item-1',
        reason: 'quorum',
        responseCount: 3,
        firstAtMs: 1_000,
        writtenAtMs: 3_000,
        value: 100,
        agreement: 1,
        sources: ['miner-a', 'miner-b', 'miner-c'],
        agreeing: ['miner-a', 'miner-b', 'miner-c'],
        dissenting: [],
        failed: [],
        min: 99,
        max: 101,
        confidence: 0.925,
      },
    ]);
    expect(after.pending.size).toBe(0);
    expect(flush(after, 10_000).aggregates).toEqual([]);
  });

  it('writes what it has when the timeout passes since the first response', () => {
    let state = add(emptyAggregation(), response('item-1', 'a', 10), 5_000).state;
    state = add(state, response('item-1', 'b', 12), 30_000).state;
    expect(nextDeadline(state)).toBe(65_000);
    expect(due(state, 64_999)).toEqual([]);
    expect(flush(state, 64_999).aggregates).toEqual([]);
    expect(due(state, 65_000)).toEqual([{ workItemId: 'item-1', reason: 'timeout' }]);
    const { aggregates } = flush(state, 65_000);
    expect(aggregates).toMatchObject([
      { reason: 'timeout', responseCount: 2, value: 11, agreement: 0 },
    ]);
  });

  it('counts each source once and drops responses for written items', () => {
    let state = add(emptyAggregation(), response('x', 'a', 1), 0).state;
    const again = add(state, response('x', 'a', 2), 1);
    expect(again.outcome).toBe('duplicate');
    expect(again.state).toBe(state);
    state = addAll(state, [
      [response('x', 'b', 1), 2],
      [response('x', 'c', 1), 3],
    ]);
    state = flush(state, 3).state;
    const late = add(state, response('x', 'd', 1), 4);
    expect(late.outcome).toBe('late');
    expect(late.state.pending.size).toBe(0);
  });

  it('forgets written items after the remembering period', () => {
    const config = aggregationConfigSchema.parse({ minResponses: 1, rememberWrittenSeconds: 10 });
    let state = add(emptyAggregation(), response('x', 'a', 1), 0).state;
    state = flush(state, 0, config).state;
    expect(add(state, response('x', 'b', 1), 5_000).outcome).toBe('late');
    state = flush(state, 10_000, config).state;
    expect(state.written.size).toBe(0);
  });

  it('lets an operator force every pending item or named ones', () => {
    const state = addAll(emptyAggregation(), [
      [response('x', 'a', 1), 0],
      [response('y', 'a', 2), 0],
      [response('z', 'a', 3), 0],
    ]);
    const named = flush(state, 1, defaultAggregationConfig, ['y', 'unknown']);
    expect(named.aggregates.map((a) => [a.workItemId, a.reason])).toEqual([['y', 'forced']]);
    expect([...named.state.pending.keys()]).toEqual(['x', 'z']);
    const all = flush(named.state, 2, defaultAggregationConfig, true);
    expect(all.aggregates.map((a) => a.workItemId)).toEqual(['x', 'z']);
    expect(all.state.pending.size).toBe(0);
  });

  it('keeps the reason of an item that was due anyway when forcing', () => {
    const state = addAll(emptyAggregation(), [
      [response('x', 'a', 1), 0],
      [response('y', 'a', 2), 50_000],
    ]);
    const { aggregates } = flush(state, 60_000, defaultAggregationConfig, true);
    expect(aggregates.map((a) => [a.workItemId, a.reason])).toEqual([
      ['x', 'timeout'],
      ['y', 'forced'],
    ]);
  });

  it('follows a runtime change of the thresholds', () => {
    const state = add(emptyAggregation(), response('x', 'a', 1), 0).state;
    expect(due(state, 0)).toEqual([]);
    const one = aggregationConfigSchema.parse({ minResponses: 1 });
    expect(due(state, 0, one)).toEqual([{ workItemId: 'x', reason: 'quorum' }]);
    const short = aggregationConfigSchema.parse({ timeoutSeconds: 5 });
    expect(nextDeadline(state, short)).toBe(5_000);
  });

  it('has no deadline with nothing pending', () => {
    expect(nextDeadline(emptyAggregation())).toBeUndefined();
  });
});

describe('aggregating values', () => {
  it('takes the median (mean of the middle pair for an even count)', () => {
    expect(median([])).toBeNull();
    expect(median([3])).toBe(3);
    expect(median([1, 2, 10])).toBe(2);
    expect(median([1, 2, 4, 10])).toBe(3);
  });

  it('measures agreement against every response, failures included', () => {
    const values = aggregateValues([
      response('x', 'c', 100.5, 0.7),
      response('x', 'a', 100, 0.9),
      response('x', 'd', 150),
      response('x', 'b', null),
      response('x', 'e', 99, 0.8),
    ]);
    expect(values).toEqual({
      value: 100.25,
      agreement: 3 / 5,
      sources: ['a', 'b', 'c', 'd', 'e'],
      agreeing: ['a', 'c', 'e'],
      dissenting: ['d'],
      failed: ['b'],
      min: 99,
      max: 150,
      confidence: (0.9 + 0.7 + 0.8) / 3,
    });
  });

  it('treats a non-finite value as a failure, and no values as no result', () => {
    const values = aggregateValues([response('x', 'a', Number.NaN), response('x', 'b', null)]);
    expect(values).toMatchObject({ value: null, agreement: 0, agreeing: [], failed: ['a', 'b'] });
    expect(values.confidence).toBeNull();
  });

  it('widens agreement with the tolerance', () => {
    const responses = [response('x', 'a', 100), response('x', 'b', 104), response('x', 'c', 110)];
    expect(aggregateValues(responses).agreeing).toEqual(['b']);
    expect(aggregateValues(responses, { agreementTolerance: 0.1 }).agreeing).toEqual([
      'a',
      'b',
      'c',
    ]);
  });
});
