import type { Ledger } from './ledger';
import type { PlannedLimit } from './limits';

/** When every limit can supply its amount at once with owned tokens, or which cannot. */
export function readiness(
  limits: Array<PlannedLimit>,
  now: number,
  ledger: (key: string) => Ledger,
) {
  const missing: PlannedLimit[] = [];
  let readyAtMs = now;
  let limiting: PlannedLimit | undefined;
  for (const limit of limits) {
    const at = ledger(limit.key).readyAt(limit.amount, now);
    if (at === undefined) missing.push(limit);
    else if (at > readyAtMs) {
      readyAtMs = at;
      limiting = limit;
    }
  }
  if (missing.length > 0) return { missing, readyAtMs, limiting };
  // Tokens may expire while waiting for another limit: settle on a time all can meet.
  for (let i = 0; i < 8; i++) {
    const short = limits.filter((l) => ledger(l.key).available(readyAtMs) < l.amount);
    if (short.length === 0) return { missing, readyAtMs, limiting };
    for (const limit of short) {
      const at = ledger(limit.key).readyAt(limit.amount, readyAtMs);
      if (at === undefined) return { missing: [limit], readyAtMs, limiting };
      if (at > readyAtMs) {
        readyAtMs = at;
        limiting = limit;
      }
    }
  }
  return { missing: limits, readyAtMs, limiting };
}
