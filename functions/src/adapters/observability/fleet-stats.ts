import { type Firestore, Timestamp } from 'firebase-admin/firestore';
import type { FleetDoc } from '../../core/observability/fleet-documents';
import {
  FLEET_HOUR_COLLECTION,
  FLEET_MINUTE_COLLECTION,
  FLEET_RETENTION_MS,
  FLEET_SHARDS,
  MINUTE_MS,
} from '../../core/observability/fleet-stats';
import { type QueueSample, queueSampleWrites } from '../../core/observability/fleet-writes';
import type { TaskQueueStatus } from '../../core/queues/task-queue-status';
import type { QueueAdmin } from '../queues/queue-admin';
import type { MergeSink } from './fleet-recorder';
import { readTaskQueues } from './health';
import { readQueueBacklog } from './observability';

/**
 * Fleet statistics in Firestore (layout and reasons: core/observability/fleet-stats.ts): upstream calls are
 * recorded by fleet-recorder.ts; queue depths are sampled here, by the heartbeat and the metrics
 * scrape. Read back by the `metrics` function (recent minutes) and `getQuotaStats` (up to the
 * 30 days kept).
 */

/** Queue samples from Cloud Tasks stats and Firestore backlogs, as the metrics read them. */
export function queueSamplesOf(
  taskQueues: ReadonlyArray<TaskQueueStatus | { queue: string; error: string }>,
  backlog: ReadonlyArray<{ queue: string; pending: number; oldestAtMs: number | null }>,
  nowMs: number,
): QueueSample[] {
  const samples: QueueSample[] = [];
  for (const q of taskQueues) {
    if ('error' in q) continue;
    samples.push({
      queue: q.queue,
      depth: q.tasks,
      oldestAgeSeconds: q.oldestTaskAgeSeconds,
      source: 'cloud_tasks',
    });
  }
  for (const b of backlog) {
    samples.push({
      queue: b.queue,
      depth: b.pending,
      oldestAgeSeconds:
        b.pending > 0 && b.oldestAtMs !== null ? Math.max(0, (nowMs - b.oldestAtMs) / 1000) : null,
      source: 'firestore',
    });
  }
  return samples;
}

/** Records queue samples taken at `atMs` (resolves when durable). */
export async function writeQueueSamples(
  sink: MergeSink,
  samples: readonly QueueSample[],
  atMs: number,
  retentionMs = FLEET_RETENTION_MS,
): Promise<void> {
  await Promise.all(
    queueSampleWrites(samples, atMs, retentionMs).map((w) => sink.merge(w.path, w.data)),
  );
}

/**
 * Samples every queue's depth now (the provider queues' Cloud Tasks stats where readable, and
 * the Firestore backlogs) and records it: the heartbeat's sampling.
 */
export async function sampleQueueDepths(options: {
  db: Firestore;
  nowMs: number;
  sink: MergeSink;
  taskQueues?: { admin: QueueAdmin; queues: readonly string[] };
}): Promise<QueueSample[]> {
  const { db, nowMs, sink, taskQueues } = options;
  const [tasks, backlog] = await Promise.all([
    taskQueues ? readTaskQueues(taskQueues.admin, taskQueues.queues).catch(() => []) : [],
    readQueueBacklog(db, nowMs),
  ]);
  const samples = queueSamplesOf(tasks, backlog, nowMs);
  await writeQueueSamples(sink, samples, nowMs);
  return samples;
}

/**
 * The fleet documents of one resolution at or after `fromMs`, newest first, at most `limit`
 * (one more is read to tell whether there were more: `truncated`).
 */
export async function readFleetDocs(
  db: Firestore,
  source: 'minute' | 'hour',
  fromMs: number,
  limit: number,
): Promise<{ docs: FleetDoc[]; truncated: boolean }> {
  const collection =
    source === 'hour'
      ? db.collection(FLEET_HOUR_COLLECTION)
      : db.collection(FLEET_MINUTE_COLLECTION);
  const snapshot = await collection
    .where('at', '>=', Timestamp.fromMillis(fromMs))
    .orderBy('at', 'desc')
    .limit(limit + 1)
    .get();
  const docs = snapshot.docs.slice(0, limit).flatMap((doc): FleetDoc[] => {
    const at = doc.get('at');
    if (!(at instanceof Timestamp)) return [];
    return [{ atMs: at.toMillis(), upstream: doc.get('upstream'), queues: doc.get('queues') }];
  });
  return { docs, truncated: snapshot.size > limit };
}

/**
 * The per-minute documents of the last `minutes` minutes (the current one included): at most
 * FLEET_SHARDS + 1 per minute, so the read is bounded by the window.
 */
export async function readRecentFleet(
  db: Firestore,
  nowMs: number,
  minutes: number,
): Promise<{ fromMs: number; docs: FleetDoc[]; truncated: boolean }> {
  const fromMs = Math.floor(nowMs / MINUTE_MS) * MINUTE_MS - (minutes - 1) * MINUTE_MS;
  const { docs, truncated } = await readFleetDocs(
    db,
    'minute',
    fromMs,
    minutes * (FLEET_SHARDS + 1),
  );
  return { fromMs, docs, truncated };
}
