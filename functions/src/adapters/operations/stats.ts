import { type Firestore, type Query, Timestamp } from 'firebase-admin/firestore';
import type { z } from 'zod';
import {
  failedPrecondition,
  type getQuotaStatsInput,
  type getRecentWarningsInput,
  notFound,
  type QuotaMinute,
  type QuotaStatsResult,
  type RecentWarningsResult,
  type UsageCounters,
} from '../../core/api';
import { USAGE_COUNTERS, USAGE_STATS_COLLECTION } from '../../core/write-buffer/usage-stats';
import { recentWarnings } from '../self-quota-store';
import type { OperationContext } from './context';
import { categoryPath, providerPath } from './documents';

const MINUTE_MS = 60_000;
/** Usage documents one answer holds at most (a day of three categories); `truncated` beyond. */
export const MAX_MINUTE_DOCS = 5_000;

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
 * The per-minute usage documents since `fromMs`, oldest first, at most `limit` of them (and one
 * more read to tell whether there were more: `truncated`). The provider and category filters
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
    .orderBy('minute', 'asc')
    .limit(limit + 1)
    .get();
  const minutes = snapshot.docs.slice(0, limit).flatMap((doc): QuotaMinute[] => {
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

/** Usage per provider, category and minute over the last `minutes` minutes (default 60). */
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
  const { minutes, truncated } = await usageMinutes(db, fromMs, input);
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
  return { fromMs, toMs, minutes, totals, truncated };
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
