import type { Firestore } from 'firebase-admin/firestore';
import type { z } from 'zod';
import type {
  CooldownStatus,
  FirestoreSelfQuotaStatus,
  getStatusInput,
  StatusResult,
} from '../../core/api';
import { configuredPercent, effectiveShares, isPaused } from '../../core/quota/allocation';
import { loadRuntimeConfig } from '../config-repository';
import { isInstrumented } from '../firestore-ops';
import { fromDoc as allocationFromDoc } from '../quota/allocations';
import { QUOTA_COLLECTIONS } from '../quota/collections';
import { selfQuotaOf } from '../self-quota-runtime';
import { countWarningsSince } from '../self-quota-store';
import type { OperationContext } from './context';
import { cooldownStatus } from './cooldowns';
import { emptyCounters, sumCounters, usageMinutes } from './stats';

const MINUTE_MS = 60_000;
/** getStatus counts the self-quota warnings stored in this last stretch of time. */
export const RECENT_WARNINGS_MS = 60 * MINUTE_MS;

/** The answering instance's Firestore self-quota, and the warnings all instances stored. */
async function firestoreStatus(
  db: Firestore,
  nowMs: number,
): Promise<FirestoreSelfQuotaStatus | null> {
  const quota = selfQuotaOf(db);
  // Attached but not counted (an SDK without the request funnel): its usage would read 0%,
  // which is not what happens; say "not counted" instead, as StatusResult documents.
  if (!quota || !isInstrumented(db)) return null;
  const sinceMs = nowMs - RECENT_WARNINGS_MS;
  const [reading, recentWarnings] = await Promise.all([
    quota.status(),
    countWarningsSince(db, sinceMs),
  ]);
  return {
    usage: reading.usage,
    multiplier: reading.multiplier,
    pipelineMultiplier: reading.backgroundMultiplier,
    pipelineSharePercent: Math.round(reading.backgroundShare * 10_000) / 100,
    throttling: reading.throttled || reading.backgroundMultiplier > 1,
    limitsSource: reading.limitsSource,
    recentWarnings,
    recentWarningsSinceMs: sinceMs,
  };
}

/**
 * The validated configuration (an invalid document is failed-precondition naming it), each
 * provider's active cooldown, each category's configured, effective and published share and
 * its usage over the last few minutes, maintenance mode, and the Firestore self-quota.
 */
export async function getStatus(
  ctx: OperationContext,
  input: z.output<typeof getStatusInput>,
): Promise<StatusResult> {
  const { db } = ctx;
  const nowMs = ctx.now();
  const windowMinutes = input.usageWindowMinutes ?? 5;
  const fromMs = Math.floor(nowMs / MINUTE_MS) * MINUTE_MS - (windowMinutes - 1) * MINUTE_MS;
  const [config, cooldownDocs, allocationDocs, usage, firestore] = await Promise.all([
    loadRuntimeConfig(db),
    db.collection(QUOTA_COLLECTIONS.cooldowns).get(),
    db.collection(QUOTA_COLLECTIONS.allocations).get(),
    usageMinutes(db, fromMs),
    firestoreStatus(db, nowMs),
  ]);

  const cooldowns: CooldownStatus[] = cooldownDocs.docs
    .map((doc) => cooldownStatus(doc.id, doc.data(), nowMs))
    .filter((c) => c.untilMs > nowMs)
    .sort((a, b) => a.untilMs - b.untilMs);
  const published = new Map<string, number>();
  for (const doc of allocationDocs.docs) {
    // The share last published for each category (it may still be waiting for its start).
    let parsed: ReturnType<typeof allocationFromDoc> | undefined;
    try {
      parsed = allocationFromDoc(doc.data());
    } catch {
      continue; // a malformed allocation shows as unpublished
    }
    for (const [category, epochs] of Object.entries(parsed.categories)) {
      const last = epochs.at(-1);
      if (last) published.set(`${doc.id}\u0000${category}`, last.percent);
    }
  }
  const effective = new Map<string, number>();
  for (const provider of config.providers) {
    const categories = config.categories.filter((c) => c.provider === provider.id);
    for (const share of effectiveShares(categories)) effective.set(share.category, share.percent);
  }

  return {
    projectId: ctx.projectId(),
    version: ctx.version(),
    nowMs,
    maintenance: config.flags.maintenance,
    flags: config.flags,
    providers: config.providers.map((p) => ({
      id: p.id,
      displayName: p.displayName ?? p.id,
      limits: p.limits,
      cooldownSeconds: p.cooldownSeconds,
      cooldown: cooldowns.find((c) => c.provider === p.id) ?? null,
    })),
    categories: config.categories.map((c) => {
      const rows = usage.minutes.filter((m) => m.provider === c.provider && m.category === c.id);
      return {
        id: c.id,
        provider: c.provider,
        sharePercent: configuredPercent(c),
        priority: c.priority,
        paused: isPaused(c),
        configuredSharePercent: c.sharePercent,
        overridePercent: c.overridePercent,
        minSharePercent: c.minSharePercent,
        effectiveSharePercent: effective.get(c.id) ?? 0,
        publishedSharePercent: published.get(`${c.provider}\u0000${c.id}`) ?? null,
        usage: { windowMinutes, ...(rows.length > 0 ? sumCounters(rows) : emptyCounters()) },
      };
    }),
    cooldowns,
    firestore,
    usageTruncated: usage.truncated,
  };
}
