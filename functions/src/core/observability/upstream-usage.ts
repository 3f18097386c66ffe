// A provider's upstream usage over the health window: per-minute usage documents summed, its
// calls made and its quota-error rate.

/** A provider's per-minute usage statistics summed over the window. */
export interface UpstreamUsage {
  provider: string;
  granted: number;
  deferred: number;
  /** Upstream calls, when the callers record them (otherwise grants stand for calls). */
  calls: number;
  quotaErrors: number;
}

export interface UsageSampleDoc {
  provider: string;
  minuteMs: number;
  granted?: number;
  deferred?: number;
  calls?: number;
  quota429?: number;
}

/** Sums per-minute usage documents at or after `sinceMs` per provider. */
export function summarizeUsage(docs: readonly UsageSampleDoc[], sinceMs: number): UpstreamUsage[] {
  const byProvider = new Map<string, UpstreamUsage>();
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  for (const doc of docs) {
    if (doc.minuteMs < sinceMs) continue;
    const usage = byProvider.get(doc.provider) ?? {
      provider: doc.provider,
      granted: 0,
      deferred: 0,
      calls: 0,
      quotaErrors: 0,
    };
    usage.granted += n(doc.granted);
    usage.deferred += n(doc.deferred);
    usage.calls += n(doc.calls);
    usage.quotaErrors += n(doc.quota429);
    byProvider.set(doc.provider, usage);
  }
  return [...byProvider.values()].sort((a, b) => a.provider.localeCompare(b.provider));
}

/** Calls made: recorded calls when there are any, else grants (each grant is one call). */
export function attemptsOf(usage: UpstreamUsage): number {
  return usage.calls > 0 ? usage.calls : usage.granted;
}

/** Quota errors per call, at most 1; null without calls. */
export function errorRateOf(usage: UpstreamUsage): number | null {
  const attempts = attemptsOf(usage);
  if (attempts <= 0) return null;
  return Math.min(1, usage.quotaErrors / attempts);
}
