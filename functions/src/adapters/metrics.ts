import { Counter, Gauge, Registry } from 'prom-client';

/**
 * Prometheus metrics of this instance (prom-client). Adapters count here; the `metrics` HTTP
 * function serves `metricsRegistry` as text. One registry per process, so tests can read it.
 */
export const metricsRegistry = new Registry();

export const upstreamCalls = new Counter({
  name: 'tollgate_upstream_calls_total',
  help: 'Upstream HTTP calls by provider, operation and outcome (ok, quota, http_4xx, http_5xx, timeout, network, malformed).',
  labelNames: ['provider', 'operation', 'outcome'] as const,
  registers: [metricsRegistry],
});

export const upstreamErrors = new Counter({
  name: 'tollgate_upstream_errors_total',
  help: 'Typed upstream errors by provider and kind (quota, malformed, timeout, http, credentials, configuration, oversized).',
  labelNames: ['provider', 'kind'] as const,
  registers: [metricsRegistry],
});

export const upstreamBytes = new Counter({
  name: 'tollgate_upstream_bytes_total',
  help: 'Response bytes received from upstreams (proxy traffic is metered by this).',
  labelNames: ['provider'] as const,
  registers: [metricsRegistry],
});

export const upstreamSkippedLinks = new Counter({
  name: 'tollgate_upstream_skipped_links_total',
  help: 'Links in upstream pages passed over, by provider, operation and reason (malformed: no URL or bad percent-encoding; off-origin: a CSV on another host than the site).',
  labelNames: ['provider', 'operation', 'reason'] as const,
  registers: [metricsRegistry],
});

export const gateDecisions = new Counter({
  name: 'tollgate_gate_decisions_total',
  help: 'Gate answers by provider, category and decision (granted, deferred).',
  labelNames: ['provider', 'category', 'decision'] as const,
  registers: [metricsRegistry],
});

/** Per callable, not per user: a label per user would grow without bound. */
export const callerDecisions = new Counter({
  name: 'tollgate_call_limit_decisions_total',
  help: 'Per-user call limit answers by callable and decision (admitted, refused).',
  labelNames: ['callable', 'decision'] as const,
  registers: [metricsRegistry],
});

export const bufferedWrites = new Gauge({
  name: 'tollgate_write_buffer_pending',
  help: 'Document updates waiting in this instance write buffer.',
  registers: [metricsRegistry],
});

export const firestoreOps = new Counter({
  name: 'tollgate_firestore_ops_total',
  help: 'Firestore operations counted by the self-quota monitor (read, write, delete).',
  labelNames: ['op'] as const,
  registers: [metricsRegistry],
});
