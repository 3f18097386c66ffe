import { type Firestore, Timestamp } from 'firebase-admin/firestore';
import type { z } from 'zod';
import { ConfigError, type RuntimeConfig } from '../../core/config';
import {
  ApiError,
  failedPrecondition,
  invalidArgument,
  notFound,
  type SimulatePolicyResult,
  type simulatePolicyInput,
} from '../../core/operations';
import { collectionSchema } from '../../core/pipeline/collection-schema';
import { statusReport } from '../../core/pipeline/collection-status';
import { type ReplayCollection, ReplayTooLargeError, replayPolicy } from '../../core/replay/replay';
import {
  DEMAND_STATS_COLLECTION,
  type DemandMinute,
  demandMinuteSchema,
} from '../../core/storage/write-buffer/demand-stats';
import { logger } from '../../log';
import { loadRuntimeConfig } from '../config-repository';
import { COLLECTIONS_PATH } from '../pipeline/collections-repository';
import { readWorkSources } from '../pipeline/work-shares';
import { workQueueRates as queueSyncRates } from '../queues/queue-rates';
import { deployedQueueRate } from '../queues/work-queue-params';
import type { OperationContext } from './context';
import { threadRunner } from './replay-threads';

/** Simulated ms done of the total, for a caller's progress bar (the CLI's). */
export type ReplayProgress = (doneMs: number, totalMs: number) => void;

/** Recorded demand documents one replay reads at most (a day of 20 kinds of call, and more). */
export const MAX_DEMAND_DOCS = 30_000;

/**
 * The per-minute demand documents overlapping [fromMs, toMs) (from the minute `fromMs` falls
 * in: a range starting inside a minute keeps that minute's calls after its start), oldest
 * first, at most `limit` (one more is read to tell there were more). Optionally of one provider
 * (composite index). A document the schema refuses (a count above a million a minute, ...) is
 * skipped; a firstAsks key naming no second is dropped from its document.
 */
export async function demandMinutes(
  db: Firestore,
  fromMs: number,
  toMs: number,
  provider?: string,
  limit = MAX_DEMAND_DOCS,
): Promise<{ minutes: DemandMinute[]; truncated: boolean }> {
  let query = db
    .collection(DEMAND_STATS_COLLECTION)
    .where('minute', '>=', Timestamp.fromMillis(Math.floor(fromMs / 60_000) * 60_000))
    .where('minute', '<', Timestamp.fromMillis(toMs));
  if (provider !== undefined) query = query.where('provider', '==', provider);
  const snapshot = await query
    .orderBy('minute', 'asc')
    .limit(limit + 1)
    .get();
  const minutes = snapshot.docs.slice(0, limit).flatMap((doc): DemandMinute[] => {
    const data = doc.data();
    const minute = data.minute;
    if (!(minute instanceof Timestamp)) return [];
    const parsed = demandMinuteSchema.safeParse({ ...data, minuteMs: minute.toMillis() });
    return parsed.success ? [parsed.data] : [];
  });
  return { minutes, truncated: snapshot.size > limit };
}

/** A replay stops this long before the call's deadline, to answer in time. */
export const REPLAY_DEADLINE_MARGIN_MS = 15_000;

/** Thrown from the progress callback to stop a replay that would outrun its call. */
class OutOfTime extends Error {}

/** Running collections replay predicts ETAs for (at most this many). */
export const MAX_REPLAY_COLLECTIONS = 100;

/**
 * The running collections (of one provider, or all): what is left and the rate measured now,
 * as getCollectionStatus reports them.
 */
async function runningCollections(
  db: Firestore,
  nowMs: number,
  provider?: string,
): Promise<ReplayCollection[]> {
  const snapshot = await db
    .collection(COLLECTIONS_PATH)
    .where('status', '==', 'running')
    .limit(MAX_REPLAY_COLLECTIONS)
    .get();
  return snapshot.docs.flatMap((doc): ReplayCollection[] => {
    const parsed = collectionSchema.safeParse(doc.data());
    if (!parsed.success) return [];
    const collection = parsed.data;
    if (provider !== undefined && collection.provider !== provider) return [];
    const { overall } = statusReport(collection, nowMs);
    return [
      {
        id: collection.id,
        category: collection.category,
        remainingItems: overall.remaining,
        itemsPerSecond: overall.ratePerHour / 3600,
        deadlineMs: collection.deadline?.atMs ?? null,
      },
    ];
  });
}

/**
 * Replays the recorded demand of a range under the configuration in force and under it with the
 * policy's documents applied, side by side (core/replay). Reads at most MAX_DEMAND_DOCS demand
 * documents and the configuration; writes nothing.
 */
export async function simulatePolicy(
  ctx: OperationContext & { onReplayProgress?: ReplayProgress },
  input: z.output<typeof simulatePolicyInput>,
): Promise<SimulatePolicyResult> {
  const { db } = ctx;
  const current = await loadRuntimeConfig(db);
  if (input.provider !== undefined && !current.providers.some((p) => p.id === input.provider)) {
    throw notFound('provider', input.provider, `providers/${input.provider}`);
  }
  const { minutes, truncated } = await demandMinutes(db, input.from, input.to, input.provider);
  if (truncated) {
    throw failedPrecondition(
      `more than ${MAX_DEMAND_DOCS} recorded demand documents in the range: narrow it or name a provider`,
      { limit: MAX_DEMAND_DOCS },
    );
  }
  const demand = minutes.filter((m) => current.providers.some((p) => p.id === m.provider));
  const collections = await runningCollections(db, ctx.now(), input.provider);
  // The work queues' rates as the queue sync would set them under each policy, for the work the
  // collections do now (and the deploy-time rates where that work says nothing). Without a
  // queue, or if the work cannot be read (an invalid config/pipeline, which the sync logs and
  // leaves too), the replay's own default.
  const sources =
    input.queue === 'none'
      ? undefined
      : await readWorkSources(db).catch((error: unknown) => {
          logger.warn({ err: error }, 'replay: the work queues keep their default rates');
          return undefined;
        });
  const deployed = ctx.queues?.deployed ?? deployedQueueRate;
  const workQueueRates = sources
    ? (config: RuntimeConfig) =>
        Object.fromEntries(
          [...queueSyncRates(config, sources, deployed)].map(([id, r]) => [
            id,
            r.maxDispatchesPerSecond,
          ]),
        )
    : undefined;
  // A busy day replays in minutes: past the call's deadline nothing would be answered, so the
  // replay stops before it and says how far it got (the CLI runs without a deadline).
  const stopAtMs =
    ctx.deadlineMs === undefined ? undefined : ctx.deadlineMs - REPLAY_DEADLINE_MARGIN_MS;
  const progress = { doneMs: 0, totalMs: 0 };
  const onProgress: ReplayProgress = (doneMs, totalMs) => {
    progress.doneMs = doneMs;
    progress.totalMs = totalMs;
    ctx.onReplayProgress?.(doneMs, totalMs);
    if (stopAtMs !== undefined && ctx.now() >= stopAtMs) throw new OutOfTime();
  };
  let report: Awaited<ReturnType<typeof replayPolicy>>;
  try {
    report = await replayPolicy({
      fromMs: input.from,
      toMs: input.to,
      demand,
      current,
      policy: input.policy,
      collections,
      nowMs: ctx.now(),
      ...(input.instances === undefined ? {} : { instances: input.instances }),
      ...(input.seed === undefined ? {} : { seed: input.seed }),
      ...(input.queue === undefined ? {} : { queue: input.queue }),
      ...(workQueueRates ? { workQueueRates } : {}),
      onProgress,
      // The two policies at once, a thread each, where the host has the cores.
      runner: threadRunner(),
    });
  } catch (error) {
    if (error instanceof OutOfTime) {
      const percent = progress.totalMs > 0 ? (100 * progress.doneMs) / progress.totalMs : 0;
      throw new ApiError(
        'deadline-exceeded',
        `the replay did ${percent.toFixed(0)}% of its two runs before the call's deadline: narrow the range, name a provider, or run \`tollgate replay\` (no deadline)`,
        { doneMs: progress.doneMs, totalMs: progress.totalMs },
      );
    }
    if (error instanceof ReplayTooLargeError) {
      throw failedPrecondition(error.message, { calls: error.calls, limit: error.limit });
    }
    if (error instanceof ConfigError) {
      // Field paths into the input: policy.categories[0].sharePercent or policy.flags.typo for
      // a document; categories/deals.sharePercent for a check across documents (share sums).
      throw invalidArgument(
        error.issues.map((issue) => ({
          path: [error.document, issue.path].filter(Boolean).join('.'),
          message: issue.message,
        })),
      );
    }
    throw error;
  }
  return {
    ...report,
    documents: minutes.length,
    changed: {
      providers: (input.policy.providers ?? []).map((d) => String(d.id)),
      categories: (input.policy.categories ?? []).map((d) => String(d.id)),
      flags: Object.keys(input.policy.flags ?? {}),
    },
  };
}
