import type { ClaimPorts } from './claim-ports';
import type { Ledger } from './ledger';
import type { PlannedLimit } from './limits';
import type { BlockRef } from './token-source';
import { windowAt } from './windows';

/** Ranges given back by other instances one run may take. */
const MAX_RETURNS_PER_RUN = 4;

/**
 * Window tokens other instances gave back (idle, or shutting down): taken only once this
 * instance finds no regular block of the current window left to try, so a window that still
 * has unclaimed blocks costs no extra read. True when it took any. `gone`: the blocks of pages
 * owned whole (the claimer's pageTaken).
 */
export async function takeReturned(
  ports: ClaimPorts,
  ledger: Ledger,
  gone: (ref: BlockRef) => boolean,
  limit: PlannedLimit,
  now: number,
  enough: (spendableNow: number) => boolean,
): Promise<boolean> {
  if (!ports.takeReturn || limit.limit.kind !== 'window') return false;
  const window = windowAt(limit.limit.unit, now);
  const inWindow = (ref: BlockRef) => ref.validFromMs === window.startMs;
  const regular = ledger.claimable(limit.source, now, 0, {
    gone,
    max: 1,
  });
  if (regular.some(inWindow)) return false;
  let took = false;
  for (let i = 0; i < MAX_RETURNS_PER_RUN && !enough(0); i++) {
    const ref = await ports.takeReturn(limit.key, {
      startMs: window.startMs,
      endMs: window.endMs,
    });
    if (!ref) break;
    ledger.add(ref, limit.source);
    took = true;
  }
  return took;
}
