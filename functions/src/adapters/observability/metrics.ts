import { Counter, Gauge, Registry } from 'prom-client';
import type { SelfQuotaStatus } from '../../core/storage/self-quota';

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

/**
 * Where the self-quota gauges read this instance's monitor at scrape time (set by
 * self-quota-runtime.ts, which owns the monitor; nothing is shown before it is loaded).
 */
let selfQuotaSource: (() => SelfQuotaStatus) | undefined;
export function setSelfQuotaSource(source: (() => SelfQuotaStatus) | undefined): void {
  selfQuotaSource = source;
}

export const selfQuotaUsageRatio = new Gauge({
  name: 'tollgate_firestore_self_quota_usage_ratio',
  help: "This instance's Firestore operations over its self-quota limit, by op (read, write, delete) and window (second, minute); 0.8 is the soft limit.",
  labelNames: ['op', 'window'] as const,
  registers: [metricsRegistry],
  collect() {
    const status = selfQuotaSource?.();
    if (!status) return;
    for (const [op, windows] of Object.entries(status.usage)) {
      for (const [window, { usage, limit }] of Object.entries(windows)) {
        this.set({ op, window }, usage / limit);
      }
    }
  },
});

export const selfQuotaMultiplier = new Gauge({
  name: 'tollgate_firestore_self_quota_multiplier',
  help: "This instance's Firestore self-quota delay multiplier (1: not throttled; grows to 10 above the soft limit).",
  registers: [metricsRegistry],
  collect() {
    const status = selfQuotaSource?.();
    if (status) this.set(status.multiplier);
  },
});

export const selfQuotaPipelineMultiplier = new Gauge({
  name: 'tollgate_firestore_self_quota_pipeline_multiplier',
  help: "This instance's delay multiplier for heavy background work (ingest, validation, backups; 1: not paced). It grows from the soft limit scaled by the firestore-pipeline share, so it can exceed 1 while the buffer's multiplier is still 1.",
  registers: [metricsRegistry],
  collect() {
    const status = selfQuotaSource?.();
    if (status) this.set(status.backgroundMultiplier);
  },
});

export const selfQuotaThrottling = new Gauge({
  name: 'tollgate_firestore_self_quota_throttling',
  help: 'Whether this instance throttles Firestore work now (1: the write buffer or heavy background work is slowed).',
  registers: [metricsRegistry],
  collect() {
    const status = selfQuotaSource?.();
    if (status) this.set(status.throttled || status.backgroundMultiplier > 1 ? 1 : 0);
  },
});

export const selfQuotaPauseSeconds = new Counter({
  name: 'tollgate_firestore_self_quota_pause_seconds_total',
  help: 'Seconds heavy work (ingest, validation, backup, batch) paused for the Firestore self-quota.',
  labelNames: ['work'] as const,
  registers: [metricsRegistry],
});
