import { onRequest } from 'firebase-functions/v2/https';
import { inFunctionsEmulator } from '../../adapters/emulation';
import { db } from '../../adapters/firebase';
import {
  authorized,
  METRICS_TOKEN,
  metricsTokenState,
} from '../../adapters/observability/http-access';
import { renderMetrics } from '../../adapters/observability/state-metrics';
import { cloudTasksAdmin } from '../../adapters/queues/queue-admin';
import { PROVIDER_QUEUES } from '../../adapters/queues/queue-rates';
import { instanceWriteBuffer } from '../../adapters/storage/instance-write-buffer';
import { logger } from '../../log';
import type { HttpRequest } from './health';
import '../options';

export { authorized };

export interface MetricsResponse {
  status(code: number): MetricsResponse;
  set(field: string, value: string): MetricsResponse;
  send(body: string): unknown;
}

export interface MetricsHandlerDeps {
  /** The configured token (the TOLLGATE_METRICS_TOKEN secret). */
  token: () => string | undefined;
  /** The Functions emulator (not deployed): there, and only there, no token means open. */
  emulated: () => boolean;
  render: () => Promise<{ contentType: string; body: string }>;
  now?: () => number;
}

/** How often a refused scrape of an unconfigured deployment is logged (per instance). */
const UNCONFIGURED_LOG_EVERY_MS = 60_000;

/**
 * Scrapes send `Authorization: Bearer <TOLLGATE_METRICS_TOKEN>`. Deployed without the token,
 * every scrape is refused (401, and an error logged at most once a minute): metrics are never
 * open by omission. The Functions emulator without a token serves them (a warning says so).
 */
export function metricsHandler(deps: MetricsHandlerDeps) {
  const now = deps.now ?? Date.now;
  let loggedAt = Number.NEGATIVE_INFINITY;
  return async (req: HttpRequest, res: MetricsResponse): Promise<void> => {
    res.set('Cache-Control', 'no-store');
    const state = metricsTokenState(deps.token(), { emulated: deps.emulated() });
    if (state.kind === 'unconfigured' && now() - loggedAt >= UNCONFIGURED_LOG_EVERY_MS) {
      loggedAt = now();
      logger.error(
        'metrics: TOLLGATE_METRICS_TOKEN is not set, so every scrape is refused; set it with ' +
          '`firebase functions:secrets:set TOLLGATE_METRICS_TOKEN` and redeploy',
      );
    }
    if (state.kind === 'open' && now() - loggedAt >= UNCONFIGURED_LOG_EVERY_MS) {
      loggedAt = now();
      logger.warn('metrics: no TOLLGATE_METRICS_TOKEN in the emulator, serving without one');
    }
    const allowed =
      state.kind === 'open' ||
      (state.kind === 'required' && authorized(req.get('authorization'), state.token));
    if (!allowed) {
      res.status(401).set('WWW-Authenticate', 'Bearer').send('unauthorized\n');
      return;
    }
    const { contentType, body } = await deps.render();
    res.set('Content-Type', contentType);
    res.status(200).send(body);
  };
}

/**
 * Prometheus metrics as text: this instance's counters (adapters/observability/metrics.ts) and gauges computed
 * from Firestore at scrape time (queue backlog, cooldowns, recent quota errors, fleet-wide
 * upstream outcomes and latency, validation pass rate, auto-sync lag; see
 * adapters/observability/state-metrics.ts) and the provider queues' Cloud Tasks stats. A Firestore source
 * that cannot be read shows as `tollgate_state_read_success{source} 0`; the scrape itself still
 * answers 200.
 */
export const metrics = onRequest(
  { secrets: [METRICS_TOKEN] },
  metricsHandler({
    token: () => METRICS_TOKEN.value() || undefined,
    emulated: () => inFunctionsEmulator(),
    render: () =>
      renderMetrics(
        db(),
        Date.now(),
        { admin: cloudTasksAdmin(), queues: PROVIDER_QUEUES.map((q) => q.queue) },
        // The depths read for the scrape are kept in the fleet statistics (once a minute).
        { queueSamples: instanceWriteBuffer() },
      ),
  }),
);
