import { increment } from './field-ops';

export const USAGE_STATS_COLLECTION = 'usageStats';
/** How long per-minute usage documents are kept before the TTL policy deletes them. */
export const DEFAULT_USAGE_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

export const USAGE_COUNTERS = ['granted', 'deferred', 'calls', 'quota429'] as const;
export type UsageCounter = (typeof USAGE_COUNTERS)[number];

export type UsageSample = {
  provider: string;
  category: string;
  at: Date | number;
} & Partial<Record<UsageCounter, number>>;

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** yyyyMMddHHmm in UTC: sorts by time and names one minute everywhere. */
export function minuteKey(atMs: number): string {
  const d = new Date(atMs);
  return `${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(
    d.getUTCHours(),
  )}${pad(d.getUTCMinutes())}`;
}

function checkId(kind: string, id: string): void {
  if (id === '' || id.includes('/') || id.includes('~')) {
    throw new TypeError(`invalid ${kind} id for usage stats: "${id}"`);
  }
}

/**
 * The merge update one usage sample makes to its per-minute document: counters as increments,
 * so every instance adds to the same document and the buffer folds a minute's samples into
 * one write.
 */
export function usageStatsUpdate(
  sample: UsageSample,
  retentionMs = DEFAULT_USAGE_RETENTION_MS,
): { path: string; data: Record<string, unknown> } {
  checkId('provider', sample.provider);
  checkId('category', sample.category);
  const atMs = typeof sample.at === 'number' ? sample.at : sample.at.getTime();
  if (!Number.isFinite(atMs)) throw new TypeError('usage sample has an invalid time');
  const minuteMs = Math.floor(atMs / 60_000) * 60_000;
  const data: Record<string, unknown> = {
    provider: sample.provider,
    category: sample.category,
    minute: new Date(minuteMs),
    expiresAt: new Date(minuteMs + retentionMs),
  };
  for (const counter of USAGE_COUNTERS) {
    const n = sample[counter];
    if (n !== undefined) data[counter] = increment(n);
  }
  const id = `${sample.provider}~${sample.category}~${minuteKey(minuteMs)}`;
  return { path: `${USAGE_STATS_COLLECTION}/${id}`, data };
}
