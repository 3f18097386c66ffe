import { randomUUID } from 'node:crypto';
import { type DocumentReference, Timestamp, type WriteResult } from 'firebase-admin/firestore';
import { logger } from '../log';
import { isAlreadyExists } from './quota/collections';

export type Lease =
  | { kind: 'acquired'; release(): Promise<void> }
  | { kind: 'held'; untilMs: number };

/**
 * A lease document keeps two runs of one job from overlapping: created if absent, or taken
 * over once expired with a lastUpdateTime precondition (two takers cannot both win). Released
 * by deleting it, guarded the same way, so a run that outlived its lease never deletes its
 * successor's. `fields` describe the holder (they are stored alongside).
 */
export async function acquireLease(
  ref: DocumentReference,
  nowMs: number,
  leaseMs: number,
  fields: Record<string, unknown> = {},
): Promise<Lease> {
  const data = {
    ...fields,
    holder: randomUUID(),
    expiresAt: Timestamp.fromMillis(nowMs + leaseMs),
  };
  let written: WriteResult | undefined;
  try {
    written = await ref.create(data);
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
    const snap = await ref.get();
    const expiresAt = snap.get('expiresAt') as Timestamp | undefined;
    if (snap.exists && expiresAt && expiresAt.toMillis() > nowMs) {
      return { kind: 'held', untilMs: expiresAt.toMillis() };
    }
    try {
      written = snap.exists
        ? await ref.update(data, { lastUpdateTime: snap.updateTime! })
        : await ref.create(data);
    } catch {
      // Another run took the expired lease first; its expiry is about ours.
      return { kind: 'held', untilMs: nowMs + leaseMs };
    }
  }
  const writeTime = written.writeTime;
  return {
    kind: 'acquired',
    release: async () => {
      try {
        await ref.delete({ lastUpdateTime: writeTime });
      } catch (error) {
        logger.warn({ err: error, lease: ref.path }, 'lease was taken over before release');
      }
    },
  };
}
