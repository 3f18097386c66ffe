// Reading back the validation: the latest completed run, overall or of one marketplace.
import { FieldPath, type Firestore } from 'firebase-admin/firestore';
import { VALIDATION_RUNS_PATH, type ValidationRunSummary } from './validation-runner';

/**
 * The latest completed run, or with `marketplace` the latest completed run that checked it.
 * Scans newest first (run ids sort by time), at most `maxRuns` runs, so no index is needed.
 */
export async function latestValidation(
  db: Firestore,
  marketplace?: string,
  { maxRuns = 60 }: { maxRuns?: number } = {},
): Promise<ValidationRunSummary | undefined> {
  const pageSize = 20;
  let cursor: string | undefined;
  for (let seen = 0; seen < maxRuns; seen += pageSize) {
    let query = db
      .collection(VALIDATION_RUNS_PATH)
      .orderBy(FieldPath.documentId(), 'desc')
      .limit(Math.min(pageSize, maxRuns - seen));
    if (cursor) query = query.startAfter(cursor);
    const { docs } = await query.get();
    for (const doc of docs) {
      const run = doc.data() as ValidationRunSummary;
      if (run.status !== 'completed') continue;
      if (marketplace === undefined || Object.hasOwn(run.marketplaces, marketplace)) return run;
    }
    if (docs.length < pageSize) return undefined;
    cursor = docs[docs.length - 1]!.id;
  }
  return undefined;
}
