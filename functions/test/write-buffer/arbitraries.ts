import fc from 'fast-check';
import { arrayUnion, type FieldOp, increment, setTo } from '../../src/core/storage/write-buffer';

/** Paths that overlap (a, a.x, a.x.z) so nested coalescing is exercised. */
export const paths = ['a', 'b', 'a.x', 'a.y', 'a.x.z', 'c.d'];
export const scalar = fc.oneof(fc.integer({ min: -5, max: 5 }), fc.constantFrom('s', 't'));
export const element = fc.oneof(scalar, fc.record({ k: fc.integer({ min: 0, max: 2 }) }));
export const value = fc.oneof(
  scalar,
  fc.array(element, { maxLength: 3 }),
  fc.record({ x: scalar }),
  fc.constant({}),
);
export const fieldOp: fc.Arbitrary<FieldOp> = fc.oneof(
  value.map(setTo),
  fc.integer({ min: -3, max: 9 }).map(increment),
  fc.array(element, { minLength: 1, maxLength: 3 }).map((xs) => arrayUnion(...xs)),
);
