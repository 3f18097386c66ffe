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

const lineArb = fc.record({
  capacity: fc.integer({ min: 2, max: 300 }),
  ratePerSecond: fc.integer({ min: 1, max: 200 }),
  blockSize: fc.integer({ min: 1, max: 12 }),
});

type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;
type Shape = typeof lineArb extends fc.Arbitrary<infer T> ? T : never;

/**
 * Runs the same operations on a ledger of a numbered source and one of the same source without
 * numbers, comparing what each look answers. Time only moves forward unless `back` steps come:
 * then the numbered ledger may leave out blocks it knew were gone (owned, lost, in a page gone)
 * that the other, having forgotten them once expired, offers again; nothing else.
 */
function compare(
  { capacity, ratePerSecond, blockSize }: Shape,
  ops: Array<Op | { kind: 'back'; ms: number }>,
) {
  const line: TokenLine = { capacity, ratePerSecond, originMs: 1_000_000 };
  const numbered = lineSource(line, blockSize);
  const plain = unnumbered(numbered);
  const fast = new Ledger();
  const slow = new Ledger();
  const gonePages = new Set<string>();
  const known = new Set<string>();
  const gone = (ref: BlockRef) => ref.page !== undefined && gonePages.has(ref.page.id);
  let now = 1_000_000;
  let steppedBack = false;
  const both = (look: Look, horizonMs = 5_000) => {
    if (!steppedBack) {
      const a = fast.claimable(numbered, now, horizonMs, look).map((r) => r.id);
      expect(a).toEqual(slow.claimable(plain, now, horizonMs, look).map((r) => r.id));
      return a;
    }
    const all = { ...look, max: 100_000 };
    const a = fast.claimable(numbered, now, horizonMs, all);
    const b = slow.claimable(plain, now, horizonMs, all).map((r) => r.id);
    const ids = a.map((r) => r.id);
    expect(b).toEqual(expect.arrayContaining(ids));
    for (const id of b) {
      if (!ids.includes(id)) expect(known.has(id) || gonePages.has(pageOf(id))).toBe(true);
    }
    return ids;
  };
  const pageOf = (id: string) =>
    [...numbered.candidates(now - 600_000, 1_200_000)].find((r) => r.id === id)?.page?.id ?? '';
  for (const op of ops) {
    if (op.kind === 'advance') now += op.ms;
    else if (op.kind === 'back') {
      now -= op.ms;
      steppedBack = true;
    } else if (op.kind === 'look') {
      const skip = (ref: BlockRef) =>
        op.skipEvery > 0 && Number(ref.id.split('-').at(-1)) % op.skipEvery === 0;
      both({ gone, skip, max: op.max, withPresumed: op.withPresumed }, op.horizonMs);
    } else if (op.kind === 'spend') {
      expect(fast.take(op.cost, now) !== undefined).toBe(slow.take(op.cost, now) !== undefined);
    } else {
      const ids = both({ gone, max: 64, withPresumed: true });
      const id = ids[op.i % Math.max(1, ids.length)];
      const ref = [...numbered.candidates(now, 5_000)].find((r) => r.id === id);
      if (!ref) continue;
      if (op.kind === 'pageGone') gonePages.add(ref.page!.id);
      if (op.kind === 'own' || op.kind === 'lost') known.add(ref.id);
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
}

describe('Ledger.claimable skips the known-gone start of a numbered source', () => {
  it('answers exactly as a ledger that looks through every block, whatever happened before', () => {
    fc.assert(fc.property(lineArb, fc.array(opArb, { minLength: 1, maxLength: 120 }), compare), {
      numRuns: 500,
    });
  });

  it('with a clock that steps back, leaves out only blocks it knew were gone', () => {
    const backArb = fc.record({
      kind: fc.constant('back' as const),
      ms: fc.oneof(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 10_000 })),
    });
    fc.assert(
      fc.property(
        lineArb,
        fc.array(fc.oneof({ arbitrary: opArb, weight: 6 }, { arbitrary: backArb, weight: 1 }), {
          minLength: 1,
          maxLength: 120,
        }),
        compare,
      ),
      { numRuns: 500 },
    );
  });

  it('a clock stepped back 1 ms finds the block that expired in that millisecond', () => {
    // 1 token a second, each valid 1 s (capacity 2), blocks of one token.
    const source = lineSource({ capacity: 2, ratePerSecond: 1, originMs: 1_000_000 }, 1);
    const ledger = new Ledger();
    const at = 1_001_000; // token 1 minted, token 0 just expired
    const [first] = ledger.claimable(source, at, 0, { max: 1 });
    expect(first?.id).toBe('1000000-1');
    ledger.add(first!, source);
    ledger.claimable(source, at, 0, { max: 1 }); // the floor passes the owned block
    expect(ledger.claimable(source, at - 1, 0, { max: 4 }).map((r) => r.id)).toContain('1000000-0');
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
