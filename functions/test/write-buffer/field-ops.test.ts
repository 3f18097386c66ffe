import { describe, expect, it } from 'vitest';
import {
  addFieldOp,
  addMerge,
  addUpdate,
  applyFieldUpdates,
  applyOp,
  arrayUnion,
  composeOps,
  type FieldUpdates,
  increment,
  sameValue,
  setTo,
} from '../../src/core/storage/write-buffer';

const coalesce = (...ops: Array<[string, ReturnType<typeof setTo>]>): FieldUpdates => {
  const fields: FieldUpdates = new Map();
  for (const [path, op] of ops) addFieldOp(fields, path, op);
  return fields;
};

describe('field ops', () => {
  it('apply as Firestore does to missing, numeric and other values', () => {
    expect(applyOp(undefined, increment(2))).toBe(2);
    expect(applyOp(3, increment(2))).toBe(5);
    expect(applyOp('x', increment(2))).toBe(2);
    expect(applyOp([1, 2], arrayUnion(2, 3))).toEqual([1, 2, 3]);
    expect(applyOp(7, arrayUnion(1, 1))).toEqual([1]);
    expect(applyOp([1], setTo('v'))).toBe('v');
  });

  it('compose increments by adding and unions by concatenating without duplicates', () => {
    expect(composeOps(increment(2), increment(3))).toMatchObject({ kind: 'increment', by: 5 });
    expect(composeOps(arrayUnion('a', 'b'), arrayUnion('b', 'c'))).toMatchObject({
      kind: 'union',
      elements: ['a', 'b', 'c'],
    });
  });

  it('let a later set win and fold later ops into an earlier set', () => {
    expect(composeOps(increment(2), setTo(10))).toMatchObject({ kind: 'set', value: 10 });
    expect(composeOps(setTo(10), increment(2))).toMatchObject({ kind: 'set', value: 12 });
    expect(composeOps(setTo(['a']), arrayUnion('a', 'b'))).toMatchObject({
      kind: 'set',
      value: ['a', 'b'],
    });
    expect(composeOps(setTo('text'), increment(1))).toMatchObject({ kind: 'set', value: 1 });
  });

  it('turn a union after an increment (and the reverse) into an overwrite', () => {
    expect(composeOps(increment(2), arrayUnion('a'))).toMatchObject({ kind: 'set', value: ['a'] });
    expect(composeOps(arrayUnion('a'), increment(2))).toMatchObject({ kind: 'set', value: 2 });
  });

  it('reject values Firestore cannot take', () => {
    expect(() => setTo(undefined)).toThrow(TypeError);
    expect(() => setTo({ a: increment(1) })).toThrow(TypeError);
    expect(() => increment(Number.NaN)).toThrow(TypeError);
    expect(() => arrayUnion()).toThrow(TypeError);
  });

  it('compare union elements structurally and SDK values with isEqual', () => {
    class Stamp {
      constructor(readonly ms: number) {}
      isEqual(other: Stamp) {
        return other.ms === this.ms;
      }
    }
    expect(sameValue({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toBe(true);
    expect(sameValue({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(sameValue(new Date(5), new Date(5))).toBe(true);
    expect(sameValue(new Stamp(1), new Stamp(1))).toBe(true);
    expect(sameValue(new Stamp(1), new Stamp(2))).toBe(false);
    expect(sameValue(Number.NaN, Number.NaN)).toBe(true);
    expect(sameValue([1], { 0: 1 })).toBe(false);
  });
});

describe('coalescing nested field paths', () => {
  it('folds a write below a set map into the map', () => {
    const fields = coalesce(
      ['stats', setTo({ calls: 1, keep: true })],
      ['stats.calls', increment(2)],
    );
    expect([...fields]).toEqual([
      ['stats', expect.objectContaining({ value: { calls: 3, keep: true } })],
    ]);
  });

  it('lets a set of a map replace earlier writes below it', () => {
    const fields = coalesce(['stats.calls', increment(2)], ['stats', setTo({ other: 1 })]);
    expect([...fields.keys()]).toEqual(['stats']);
    expect(applyFieldUpdates({ stats: { calls: 5, x: 1 } }, fields)).toEqual({
      stats: { other: 1 },
    });
  });

  it('turns an increment of a field written below into an overwrite (it is a map then)', () => {
    const fields = coalesce(['a.b', increment(1)], ['a', increment(4)]);
    expect(applyFieldUpdates({ a: 2 }, fields)).toEqual({ a: 4 });
  });

  it('makes a fresh map when writing below a counter', () => {
    const fields = coalesce(['a', increment(1)], ['a.b', increment(4)]);
    expect(applyFieldUpdates({ a: 2 }, fields)).toEqual({ a: { b: 4 } });
  });

  it('keeps unrelated paths separate', () => {
    const fields = coalesce(['a.b', increment(1)], ['a.c', increment(2)], ['a.b', increment(3)]);
    expect(applyFieldUpdates({ a: { b: 1, d: 0 } }, fields)).toEqual({ a: { b: 5, c: 2, d: 0 } });
  });
});

describe('update and merge input', () => {
  it('treats update keys as field paths and map values as replacements', () => {
    const fields: FieldUpdates = new Map();
    expect(
      addUpdate(fields, { 'stats.calls': increment(1), meta: { a: 1 }, skip: undefined }),
    ).toBe(2);
    expect(applyFieldUpdates({ meta: { b: 2 }, stats: { x: 1 } }, fields)).toEqual({
      meta: { a: 1 },
      stats: { x: 1, calls: 1 },
    });
  });

  it('merges nested maps field by field and keeps empty maps as values', () => {
    const fields: FieldUpdates = new Map();
    addMerge(fields, { meta: { a: 1 }, stats: { calls: increment(2) }, empty: {} });
    expect([...fields.keys()]).toEqual(['meta.a', 'stats.calls', 'empty']);
    expect(applyFieldUpdates({ meta: { b: 2 }, empty: { x: 1 } }, fields)).toEqual({
      meta: { a: 1, b: 2 },
      stats: { calls: 2 },
      empty: {},
    });
  });

  it('rejects invalid field paths and names', () => {
    expect(() => addUpdate(new Map(), { 'a..b': 1 })).toThrow(TypeError);
    expect(() => addMerge(new Map(), { 'a.b': 1 })).toThrow(TypeError);
  });
});
