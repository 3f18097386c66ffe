import { randomUUID } from 'node:crypto';
import { type DocumentReference, Timestamp, type WriteResult } from 'firebase-admin/firestore';
import { logger } from '../log';
import { isAlreadyExists } from './quota/collections';

export interface AcquiredLease {
  kind: 'acquired';
  /** When the lease runs out unless renewed: the expiry of its latest write. */
  readonly expiresAtMs: number;
  /**
   * Moves the expiry to `untilMs`, guarded by the lease's latest write time (lastUpdateTime
   * precondition), so a lease someone else took over (or deleted) is never overwritten.
   * Resolves true once written, false when the lease is lost (then and ever after). Rejects
   * on other errors (unavailable, deadline...): the write may or may not have landed; if it
   * did, the next renew finds the document changed and answers false, which errs on the safe
   * side. Renewals and the release run one after another, each with the latest write time.
   */
  renew(untilMs: number): Promise<boolean>;
  /** Deletes the lease document unless someone else wrote it since; never rejects. */
  release(): Promise<void>;
}

export type Lease = AcquiredLease | { kind: 'held'; untilMs: number };

/** gRPC FAILED_PRECONDITION (lastUpdateTime mismatch) or NOT_FOUND (deleted since). */
function isLost(error: unknown): boolean {
  const code = (error as { code?: number } | undefined)?.code;
  return code === 9 || code === 5;
}

/**
 * A lease document keeps two runs of one job from overlapping: created if absent, or taken
 * over once expired with a lastUpdateTime precondition (two takers cannot both win). Renewed
 * and released by writes guarded the same way, so a run that outlived its lease never extends
 * or deletes its successor's. `fields` describe the holder (they are stored alongside).
 */
export async function acquireLease(
  ref: DocumentReference,
  nowMs: number,
  leaseMs: number,
  fields: Record<string, unknown> = {},
): Promise<Lease> {
  const expiresAtMs = nowMs + leaseMs;
  const data = {
    ...fields,
    holder: randomUUID(),
    expiresAt: Timestamp.fromMillis(expiresAtMs),
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
  return heldLease(ref, written.writeTime, expiresAtMs);
}

function heldLease(
  ref: DocumentReference,
  firstWrite: Timestamp,
  firstExpiresAtMs: number,
): AcquiredLease {
  let writeTime = firstWrite;
  let expiresAtMs = firstExpiresAtMs;
  let lost = false;
  // Renewals and the release one at a time, so each sees the write time of the one before.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(op: () => Promise<T>): Promise<T> => {
    const result = queue.then(op);
    queue = result.catch(() => undefined);
    return result;
  };
  return {
    kind: 'acquired',
    get expiresAtMs() {
      return expiresAtMs;
    },
    renew: (untilMs) =>
      serial(async () => {
        if (lost) return false;
        try {
          const result = await ref.update(
            { expiresAt: Timestamp.fromMillis(untilMs) },
            { lastUpdateTime: writeTime },
          );
          writeTime = result.writeTime;
          expiresAtMs = untilMs;
          return true;
        } catch (error) {
          if (!isLost(error)) throw error;
          lost = true;
          return false;
        }
      }),
    release: () =>
      serial(async () => {
        if (lost) return; // not ours any more: nothing to delete
        lost = true; // released: no renewal after this
        try {
          await ref.delete({ lastUpdateTime: writeTime });
        } catch (error) {
          logger.warn(
            { err: error, lease: ref.path },
            isLost(error) ? 'lease was taken over before release' : 'lease not released',
          );
        }
      }),
  };
}
