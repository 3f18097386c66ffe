import { expect, it } from 'vitest';
import { findRun } from '../../../src/core/quota/claim-runs';
import { Ledger } from '../../../src/core/quota/ledger';
import type { PlannedLimit } from '../../../src/core/quota/limits';
import type { TokenLine } from '../../../src/core/quota/token-line';
import { lineSource } from '../../../src/core/quota/token-source';

function limitOn(line: TokenLine, blockTokens: number, amount: number): PlannedLimit {
  return {
    key: 'k',
    label: 'l',
    reason: 'tokens',
    source: lineSource(line, blockTokens),
    amount,
    limit: {
      kind: 'tokenBucket',
      capacity: line.capacity,
      refillPerSecond: line.ratePerSecond,
    } as never,
    ratePerSecond: line.ratePerSecond,
    blockTokens,
  };
}

it('a run found on a line that replaced another (token 0 never spendable) can pay its amount', () => {
  const origin = Date.UTC(2026, 11, 6, 12);
  const line: TokenLine = { capacity: 50, ratePerSecond: 10, originMs: origin, firstToken: 1 };
  const limit = limitOn(line, 4, 8);
  const now = origin + 2_000; // 20 tokens minted
  const ledger = new Ledger();
  const run = findRun(limit, ledger.claimable(limit.source, now, 10_000, { max: 512 }), now)!;
  for (const ref of run.blocks) ledger.add(ref, limit.source);
  expect(ledger.readyAt(8, now), `run ${run.blocks.map((r) => r.id)}`).toBeDefined();
});

it('a run found on a line that ends (a change published) can pay its amount', () => {
  const origin = Date.UTC(2026, 11, 6, 12);
  const line: TokenLine = {
    capacity: 50,
    ratePerSecond: 10,
    originMs: origin,
    endMs: origin + 1_000,
  };
  const limit = limitOn(line, 4, 8);
  const now = origin + 500; // tokens 0..5 minted; the line mints up to token 9
  const ledger = new Ledger();
  // Block 0 (tokens 0-3) was claimed and spent here: the only run left, blocks 1-2, would need
  // tokens 10 and 11, which the line never mints.
  ledger.add({ id: `${origin}-0`, start: 0, end: 4, expiresAtMs: Infinity }, limit.source);
  ledger.take(4, now);
  const run = findRun(limit, ledger.claimable(limit.source, now, 10_000, { max: 512 }), now);
  expect(
    run?.blocks.map((r) => r.id),
    'a run needing tokens the line never mints',
  ).toBeUndefined();
});
