import { randomUUID } from 'node:crypto';
import { FieldValue, type Firestore, Timestamp } from 'firebase-admin/firestore';

import type { BlockRef, PageOutcome, RunClaim } from '../../core/quota/token-source';
import { docId, isAlreadyExists, QUOTA_COLLECTIONS } from './collections';

/**
 * Claims tokens with create-if-absent documents in `quotaBlocks`: the instance whose create
 * succeeds owns the tokens; no claim document is ever written twice. A page document decides
 * once whether its tokens go to one instance whole or block by block. `expiresAt` drives a
 * TTL policy (firestore.indexes.json), so spent claims disappear on their own.
 */
export function firestoreClaims(db: Firestore, owner: string, onWrite?: () => void) {
  const ref = (limitKey: string, id: string) =>
    db.collection(QUOTA_COLLECTIONS.blocks).doc(docId(limitKey, id));
  const fields = (limitKey: string, block: BlockRef) => ({
    owner,
    limit: limitKey,
    block: block.id,
    start: block.start,
    end: block.end,
    claimedAt: FieldValue.serverTimestamp(),
    expiresAt: Timestamp.fromMillis(block.expiresAtMs),
  });

  async function create(limitKey: string, block: BlockRef, extra: object = {}): Promise<boolean> {
    try {
      await ref(limitKey, block.id).create({ ...fields(limitKey, block), ...extra });
      onWrite?.();
      return true;
    } catch (error) {
      if (isAlreadyExists(error)) return false;
      throw error;
    }
  }

  /**
   * One batch of creates: Firestore applies all or none. Each carries this commit's own id, so
   * a lost batch can tell its own commit (landed, its answer lost, the SDK retried it) from an
   * earlier claim under the same owner; otherwise the documents that exist are taken.
   */
  async function createAll(limitKey: string, run: RunClaim): Promise<string[]> {
    const commit = randomUUID();
    const all = [...run.pages, ...run.blocks];
    const batch = db.batch();
    for (const page of run.pages) {
      batch.create(ref(limitKey, page.id), { ...fields(limitKey, page), mode: 'whole', commit });
    }
    for (const block of run.blocks) {
      batch.create(ref(limitKey, block.id), { ...fields(limitKey, block), commit });
    }
    try {
      await batch.commit();
      for (const _ of all) onWrite?.();
      return [];
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
      const existing = await db.getAll(...all.map((claim) => ref(limitKey, claim.id)));
      if (existing.every((doc) => doc.exists && doc.get('commit') === commit)) return [];
      return all.filter((_, i) => existing[i]?.exists).map((claim) => claim.id);
    }
  }

  return {
    claim: (limitKey: string, block: BlockRef): Promise<boolean> => create(limitKey, block),
    claimRun: createAll,
    claimPage: async (
      limitKey: string,
      page: BlockRef,
      mode: 'whole' | 'split',
    ): Promise<PageOutcome> => {
      if (await create(limitKey, page, { mode })) return mode === 'whole' ? 'won' : 'split';
      // Page documents never change once created: one read tells its mode for good.
      const existing = await ref(limitKey, page.id).get();
      return existing.get('mode') === 'split' ? 'split' : 'taken';
    },
  };
}
