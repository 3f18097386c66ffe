import { FieldValue, type Firestore } from 'firebase-admin/firestore';
import { HEARTBEAT_DOC } from '../operations/status';

/**
 * The traces the scheduler and the task path leave in Firestore, for health and for operators:
 * the heartbeat's last beat, and each diagnostic probe's runs.
 */

/** One beat of the scheduled heartbeat: health reports how long ago the last one was. */
export async function recordHeartbeat(db: Firestore): Promise<void> {
  await db
    .doc(HEARTBEAT_DOC)
    .set({ at: FieldValue.serverTimestamp(), beats: FieldValue.increment(1) }, { merge: true });
}

/** One run of a diagnostic probe, at `diagnostics/{probeId}` (operators and e2e tests watch it). */
export async function recordDiagnosticRun(
  db: Firestore,
  probe: { probeId: string; note?: string },
  retryCount: number,
): Promise<void> {
  await db.doc(`diagnostics/${probe.probeId}`).set(
    {
      ranAt: FieldValue.serverTimestamp(),
      runs: FieldValue.increment(1),
      retryCount,
      note: probe.note ?? null,
    },
    { merge: true },
  );
}
