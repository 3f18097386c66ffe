import { onRequest } from 'firebase-functions/v2/https';
import { db, version } from '../adapters/firebase';
import { logger } from '../log';
import { HEARTBEAT_DOC } from './heartbeat';
import './options';

const FIRESTORE_TIMEOUT_MS = 5_000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Liveness and readiness: 200 when Firestore answers, 503 otherwise. */
export const health = onRequest(async (_req, res) => {
  const started = Date.now();
  try {
    const heartbeat = await withTimeout(db().doc(HEARTBEAT_DOC).get(), FIRESTORE_TIMEOUT_MS);
    res.status(200).json({
      status: 'ok',
      version: version(),
      firestore: { ok: true, latencyMs: Date.now() - started },
      scheduler: { lastHeartbeatAt: heartbeat.get('at')?.toDate?.()?.toISOString() ?? null },
    });
  } catch (error) {
    logger.warn({ err: error }, 'health: Firestore unreachable');
    res.status(503).json({
      status: 'degraded',
      version: version(),
      firestore: { ok: false, error: (error as Error).message },
    });
  }
});
