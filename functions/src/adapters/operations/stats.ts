import { type Firestore, type Query, Timestamp } from 'firebase-admin/firestore';
import type { z } from 'zod';
import { fleetResolution } from '../../core/observability/fleet-stats';
import { summarizeFleet } from '../../core/observability/fleet-summary';
import {
  type FleetStatsAnswer,
  failedPrecondition,
  type getQuotaStatsInput,
  type getRecentWarningsInput,
  notFound,
  type QuotaMinute,
  type QuotaStatsResult,
  type RecentWarningsResult,
  type UsageCounters,
} from '../../core/operations';
import {
  USAGE_COUNTERS,
  USAGE_STATS_COLLECTION,
} from '../../core/storage/write-buffer/usage-stats';
import { readFleetDocs } from '../observability/fleet-stats';
import { recentWarnings } from '../storage/self-quota-store';
import type { OperationContext } from './context';
import { categoryPath, providerPath } from './documents';

const MINUTE_MS = 60_000;
/** Usage documents one answer holds at most (a day of three categories); `truncated` beyond. */
export const MAX_MINUTE_DOCS = 5_000;
/**
 * Fleet statistics documents one answer reads at most: 720 hours (30 days) of FLEET_SHARDS
 * upstream documents and one queue document each, with room to spare.
 */
export const MAX_FLEET_DOCS = 4_000;

export function emptyCounters(): UsageCounters {
  return Object.fromEntries(USAGE_COUNTERS.map((c) => [c, 0])) as UsageCounters;
}

function countersOf(data: Record<string, unknown>): UsageCounters {
  const counters = emptyCounters();
  for (const c of USAGE_COUNTERS) {
    const n = data[c];
    counters[c] = typeof n === 'number' && Number.isFinite(n) ? n : 0;
  }
  return counters;
}

/**
 * The per-minute usage documents since `fromMs`, oldest first: the newest `limit` of them (read
 * newest first, and one more to tell whether there were more: `truncated`, the oldest minutes
 * left out, so a long range keeps its recent end). The provider and category filters
 * are part of the query (composite indexes in firestore.indexes.json), so the bound counts
 * matching documents only and a filtered answer is complete unless it says otherwise.
 */
export async function usageMinutes(
  db: Firestore,
  fromMs: number,
  filter: { provider?: string; category?: string } = {},
  limit = MAX_MINUTE_DOCS,
): Promise<{ minutes: QuotaMinute[]; truncated: boolean }> {
  let query: Query = db.collection(USAGE_STATS_COLLECTION);
  if (filter.provider !== undefined) query = query.where('provider', '==', filter.provider);
  if (filter.category !== undefined) query = query.where('category', '==', filter.category);
  const snapshot = await query
    .where('minute', '>=', Timestamp.fromMillis(fromMs))
    .orderBy('minute', 'desc')
    .limit(limit + 1)
    .get();
  const newest = snapshot.docs.slice(0, limit).reverse();
  const minutes = newest.flatMap((doc): QuotaMinute[] => {
    const data = doc.data();
    const minute = data.minute;
    if (!(minute instanceof Timestamp)) return [];
    const provider = String(data.provider ?? '');
    const category = String(data.category ?? '');
    return [{ minuteMs: minute.toMillis(), provider, category, ...countersOf(data) }];
  });
  return { minutes, truncated: snapshot.size > limit };
}

export function sumCounters(rows: readonly UsageCounters[]): UsageCounters {
  const total = emptyCounters();
  for (const row of rows) for (const c of USAGE_COUNTERS) total[c] += row[c];
  return total;
}

/**
 * Every instance's upstream calls (by outcome, with p50/p95 latency) and queue depths over the
 * last `minutes` minutes, for one provider or all: at most MAX_FLEET_DOCS documents read,
 * newest first, downsampled to at most 250 points per series (core/observability/fleet-stats.ts).
 */
export async function fleetStats(
  db: Firestore,
  nowMs: number,
  minutes: number,
  provider?: string,
  limit = MAX_FLEET_DOCS,
): Promise<FleetStatsAnswer> {
  const { source, fromMs, stepMs } = fleetResolution(minutes, nowMs);
  const { docs, truncated } = await readFleetDocs(db, source, fromMs, limit);
  const summary = summarizeFleet(docs, {
    fromMs,
    stepMs,
    ...(provider === undefined ? {} : { provider }),
  });
  return { source, fromMs, stepMs, ...summary, documents: docs.length, truncated };
}

/**
 * Usage per provider, category and minute over the last `minutes` minutes (default 60, at most
 * 30 days), and every instance's upstream calls and queue depths over the same range (for the
 * provider asked, or the category's provider).
 */
export async function getQuotaStats(
  ctx: OperationContext,
  input: z.output<typeof getQuotaStatsInput>,
): Promise<QuotaStatsResult> {
  const { db } = ctx;
  const [provider, category] = await Promise.all([
    input.provider === undefined ? undefined : db.doc(providerPath(input.provider)).get(),
    input.category === undefined ? undefined : db.doc(categoryPath(input.category)).get(),
  ]);
  if (input.provider !== undefined && !provider?.exists) {
    throw notFound('provider', input.provider, providerPath(input.provider));
  }
  if (input.category !== undefined && !category?.exists) {
    throw notFound('category', input.category, categoryPath(input.category));
  }
  if (input.provider !== undefined && category?.exists) {
    const owner = category.get('provider');
    if (owner !== input.provider) {
      throw failedPrecondition(
        `category "${input.category}" belongs to provider "${String(owner)}", not "${input.provider}"`,
      );
    }
  }
  const toMs = ctx.now();
  const fromMs = Math.floor(toMs / MINUTE_MS) * MINUTE_MS - ((input.minutes ?? 60) - 1) * MINUTE_MS;
  const fleetProvider =
    input.provider ?? (category?.exists ? String(category.get('provider')) : undefined);
  const [{ minutes, truncated }, upstream] = await Promise.all([
    usageMinutes(db, fromMs, input),
    fleetStats(db, toMs, input.minutes ?? 60, fleetProvider),
  ]);
  const byKey = new Map<string, { provider: string; category: string; rows: QuotaMinute[] }>();
  for (const m of minutes) {
    const key = `${m.provider}\u0000${m.category}`;
    const entry = byKey.get(key) ?? { provider: m.provider, category: m.category, rows: [] };
    entry.rows.push(m);
    byKey.set(key, entry);
  }
  const totals = [...byKey.values()]
    .map(({ provider: p, category: c, rows }) => ({
      provider: p,
      category: c,
      ...sumCounters(rows),
    }))
    .sort((a, b) => a.provider.localeCompare(b.provider) || a.category.localeCompare(b.category));
  return { fromMs, toMs, minutes, totals, truncated, upstream };
}

/** The newest Firestore self-quota warnings, newest first. */
export async function getRecentWarnings(
  ctx: OperationContext,
  input: z.output<typeof getRecentWarningsInput>,
): Promise<RecentWarningsResult> {
  const warnings = await recentWarnings(ctx.db, {
    limit: input.limit ?? 50,
    ...(input.sinceMs === undefined ? {} : { sinceMs: input.sinceMs }),
  });
  return { warnings };
}
