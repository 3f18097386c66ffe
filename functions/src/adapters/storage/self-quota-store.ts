import { randomUUID } from 'node:crypto';
import { type Firestore, Timestamp } from 'firebase-admin/firestore';
import type {
  FirestoreOp,
  QuotaWindow,
  SelfQuotaMonitor,
  SelfQuotaWarning,
} from '../../core/storage/self-quota';
import { logger } from '../../log';
import { instanceWriteBuffer } from './instance-write-buffer';
import { instanceSelfQuotaMonitor } from './self-quota-runtime';
import type { WriteBuffer } from './write-buffer';

export const SELF_QUOTA_WARNINGS = 'selfQuotaWarnings';
/** Warnings are for operators looking back a few days; the TTL policy deletes them after. */
export const DEFAULT_WARNING_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

/** The warning's document: ids sort by time, and a random tail keeps instances apart. */
export function warningDocument(
  warning: SelfQuotaWarning,
  retentionMs = DEFAULT_WARNING_RETENTION_MS,
): { path: string; data: Record<string, unknown> } {
  const id = `${String(warning.atMs).padStart(15, '0')}-${warning.op}-${warning.window}-${randomUUID().slice(0, 8)}`;
  return {
    path: `${SELF_QUOTA_WARNINGS}/${id}`,
    data: {
      at: Timestamp.fromMillis(warning.atMs),
      op: warning.op,
      window: warning.window,
      usage: warning.usage,
      limit: warning.limit,
      percent: warning.percent,
      expiresAt: Timestamp.fromMillis(warning.atMs + retentionMs),
    },
  };
}

/**
 * Wires a monitor to a buffer: its commit interval stretches while throttled, and warnings are
 * stored through it. Returns the function that undoes the wiring. The buffer's commits are not
 * counted here: they are counted, batch markers included, with every other operation of the
 * buffer's Firestore when that Firestore has a self-quota (self-quota-runtime.ts).
 */
export function connectSelfQuota(
  monitor: SelfQuotaMonitor,
  buffer: WriteBuffer,
  options: { retentionMs?: number; throttleBuffer?: boolean } = {},
): () => void {
  if (options.throttleBuffer ?? true) buffer.setThrottle((ms) => monitor.delayMs(ms));
  const offWarning = monitor.onWarning((warning) => {
    logger.warn(warning, 'Firestore self-quota warning');
    const { path, data } = warningDocument(warning, options.retentionMs);
    buffer.update(path, data).catch((error: unknown) => {
      logger.error({ err: error }, 'storing a self-quota warning failed');
    });
  });
  return () => {
    offWarning();
    buffer.setThrottle((ms) => ms);
  };
}

/** How many warnings all instances stored at or after `sinceMs` (a count: 1 read per 1,000). */
export async function countWarningsSince(db: Firestore, sinceMs: number): Promise<number> {
  const snapshot = await db
    .collection(SELF_QUOTA_WARNINGS)
    .where('at', '>=', Timestamp.fromMillis(sinceMs))
    .count()
    .get();
  return snapshot.data().count;
}

/** The newest stored warnings, newest first, optionally only those at or after `sinceMs`. */
export async function recentWarnings(
  db: Firestore,
  options: { limit?: number; sinceMs?: number } = {},
): Promise<SelfQuotaWarning[]> {
  let query = db.collection(SELF_QUOTA_WARNINGS).orderBy('at', 'desc');
  if (options.sinceMs !== undefined) {
    query = query.where('at', '>=', Timestamp.fromMillis(options.sinceMs));
  }
  const snapshot = await query.limit(options.limit ?? 50).get();
  return snapshot.docs.map((doc) => {
    const data = doc.data();
    return {
      atMs: (data.at as Timestamp).toMillis(),
      op: data.op as FirestoreOp,
      window: data.window as QuotaWindow,
      usage: data.usage as number,
      limit: data.limit as number,
      percent: data.percent as number,
    };
  });
}

let connected = false;

/**
 * The instance's monitor (self-quota-runtime.ts: the default Firestore counts into it),
 * connected to the instance's write buffer.
 */
export function instanceSelfQuota(): SelfQuotaMonitor {
  const monitor = instanceSelfQuotaMonitor();
  if (!connected) {
    connected = true;
    connectSelfQuota(monitor, instanceWriteBuffer());
  }
  return monitor;
}
