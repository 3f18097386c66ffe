import { createHash, timingSafeEqual } from 'node:crypto';
import { onRequest } from 'firebase-functions/v2/https';
import { db } from '../adapters/firebase';
import { cloudTasksAdmin } from '../adapters/queue-admin';
import { PROVIDER_QUEUES } from '../adapters/queue-rates';
import { renderMetrics } from '../adapters/state-metrics';
import './options';

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** With `TOLLGATE_METRICS_TOKEN` set (functions/.env), scrapers send `Authorization: Bearer <it>`. */
export function authorized(header: string | undefined, token: string | undefined): boolean {
  if (!token) return true;
  const presented = /^Bearer (.+)$/.exec(header ?? '')?.[1] ?? '';
  return timingSafeEqual(sha256(presented), sha256(token));
}

/**
 * Prometheus metrics as text: this instance's counters (adapters/metrics.ts) and gauges computed
 * from Firestore at scrape time (queue backlog, cooldowns, recent quota errors, auto-sync lag;
 * see adapters/state-metrics.ts) and the provider queues' Cloud Tasks stats. A Firestore source that cannot be read shows as
 * `tollgate_state_read_success{source} 0`; the scrape itself still answers 200.
 */
export const metrics = onRequest(async (req, res) => {
  if (!authorized(req.get('authorization'), process.env.TOLLGATE_METRICS_TOKEN)) {
    res.status(401).set('WWW-Authenticate', 'Bearer').send('unauthorized\n');
    return;
  }
  const { contentType, body } = await renderMetrics(db(), Date.now(), {
    admin: cloudTasksAdmin(),
    queues: PROVIDER_QUEUES.map((q) => q.queue),
  });
  res.set('Content-Type', contentType);
  res.set('Cache-Control', 'no-store');
  res.status(200).send(body);
});
