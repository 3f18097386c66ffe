import type { Firestore } from 'firebase-admin/firestore';
import { TOLLGATE_ACTOR } from '../../core/operations';
import { collectionSchema } from '../../core/pipeline/collection-schema';
import { statusReport } from '../../core/pipeline/collection-status';
import { type DeadlineStanding, deadlineShareChanges } from '../../core/pipeline/deadline-shares';
import { applyShareChanges, type ShareChange } from '../../core/pipeline/share-transition';
import { logger } from '../../log';
import { writeAudit } from '../operations/audit';
import {
  categoryPath,
  checkProviderShares,
  readProvider,
  readProviderCategories,
} from '../operations/documents';
import { publishAfterChange } from '../quota/republish';
import { COLLECTIONS_PATH, CollectionsRepository } from './collections-repository';
import { loadPipelineConfig } from './pipeline-config';

export interface DeadlineFollowUp {
  late: string[];
  onTrack: string[];
  /** Per provider, the shares raised (and taken) to meet deadlines, with the audit entry. */
  raised: Array<{ provider: string; changes: ShareChange[]; auditId: string }>;
}

/**
 * Deadlines, every heartbeat: late collections are marked and warned about (checkDeadlines),
 * then, for those whose deadline asks for it, shares follow (core/pipeline/deadline-shares.ts):
 * one transaction per provider re-reads its categories and collections, checks the provider
 * still sums to at most 100%, writes the shares, stamps the raised collections and the audit
 * entry (as Tollgate itself); the allocation is then republished. A collection raised within
 * its rate window is left alone until its rate shows the raise (no overshoot on a stale rate).
 */
export async function followDeadlines(db: Firestore, now: number): Promise<DeadlineFollowUp> {
  const repository = new CollectionsRepository(db, { now: () => now });
  const judged = await repository.checkDeadlines(now);
  const config = (await loadPipelineConfig(db)).collections;
  const raising = (await repository.listRunning()).filter(
    (c) => c.status === 'running' && c.deadline?.raiseShare && c.lateSince !== null,
  );
  const providers = [...new Set(raising.map((c) => c.provider))];
  const raised: DeadlineFollowUp['raised'] = [];
  for (const providerId of providers) {
    const outcome = await db.runTransaction(async (tx) => {
      const provider = await readProvider(db, tx, providerId);
      if (!provider) return undefined;
      const categories = await readProviderCategories(db, tx, providerId);
      const snapshot = await tx.get(
        db
          .collection(COLLECTIONS_PATH)
          .where('provider', '==', providerId)
          .where('status', '==', 'running'),
      );
      const standings: DeadlineStanding[] = [];
      // Every running collection of the provider: one without a deadline keeps its category
      // from giving, and one still settling from its last raise neither asks nor gives.
      for (const doc of snapshot.docs) {
        const parsed = collectionSchema.safeParse(doc.data());
        if (!parsed.success) continue;
        const collection = parsed.data;
        const settling =
          collection.deadlineRaisedAt !== null &&
          now - collection.deadlineRaisedAt < config.rateWindowMinutes * 60_000;
        const report = statusReport(collection, now, { config });
        standings.push({ collection, report, settling });
      }
      const changes = deadlineShareChanges(categories, standings);
      if (changes.length === 0) return undefined;
      checkProviderShares(provider, applyShareChanges(categories, changes));
      for (const change of changes) {
        tx.update(db.doc(categoryPath(change.category)), { sharePercent: change.toPercent });
      }
      const up = changes.filter((c) => c.toPercent > c.fromPercent).map((c) => c.category);
      for (const { collection } of standings) {
        if (up.includes(collection.category) && collection.lateSince !== null) {
          tx.update(db.collection(COLLECTIONS_PATH).doc(collection.id), { deadlineRaisedAt: now });
        }
      }
      const [main, ...related] = [...changes].sort(
        (a, b) => b.toPercent - b.fromPercent - (a.toPercent - a.fromPercent),
      );
      const auditId = writeAudit(db, tx, {
        who: TOLLGATE_ACTOR,
        what: 'followDeadlines',
        target: categoryPath(main!.category),
        before: { sharePercent: main!.fromPercent },
        after: { sharePercent: main!.toPercent },
        related: related.map((c) => ({
          path: categoryPath(c.category),
          before: { sharePercent: c.fromPercent },
          after: { sharePercent: c.toPercent },
        })),
        atMs: now,
      });
      return { changes, auditId };
    });
    if (!outcome) continue;
    raised.push({ provider: providerId, ...outcome });
    logger.warn(
      { provider: providerId, changes: outcome.changes },
      'shares moved to meet collection deadlines',
    );
    await publishAfterChange(db, now, providerId);
  }
  return { ...judged, raised };
}
