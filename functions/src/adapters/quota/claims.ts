import { FieldValue, type Firestore, Timestamp } from 'firebase-admin/firestore';
import type { BlockRef } from '../../core/quota/token-source';
import { docId, isAlreadyExists, QUOTA_COLLECTIONS } from './collections';

/**
 * Claims a block of tokens with create-if-absent: the instance whose create succeeds owns the
 * block's tokens; no claim document is ever written twice. `expiresAt` drives a TTL policy
 * (firestore.indexes.json), so spent claims disappear on their own.
 */
export function firestoreClaims(db: Firestore, owner: string, onWrite?: () => void) {
  return async (limitKey: string, ref: BlockRef): Promise<boolean> => {
    try {
      await db
        .collection(QUOTA_COLLECTIONS.blocks)
        .doc(docId(limitKey, ref.id))
        .create({
          owner,
          limit: limitKey,
          block: ref.id,
          start: ref.start,
          end: ref.end,
          claimedAt: FieldValue.serverTimestamp(),
          expiresAt: Timestamp.fromMillis(ref.expiresAtMs),
        });
      onWrite?.();
      return true;
    } catch (error) {
      if (isAlreadyExists(error)) return false;
      throw error;
    }
  };
}
