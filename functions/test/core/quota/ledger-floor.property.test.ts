import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Ledger, type Look } from '../../../src/core/quota/ledger';
import type { TokenLine } from '../../../src/core/quota/token-line';
import { type BlockRef, lineSource, type TokenSource } from '../../../src/core/quota/token-source';

/** The same source without block numbers: its ledger can never skip ahead. */
function unnumbered(source: TokenSource): TokenSource {
  return {
    ...source,
    candidates: function* (atMs, horizonMs) {
      for (const ref of source.candidates(atMs, horizonMs)) {
        const { ordinal: _ordinal, ...rest } = ref;
        yield rest;
      }
    },
  };
}

const opArb = fc.oneof(
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 3_000 }) }),
  // Claim (own) the i-th candidate, or learn it is taken, or presume it taken, or give up a guess.
  fc.record({
    kind: fc.constantFrom(
      'own' as const,
      'lost' as const,
      'presume' as const,
      'unpresume' as const,
    ),
    // Mostly the oldest blocks: those the skipped start is made of.
    i: fc.oneof(fc.constant(0), fc.constant(1), fc.nat(40)),
    forMs: fc.oneof(fc.integer({ min: 1, max: 3_000 }), fc.integer({ min: 1, max: 20_000 })),
  }),
  fc.record({ kind: fc.constant('spend' as const), cost: fc.integer({ min: 1, max: 30 }) }),
  // Another instance owns a whole page: its blocks are gone for this look and later ones.
  fc.record({
    kind: fc.constant('pageGone' as const),
    i: fc.oneof(fc.constant(0), fc.nat(40)),
  }),
  fc.record({
    kind: fc.constant('look' as const),
    horizonMs: fc.integer({ min: 0, max: 10_000 }),
    max: fc.integer({ min: 1, max: 64 }),
    withPresumed: fc.boolean(),
    skipEvery: fc.integer({ min: 0, max: 5 }),
  }),
);

describe('Ledger.claimable skips the known-gone start of a numbered source', () => {
  it('answers exactly as a ledger that looks through every block, whatever happened before', () => {
    fc.assert(
      fc.property(
        fc.record({
          capacity: fc.integer({ min: 2, max: 300 }),
          ratePerSecond: fc.integer({ min: 1, max: 200 }),
          blockSize: fc.integer({ min: 1, max: 12 }),
        }),
        fc.array(opArb, { minLength: 1, maxLength: 120 }),
        ({ capacity, ratePerSecond, blockSize }, ops) => {
          const line: TokenLine = { capacity, ratePerSecond, originMs: 1_000_000 };
          const numbered = lineSource(line, blockSize);
          const plain = unnumbered(numbered);
          const fast = new Ledger();
          const slow = new Ledger();
          const gonePages = new Set<string>();
          const gone = (ref: BlockRef) => ref.page !== undefined && gonePages.has(ref.page.id);
          let now = 1_000_000;
          const both = (look: Look, horizonMs = 5_000) => {
            const a = fast.claimable(numbered, now, horizonMs, look).map((r) => r.id);
            const b = slow.claimable(plain, now, horizonMs, look).map((r) => r.id);
            expect(a).toEqual(b);
            return a;
          };
          for (const op of ops) {
            if (op.kind === 'advance') now += op.ms;
            else if (op.kind === 'look') {
              const skip = (ref: BlockRef) =>
                op.skipEvery > 0 && Number(ref.id.split('-').at(-1)) % op.skipEvery === 0;
              both({ gone, skip, max: op.max, withPresumed: op.withPresumed }, op.horizonMs);
            } else if (op.kind === 'spend') {
              expect(fast.take(op.cost, now) !== undefined).toBe(
                slow.take(op.cost, now) !== undefined,
              );
            } else {
              const ids = both({ gone, max: 64, withPresumed: true });
              const id = ids[op.i % Math.max(1, ids.length)];
              const ref = [...numbered.candidates(now, 5_000)].find((r) => r.id === id);
              if (!ref) continue;
              if (op.kind === 'pageGone') gonePages.add(ref.page!.id);
              for (const [ledger, source] of [
                [fast, numbered],
                [slow, plain],
              ] as const) {
                if (op.kind === 'own') ledger.add(ref, source);
                if (op.kind === 'lost') ledger.markTaken(ref.id, ref.expiresAtMs);
                if (op.kind === 'presume') ledger.presumeTaken(ref.id, now + op.forMs);
                if (op.kind === 'unpresume') ledger.unpresume(ref.id);
              }
            }
          }
          both({ gone, max: 64 });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('never skips a block only guessed taken: once the guess lapses it is a candidate again', () => {
    const source = lineSource({ capacity: 1_000, ratePerSecond: 10, originMs: 0 }, 5);
    const ledger = new Ledger();
    const now = 60_000;
    const [oldest, next] = ledger.claimable(source, now, 0, { max: 2 });
    ledger.markTaken(next!.id, next!.expiresAtMs); // known: the remembered start may pass it
    ledger.presumeTaken(oldest!.id, now + 1_000);
    expect(ledger.claimable(source, now, 0, { max: 1 })[0]?.id).not.toBe(oldest!.id);
    expect(ledger.claimable(source, now + 1_000, 0, { max: 1 })[0]?.id).toBe(oldest!.id);
  });
});
