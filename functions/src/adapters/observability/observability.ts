import { FieldPath, type Firestore, Timestamp } from 'firebase-admin/firestore';
import { type HealthConfig, parseHealthConfig } from '../../core/observability/health-config';
import type { CooldownState, QueueBacklog } from '../../core/observability/health-input';
import { summarizeUsage, type UpstreamUsage } from '../../core/observability/upstream-usage';
import type { BatchKind } from '../../core/pipeline/batching';
import { USAGE_STATS_COLLECTION } from '../../core/storage/write-buffer';
import { CONFIG_PATHS } from '../config-repository';
import { AGGREGATIONS_COLLECTION } from '../pipeline/aggregation-documents';
import { AUTOSYNC_COLLECTION } from '../pipeline/autosync-state';
import { INGEST_COLLECTION, queueTimeMs, queueValue } from '../pipeline/ingest-queues';
import { PIPELINE_CONFIG_PATH } from '../pipeline/pipeline-config';
import { QUOTA_COLLECTIONS } from '../quota/collections';
import { VALIDATION_RUNS_PATH } from '../validation/validation-runner';

/**
 * What the health check and the metrics endpoint can see of the whole system, read from
 * Firestore (so every instance's work counts, not just this process's):
 *
 * - ingest queues: `ingest/{collection}` keeps counts per stage; items waiting now are peek +
 *   commit + light updates already due (a count query on `items.queue`), and the oldest item
 *   of each stage is one `limit(1)` query on the same single-field index;
 * - aggregations waiting for their flush: a count of `aggregations` with status pending;
 * - upstream quota errors: the per-minute `usageStats` documents (granted, deferred, calls,
 *   quota429) every quota engine writes through its buffer;
 * - cooldowns: `cooldowns/{provider}`;
 * - auto-sync: each source's watermark (`autosync/{source}`);
 * - the latest completed data-validation run (`validationRuns`).
 *
 * Not visible here: the depth of the Cloud Tasks queues themselves (deferred work items live
 * in Cloud Tasks, not Firestore: the queue stats API has it, see health.ts), and other
 * instances' write buffers (memory). Upstream outcomes other than quota errors (5xx, timeouts)
 * and latency are in the fleet statistics (fleet-stats.ts).
 */

async function ingestBacklog(
  state: FirebaseFirestore.QueryDocumentSnapshot,
  nowMs: number,
): Promise<QueueBacklog> {
  const counts = (state.get('counts') ?? {}) as Record<string, unknown>;
  const stages: Record<string, number> = {};
  for (const [stage, n] of Object.entries(counts)) {
    if (typeof n === 'number') stages[stage] = n;
  }
  const items = state.ref.collection('items');
  const range = (stage: BatchKind, untilMs?: number) => {
    const from = items.where('queue', '>=', `${stage}:`);
    return untilMs === undefined
      ? from.where('queue', '<', `${stage};`) // ';' follows ':'
      : from.where('queue', '<=', queueValue(stage, untilMs));
  };
  const oldest = (stage: BatchKind, untilMs?: number) =>
    range(stage, untilMs)
      .orderBy('queue')
      .select('queue')
      .limit(1)
      .get()
      .then((s) => (s.empty ? null : queueTimeMs(s.docs[0]!.get('queue'))));
  const peek = stages.peek ?? 0;
  const commit = stages.commit ?? 0;
  const light = stages.light ?? 0;
  const [lightDue, oldestPeek, oldestCommit, oldestLight] = await Promise.all([
    light > 0
      ? range('light', nowMs)
          .count()
          .get()
          .then((s) => s.data().count)
      : 0,
    peek > 0 ? oldest('peek') : null,
    commit > 0 ? oldest('commit') : null,
    light > 0 ? oldest('light', nowMs) : null,
  ]);
  stages.lightDue = lightDue;
  const oldestAll = [oldestPeek, oldestCommit, oldestLight].filter((v): v is number => v !== null);
  return {
    queue: `${INGEST_COLLECTION}/${state.id}`,
    pending: peek + commit + lightDue,
    stages,
    oldestAtMs: oldestAll.length > 0 ? Math.min(...oldestAll) : null,
  };
}

/** Pending work per queue: every ingest collection, and aggregations awaiting their flush. */
export async function readQueueBacklog(db: Firestore, nowMs: number): Promise<QueueBacklog[]> {
  const [states, aggregations] = await Promise.all([
    db.collection(INGEST_COLLECTION).get(),
    db.collection(AGGREGATIONS_COLLECTION).where('status', '==', 'pending').count().get(),
  ]);
  const ingest = await Promise.all(states.docs.map((s) => ingestBacklog(s, nowMs)));
  const pending = aggregations.data().count;
  return [
    ...ingest,
    { queue: AGGREGATIONS_COLLECTION, pending, stages: { pending }, oldestAtMs: null },
  ];
}

/** Per-provider usage over the last `windowMinutes` whole and current minutes. */
export async function readUpstreamUsage(
  db: Firestore,
  nowMs: number,
  windowMinutes: number,
): Promise<UpstreamUsage[]> {
  const sinceMs = Math.floor(nowMs / 60_000) * 60_000 - (windowMinutes - 1) * 60_000;
  const snapshot = await db
    .collection(USAGE_STATS_COLLECTION)
    .where('minute', '>=', Timestamp.fromMillis(sinceMs))
    .get();
  return summarizeUsage(
    snapshot.docs.flatMap((doc) => {
      const minute = doc.get('minute');
      const provider = doc.get('provider');
      if (!(minute instanceof Timestamp) || typeof provider !== 'string') return [];
      return [
        {
          provider,
          minuteMs: minute.toMillis(),
          granted: doc.get('granted'),
          deferred: doc.get('deferred'),
          calls: doc.get('calls'),
          quota429: doc.get('quota429'),
        },
      ];
    }),
    sinceMs,
  );
}

/** Every cooldown document, running or ended (ended ones stay until the next hit or a clear). */
export async function readCooldowns(db: Firestore): Promise<CooldownState[]> {
  const snapshot = await db.collection(QUOTA_COLLECTIONS.cooldowns).get();
  return snapshot.docs.flatMap((doc) => {
    const until = doc.get('until');
    if (!(until instanceof Timestamp)) return [];
    const startedAt = doc.get('startedAt');
    const hits = doc.get('hits');
    const lastOperation = doc.get('lastOperation');
    return [
      {
        provider: doc.id,
        untilMs: until.toMillis(),
        startedAtMs: startedAt instanceof Timestamp ? startedAt.toMillis() : null,
        hits: typeof hits === 'number' ? hits : null,
        lastOperation: typeof lastOperation === 'string' ? lastOperation : null,
      },
    ];
  });
}

/** Configured provider ids (document ids only). */
export async function readProviderIds(db: Firestore): Promise<string[]> {
  const snapshot = await db.collection(CONFIG_PATHS.providers).select().get();
  return snapshot.docs.map((d) => d.id).sort();
}

/** Each auto-sync source's watermark: everything before it is stored. */
export async function readAutosyncWatermarks(
  db: Firestore,
): Promise<Array<{ source: string; watermarkMs: number | null }>> {
  const snapshot = await db.collection(AUTOSYNC_COLLECTION).select('watermarkMs').get();
  return snapshot.docs.map((doc) => {
    const watermark = doc.get('watermarkMs');
    return { source: doc.id, watermarkMs: typeof watermark === 'number' ? watermark : null };
  });
}

/** The health thresholds: `config/pipeline` field `health`; defaults when absent or invalid. */
export async function readHealthConfig(
  db: Firestore,
): Promise<{ config: HealthConfig; problem?: string }> {
  const snapshot = await db.doc(PIPELINE_CONFIG_PATH).get();
  return parseHealthConfig(snapshot.get('health'));
}

/** Run documents looked through for the latest completed validation run (newest first). */
const VALIDATION_RUNS_SCANNED = 5;

/**
 * The latest completed data-validation run among the newest few (a run in progress is passed
 * over): its overall and per-marketplace pass rates and when it completed; null when none.
 */
export async function readLatestValidationRun(db: Firestore): Promise<{
  runId: string;
  passRate: number | null;
  marketplaces: Record<string, number | null>;
  completedAtMs: number | null;
} | null> {
  const snapshot = await db
    .collection(VALIDATION_RUNS_PATH)
    .orderBy(FieldPath.documentId(), 'desc')
    .limit(VALIDATION_RUNS_SCANNED)
    .get();
  const rate = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  for (const doc of snapshot.docs) {
    if (doc.get('status') !== 'completed') continue;
    const marketplaces: Record<string, number | null> = {};
    const stored = doc.get('marketplaces');
    if (typeof stored === 'object' && stored !== null) {
      for (const [m, r] of Object.entries(stored as Record<string, { passRate?: unknown }>)) {
        marketplaces[m] = rate(r?.passRate);
      }
    }
    return {
      runId: doc.id,
      passRate: rate(doc.get('passRate')),
      marketplaces,
      completedAtMs: rate(doc.get('completedAt')),
    };
  }
  return null;
}
