import type { Firestore } from 'firebase-admin/firestore';
import { collectionSchema } from '../../core/pipeline/collection-schema';
import { statusReport } from '../../core/pipeline/collection-status';
import { logger } from '../../log';
import {
  COLLECTION_WARNING_RETENTION_MS,
  COLLECTION_WARNINGS,
  COLLECTIONS_PATH,
} from './collection-documents';
import { loadPipelineConfig } from './pipeline-config';

/**
 * Judges every running collection with a deadline: one whose ETA passes its deadline is
 * marked late (`lateSince`) and a warning stored in `collectionWarnings` (once per episode:
 * a collection that stays late writes nothing more), one back on track is unmarked. A
 * collection without a measurable rate is not judged. Returns the ids that turned late.
 */
export async function checkDeadlines(
  db: Firestore,
  now: number,
): Promise<{ late: string[]; onTrack: string[] }> {
  const config = (await loadPipelineConfig(db)).collections;
  const running = await db.collection(COLLECTIONS_PATH).where('status', '==', 'running').get();
  const late: string[] = [];
  const onTrack: string[] = [];
  for (const doc of running.docs) {
    const parsed = collectionSchema.safeParse(doc.data());
    if (!parsed.success || !parsed.data.deadline) continue;
    const changed = await db.runTransaction(async (tx) => {
      const snapshot = await tx.get(doc.ref);
      const current = collectionSchema.safeParse(snapshot.data());
      if (!current.success || !current.data.deadline || current.data.status !== 'running') {
        return undefined;
      }
      const report = statusReport(current.data, now, { config });
      const verdict = report.deadline?.onTrack;
      if (verdict === false && current.data.lateSince === null) {
        tx.update(doc.ref, { lateSince: now });
        tx.create(db.collection(COLLECTION_WARNINGS).doc(`${doc.id}~${now}`), {
          collection: doc.id,
          provider: current.data.provider,
          category: current.data.category,
          kind: 'deadline',
          at: now,
          deadlineAtMs: current.data.deadline.atMs,
          etaAt: report.overall.etaAt,
          slackMs: report.deadline?.slackMs ?? null,
          ratePerHour: report.overall.ratePerHour,
          requiredRatePerHour: report.deadline?.requiredRatePerHour ?? null,
          expiresAt: new Date(now + COLLECTION_WARNING_RETENTION_MS),
        });
        return { late: true, report };
      }
      if (verdict === true && current.data.lateSince !== null) {
        tx.update(doc.ref, { lateSince: null });
        return { late: false, report };
      }
      return undefined;
    });
    if (!changed) continue;
    const { deadline, overall } = changed.report;
    const fields = {
      collection: doc.id,
      deadline: new Date(deadline!.atMs).toISOString(),
      eta: overall.etaAt === null ? null : new Date(overall.etaAt).toISOString(),
      ratePerHour: overall.ratePerHour,
      requiredRatePerHour: deadline!.requiredRatePerHour,
    };
    if (changed.late) {
      late.push(doc.id);
      logger.warn(fields, 'collection will miss its deadline');
    } else {
      onTrack.push(doc.id);
      logger.info(fields, 'collection back on track for its deadline');
    }
  }
  return { late, onTrack };
}
