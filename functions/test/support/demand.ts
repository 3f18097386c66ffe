import type { Firestore } from 'firebase-admin/firestore';
import { demandMinutes } from '../../src/adapters/operations/replay';

/**
 * The demand a provider's engines recorded between two times (as policy replay reads it),
 * summed over its minute documents: calls asked, first asks, grants, deferrals and re-asks.
 */
export async function recordedDemandTotals(
  db: Firestore,
  provider: string,
  fromMs: number,
  toMs: number,
) {
  const { minutes } = await demandMinutes(db, fromMs, toMs, provider);
  const sum = (f: (m: (typeof minutes)[number]) => number) => minutes.reduce((n, m) => n + f(m), 0);
  return {
    asked: sum((m) => m.asked),
    firstAsks: sum((m) => Object.values(m.firstAsks).reduce((a, b) => a + b, 0)),
    granted: sum((m) => m.granted),
    deferred: sum((m) => m.deferred),
    reasked: sum((m) => m.reasked),
  };
}
