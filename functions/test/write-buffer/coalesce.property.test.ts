import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addFieldOp,
  addMerge,
  applyFieldUpdates,
  applyOp,
  type FieldUpdates,
  increment,
  isFieldOp,
  isPlainObject,
  PendingWrites,
} from '../../src/core/storage/write-buffer';
import { fieldOp, paths, value } from './arbitraries';

const update = fc.tuple(fc.constantFrom(...paths), fieldOp);
const initialDoc = fc.dictionary(fc.constantFrom('a', 'b', 'c', 'e'), value, { maxKeys: 4 });

describe('coalescing (property)', () => {
  it('applying the coalesced update equals applying the updates one by one', () => {
    fc.assert(
      fc.property(initialDoc, fc.array(update, { maxLength: 12 }), (doc, updates) => {
        const sequential = applyFieldUpdates(doc, updates);
        const fields: FieldUpdates = new Map();
        for (const [path, op] of updates) addFieldOp(fields, path, op);
        expect(applyFieldUpdates(doc, fields)).toEqual(sequential);
      }),
      { numRuns: 2000 },
    );
  });

  it('never leaves one coalesced path inside another', () => {
    fc.assert(
      fc.property(fc.array(update, { maxLength: 12 }), (updates) => {
        const fields: FieldUpdates = new Map();
        for (const [path, op] of updates) addFieldOp(fields, path, op);
        const keys = [...fields.keys()];
        for (const a of keys) for (const b of keys) expect(b.startsWith(`${a}.`)).toBe(false);
      }),
    );
  });

  it('counter increments from many callers add up exactly in one write per document', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 1, max: 5 })), {
          maxLength: 200,
        }),
        (calls) => {
          const pending = new PendingWrites<number>();
          calls.forEach(([doc, by], i) => {
            pending.add(`c/${doc}`, new Map([['n', increment(by)]]), 1, i);
          });
          const taken = pending.take(500);
          expect(taken.length).toBe(new Set(calls.map(([doc]) => doc)).size);
          for (const doc of taken) {
            const expected = calls
              .filter(([d]) => `c/${d}` === doc.path)
              .reduce((sum, [, by]) => sum + by, 0);
            expect(applyFieldUpdates({}, doc.fields)).toEqual({ n: expected });
          }
          expect(taken.reduce((n, d) => n + d.waiters.length, 0)).toBe(calls.length);
          expect(pending.documents).toBe(0);
          expect(pending.updates).toBe(0);
        },
      ),
    );
  });

  it('merge input equals a recursive set-merge of the data', () => {
    const leaf = fc.oneof(value, fieldOp);
    const data = fc.dictionary(
      fc.constantFrom('a', 'b'),
      fc.oneof(leaf, fc.dictionary(fc.constantFrom('x', 'y'), leaf, { maxKeys: 2 })),
      { maxKeys: 2 },
    );
    /** The reference: set(data, { merge: true }) on a plain document. */
    const merge = (doc: unknown, patch: Record<string, unknown>): Record<string, unknown> => {
      const out: Record<string, unknown> = isPlainObject(doc) ? { ...doc } : {};
      for (const [key, v] of Object.entries(patch)) {
        if (isFieldOp(v)) out[key] = applyOp(out[key], v);
        else if (isPlainObject(v) && Object.keys(v).length > 0) out[key] = merge(out[key], v);
        else out[key] = v;
      }
      return out;
    };
    fc.assert(
      fc.property(initialDoc, fc.array(data, { maxLength: 4 }), (doc, patches) => {
        const fields: FieldUpdates = new Map();
        for (const patch of patches) addMerge(fields, patch);
        expect(applyFieldUpdates(doc, fields)).toEqual(patches.reduce(merge, doc));
      }),
      { numRuns: 1000 },
    );
  });
});
