import type { Ledger } from '../../../src/core/quota/ledger';
import type { TokenSource } from '../../../src/core/quota/token-source';

/**
 * Claims blocks for a ledger from a shared registry with create-if-absent semantics (the
 * in-memory stand-in for claim documents) until it holds `cost` spendable tokens or runs out.
 */
export function claimUntil(
  registry: Set<string>,
  ledger: Ledger,
  source: TokenSource,
  namespace: string,
  cost: number,
  now: number,
): void {
  if (ledger.available(now) >= cost) return;
  for (const ref of ledger.claimable(source, now, 0)) {
    const id = `${namespace}/${ref.id}`;
    if (registry.has(id)) ledger.markTaken(ref.id, ref.expiresAtMs);
    else {
      registry.add(id);
      ledger.add(ref, source);
    }
    if (ledger.available(now) >= cost) return;
  }
}
