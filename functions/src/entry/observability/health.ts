import { onRequest } from 'firebase-functions/v2/https';
import { adminAuth, db, version } from '../../adapters/firebase';
import {
  checkHealth,
  HealthCache,
  type HealthCheckResult,
  healthDetailBody,
  publicHealthBody,
} from '../../adapters/observability/health';
import {
  type DetailAccessOptions,
  detailAccess,
  METRICS_TOKEN,
} from '../../adapters/observability/http-access';
import { HEARTBEAT_DOC } from '../../adapters/operations/status';
import { cloudTasksAdmin } from '../../adapters/queues/queue-admin';
import { PROVIDER_QUEUES } from '../../adapters/queues/queue-rates';
import '../options';

/** As much of an HTTP request and response as the handler uses (Express's satisfy both). */
export interface HttpRequest {
  get(name: string): string | undefined;
}
export interface HttpResponse {
  status(code: number): HttpResponse;
  set(field: string, value: string): HttpResponse;
  json(body: unknown): unknown;
}

export interface HealthHandlerDeps {
  /** Runs one full check (Firestore, usage, cooldowns, Cloud Tasks). */
  check: () => Promise<HealthCheckResult>;
  /** How long one check answers the public status (20 s by default). */
  maxAgeMs?: number;
  now?: () => number;
  metricsToken: () => string | undefined;
  verifyIdToken: DetailAccessOptions['verifyIdToken'];
  version: () => string;
}

/**
 * Liveness and readiness: 200 when healthy, 503 when degraded (Firestore unreachable, a
 * provider's recent quota-error rate or a queue's backlog above its threshold, or a check that
 * could not be read; see core/observability/health.ts, thresholds in `config/pipeline` `health`).
 *
 * Anyone gets `{status}` only, from a check at most 20 s old on this instance (requests share
 * it, so the endpoint cannot be used to read Firestore at will). The whole report (reasons,
 * queues, upstream error rates, cooldowns, Cloud Tasks stats, thresholds, version) needs
 * `Authorization: Bearer <metrics token>` or a Firebase ID token with a role claim (viewer
 * or above), and comes from a check run for the request. Other credentials: 401, a user
 * without a role: 403.
 */
export function healthHandler(deps: HealthHandlerDeps) {
  const cache = new HealthCache(deps.check, {
    ...(deps.maxAgeMs === undefined ? {} : { maxAgeMs: deps.maxAgeMs }),
    ...(deps.now === undefined ? {} : { now: deps.now }),
  });
  const handler = async (req: HttpRequest, res: HttpResponse): Promise<void> => {
    res.set('Cache-Control', 'no-store');
    const access = await detailAccess(req.get('authorization'), {
      metricsToken: deps.metricsToken(),
      verifyIdToken: deps.verifyIdToken,
    });
    if (access.kind === 'refused') {
      if (access.status === 401) res.set('WWW-Authenticate', 'Bearer');
      res.status(access.status).json({ error: access.reason });
      return;
    }
    if (access.kind === 'public') {
      const result = await cache.current();
      res.status(result.httpStatus).json(publicHealthBody(result));
      return;
    }
    const result = await cache.fresh();
    res.status(result.httpStatus).json(healthDetailBody(result, deps.version()));
  };
  return Object.assign(handler, { cache });
}

export const health = onRequest(
  { secrets: [METRICS_TOKEN] },
  healthHandler({
    check: () =>
      checkHealth(db(), {
        probePath: HEARTBEAT_DOC,
        taskQueues: { admin: cloudTasksAdmin(), queues: PROVIDER_QUEUES.map((q) => q.queue) },
      }),
    metricsToken: () => METRICS_TOKEN.value() || undefined,
    // A revoked session (a demotion revokes them) is refused the detail (401).
    verifyIdToken: (idToken) => adminAuth().verifyIdToken(idToken, true),
    version,
  }),
);
