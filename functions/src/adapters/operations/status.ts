import { type Firestore, Timestamp } from 'firebase-admin/firestore';
import type { z } from 'zod';
import type { Limit, Provider } from '../../core/config';
import type {
  CooldownStatus,
  FirestoreSelfQuotaStatus,
  getStatusInput,
  MeterStatus,
  QuotaMinute,
  StatusResult,
  WindowUsageStatus,
} from '../../core/operations';
import { configuredPercent, effectiveShares, isPaused } from '../../core/quota/allocation';
import { type Allocation, epochAt } from '../../core/quota/epochs';
import { deficitEndMs, MeterProjection } from '../../core/quota/meters';
import { windowAt } from '../../core/quota/windows';
import { loadRuntimeConfig } from '../config-repository';
import { fromDoc as allocationFromDoc } from '../quota/allocations';
import { QUOTA_COLLECTIONS } from '../quota/collections';
import { meterFromDoc } from '../quota/meters-store';
import { isInstrumented } from '../storage/firestore-ops';
import { selfQuotaOf } from '../storage/self-quota-runtime';
import { countWarningsSince } from '../storage/self-quota-store';
import type { OperationContext } from './context';
import { cooldownStatus } from './cooldowns';
import { emptyCounters, sumCounters, usageMinutes } from './stats';

const MINUTE_MS = 60_000;
/** The scheduler's heartbeat document (entry/observability/heartbeat.ts writes it every 5 minutes). */
export const HEARTBEAT_DOC = 'system/heartbeat';
/**
 * Usage documents one status answer reads per provider with an hour window (60 minutes of a
 * few categories); beyond it the window's use is unknown (`truncated`), never a partial sum.
 */
export const MAX_HOUR_WINDOW_DOCS = 1_000;
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
  const [config, cooldownDocs, allocationDocs, usage, firestore, heartbeat, meterDocs] =
    await Promise.all([
      loadRuntimeConfig(db),
      db.collection(QUOTA_COLLECTIONS.cooldowns).get(),
      db.collection(QUOTA_COLLECTIONS.allocations).get(),
      usageMinutes(db, fromMs),
      firestoreStatus(db, nowMs),
      db.doc(HEARTBEAT_DOC).get(),
      db.collection(QUOTA_COLLECTIONS.meters).get(),
    ]);
  // Hour windows need the usage since the hour began: read per provider that has one.
  const hourly = new Map<string, { minutes: QuotaMinute[]; truncated: boolean }>();
  const hourStartMs = windowAt('hour', nowMs).startMs;
  await Promise.all(
    config.providers
      .filter((p) => p.limits.some((l) => l.kind === 'window' && l.unit === 'hour'))
      .map(async (p) => {
        hourly.set(
          p.id,
          await usageMinutes(db, hourStartMs, { provider: p.id }, MAX_HOUR_WINDOW_DOCS),
        );
      }),
  );
  const meters = new Map<string, MeterStatus>();
  for (const doc of meterDocs.docs) {
    const meter = meterStatus(doc.id, doc.data(), nowMs);
    if (meter) meters.set(doc.id, meter);
  }

  const cooldowns: CooldownStatus[] = cooldownDocs.docs
    .map((doc) => cooldownStatus(doc.id, doc.data(), nowMs))
    .filter((c) => c.untilMs > nowMs)
    .sort((a, b) => a.untilMs - b.untilMs);
  const published = new Map<string, number>();
  const inForce = new Map<string, number>();
  const pending = new Map<string, Array<{ percent: number; effectiveAtMs: number }>>();
  const pendingLimits = new Map<string, Array<{ effectiveAtMs: number; limits: Limit[] }>>();
  for (const doc of allocationDocs.docs) {
    // The share last published for each category (it may still be waiting for its start).
    let parsed: ReturnType<typeof allocationFromDoc> | undefined;
    try {
      parsed = allocationFromDoc(doc.data());
    } catch {
      continue; // a malformed allocation shows as unpublished
    }
    for (const [category, epochs] of Object.entries(parsed.categories)) {
      const key = `${doc.id}\u0000${category}`;
      const last = epochs.at(-1);
      if (last) published.set(key, last.percent);
      const now = epochAt(epochs, nowMs);
      if (now) inForce.set(key, now.epoch.percent);
      pending.set(
        key,
        epochs
          .filter((e) => e.startMs > nowMs)
          .map((e) => ({ percent: e.percent, effectiveAtMs: e.startMs })),
      );
    }
    pendingLimits.set(doc.id, pendingLimitEpochs(parsed, nowMs));
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
      pendingLimits: pendingLimits.get(p.id) ?? [],
      windows: windowUsage(p, nowMs, usage, hourly.get(p.id)),
      meter: meters.get(p.id) ?? null,
    })),
    categories: config.categories.map((c) => {
      const rows = usage.minutes.filter((m) => m.provider === c.provider && m.category === c.id);
      return {
        id: c.id,
        provider: c.provider,
        sharePercent: configuredPercent(c),
        priority: c.priority,
        paused: isPaused(c),
        pausedFlag: c.paused,
        configuredSharePercent: c.sharePercent,
        overridePercent: c.overridePercent,
        minSharePercent: c.minSharePercent,
        effectiveSharePercent: effective.get(c.id) ?? 0,
        publishedSharePercent: published.get(`${c.provider}\u0000${c.id}`) ?? null,
        gateSharePercent: inForce.get(`${c.provider}\u0000${c.id}`) ?? null,
        pendingShares: pending.get(`${c.provider}\u0000${c.id}`) ?? [],
        usage: { windowMinutes, ...(rows.length > 0 ? sumCounters(rows) : emptyCounters()) },
      };
    }),
    cooldowns,
    firestore,
    usageTruncated: usage.truncated,
    heartbeat: {
      lastBeatMs: timestampMs(heartbeat.get('at')),
      beats: typeof heartbeat.get('beats') === 'number' ? heartbeat.get('beats') : null,
    },
  };
}

function timestampMs(value: unknown): number | null {
  if (value instanceof Timestamp) return value.toMillis();
  if (value instanceof Date) return value.getTime();
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** Limits epochs published but not in force yet, soonest first. */
function pendingLimitEpochs(allocation: Allocation, nowMs: number) {
  return allocation.limits
    .filter((e) => e.startMs > nowMs)
    .map((e) => ({ effectiveAtMs: e.startMs, limits: e.limits }));
}

/** The stored meter reading, refilled to now (see MeterStatus); null when unusable. */
function meterStatus(
  provider: string,
  data: FirebaseFirestore.DocumentData,
  nowMs: number,
): MeterStatus | null {
  const reading = meterFromDoc(data);
  if (!reading) return null;
  const projection = new MeterProjection();
  projection.observe(provider, reading);
  const projected = projection.projected(provider, Math.max(nowMs, reading.atMs));
  const snapshot = projection.snapshot(provider);
  return {
    balance: reading.balance,
    readingAtMs: reading.atMs,
    ratePerSecond: reading.ratePerSecond,
    capacity: reading.capacity,
    projectedBalance: projected ?? reading.balance,
    deficitEndsAtMs:
      projected !== undefined && projected < 0 && snapshot
        ? (deficitEndMs(snapshot) ?? null)
        : null,
  };
}

/**
 * Each window limit's use in its current window, from usage already read: a minute window from
 * the status' own usage read (its window always holds the current minute), an hour window from
 * the provider's reading since the hour began. Second, day and month windows are not summed.
 */
function windowUsage(
  provider: Provider,
  nowMs: number,
  recent: { minutes: QuotaMinute[]; truncated: boolean },
  hour: { minutes: QuotaMinute[]; truncated: boolean } | undefined,
): WindowUsageStatus[] {
  const out: WindowUsageStatus[] = [];
  provider.limits.forEach((limit, limitIndex) => {
    if (limit.kind !== 'window') return;
    const window = windowAt(limit.unit, nowMs);
    let grantedCalls: number | null = null;
    let unknownBecause: WindowUsageStatus['unknownBecause'] = null;
    const source = limit.unit === 'minute' ? recent : limit.unit === 'hour' ? hour : undefined;
    if (limit.unit === 'second') unknownBecause = 'finer-than-a-minute';
    else if (!source) unknownBecause = 'too-long';
    else if (source.truncated) unknownBecause = 'truncated';
    else {
      grantedCalls = source.minutes
        .filter((m) => m.provider === provider.id && m.minuteMs >= window.startMs)
        .reduce((sum, m) => sum + m.granted, 0);
    }
    out.push({
      limitIndex,
      unit: limit.unit,
      measure: limit.measure,
      limit: limit.limit,
      windowStartMs: window.startMs,
      windowEndMs: window.endMs,
      grantedCalls,
      used: limit.measure === 'requests' ? grantedCalls : null,
      unknownBecause,
    });
  });
  return out;
}
