// The auto-sync state document `autosync/{source}` (backfill, audit runs and progress) as read
// and checked, and the lease under it that keeps a source's cycles from overlapping.
import type { Firestore } from 'firebase-admin/firestore';
import { parseDocument } from '../../core/config';
import {
  type AuditProgresses,
  type AuditRuns,
  auditProgressesSchema,
  auditRunsSchema,
} from '../../core/pipeline/audits';
import { type BackfillState, backfillStateSchema } from '../../core/pipeline/backfill';
import { acquireLease } from '../lease';

export const AUTOSYNC_COLLECTION = 'autosync';

interface StoredState {
  backfill: BackfillState;
  audits: AuditRuns;
  auditProgress: AuditProgresses;
}

export function readState(
  source: string,
  data: FirebaseFirestore.DocumentData | undefined,
): StoredState {
  const path = `${AUTOSYNC_COLLECTION}/${source}`;
  return {
    backfill: parseDocument(backfillStateSchema, path, data ?? {}),
    audits: parseDocument(auditRunsSchema, `${path}.audits`, data?.audits ?? {}),
    auditProgress: parseDocument(
      auditProgressesSchema,
      `${path}.auditProgress`,
      data?.auditProgress ?? {},
    ),
  };
}

/** `autosync/{source}/lease/current`: one cycle per source at a time (see lease.ts). */
export function acquireSourceLease(db: Firestore, source: string, nowMs: number, leaseMs: number) {
  const ref = db.collection(AUTOSYNC_COLLECTION).doc(source).collection('lease').doc('current');
  return acquireLease(ref, nowMs, leaseMs, { source });
}
