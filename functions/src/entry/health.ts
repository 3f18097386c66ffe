import { onRequest } from 'firebase-functions/v2/https';
import { db, version } from '../adapters/firebase';
import { checkHealth } from '../adapters/health';
import { cloudTasksAdmin } from '../adapters/queue-admin';
import { PROVIDER_QUEUES } from '../adapters/queue-rates';
import { HEARTBEAT_DOC } from './heartbeat';
import './options';

/**
 * Liveness and readiness: 200 when healthy, 503 when degraded (Firestore unreachable, a
 * provider's recent quota-error rate or a queue's backlog above its threshold (Firestore's
 * ingest and aggregation state, and the provider queues' Cloud Tasks stats), or a check that
 * could not be read). Active cooldowns are reported, not degraded. Thresholds: `config/pipeline`
 * field `health` (see core/health.ts).
 */
export const health = onRequest(async (_req, res) => {
  const { httpStatus, report, lastHeartbeatAt } = await checkHealth(db(), {
    probePath: HEARTBEAT_DOC,
    taskQueues: { admin: cloudTasksAdmin(), queues: PROVIDER_QUEUES.map((q) => q.queue) },
  });
  res.set('Cache-Control', 'no-store');
  res.status(httpStatus).json({
    status: report.status,
    version: version(),
    checkedAt: report.checkedAt,
    reasons: report.reasons,
    notes: report.notes,
    firestore: report.firestore,
    scheduler: { lastHeartbeatAt },
    queues: report.queues,
    upstreams: report.upstreams,
    cooldowns: report.cooldowns,
    taskQueues: report.taskQueues,
    thresholds: report.thresholds,
  });
});
