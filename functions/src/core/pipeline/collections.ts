import { z } from 'zod';
import {
  advancePhase,
  DEFAULT_PHASES,
  type PhaseSchedule,
  phaseScheduleSchema,
  shareOfPhase,
} from './phases';

/**
 * A collection: one provider and category collecting up to a target per marketplace. Pure state
 * transitions; the caller reads the document, applies one of these and writes the result in a
 * transaction. Times are epoch milliseconds, passed in.
 */

const idSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,62}$/, 'lowercase id: letters, digits, - and _');
const epochMs = z.number().int().nonnegative();
const count = z.number().int().nonnegative();
const MINUTE_MS = 60_000;

export const collectionConfigSchema = z.object({
  /** Used by collections that carry no schedule of their own. */
  phases: phaseScheduleSchema.prefault(() => DEFAULT_PHASES.map((p) => ({ ...p }))),
  /** A running collection without progress for this long is stalled. */
  stalledAfterMinutes: z.number().positive().default(120),
  /** Rates and estimates look back this far (sampled, see addSample). */
  rateWindowMinutes: z.number().positive().default(360),
  /** At most one rate sample per this interval, which bounds the samples kept. */
  sampleIntervalMinutes: z.number().positive().default(15),
  /**
   * Progress reports coalesce per instance: the collection's document is written once this
   * many products were stored for a marketplace, or after `progressFlushSeconds`, not once per
   * product (progress is a count of stored products, so a late or lost report loses nothing:
   * the heartbeat counts again).
   */
  progressBatch: z.number().int().positive().max(10_000).default(3),
  progressFlushSeconds: z.number().positive().max(3_600).default(60),
});
export type CollectionConfig = z.infer<typeof collectionConfigSchema>;
export const DEFAULT_COLLECTION_CONFIG: CollectionConfig = collectionConfigSchema.parse({});

export const collectionStatuses = ['running', 'paused', 'completed', 'stalled'] as const;
export type CollectionStatus = (typeof collectionStatuses)[number];

const targetsSchema = z
  .record(idSchema, z.number().int().positive())
  .refine((targets) => Object.keys(targets).length > 0, 'at least one marketplace');

export const startCollectionRequestSchema = z.object({
  id: idSchema,
  provider: idSchema,
  category: idSchema,
  /** Products to collect per marketplace, e.g. `{ takealot: 800 }`. */
  targets: targetsSchema,
  /** A schedule for this collection only; otherwise the configured one applies. */
  phases: phaseScheduleSchema.optional(),
  /** When it should be done (null clears a deadline; absent keeps the one it has). */
  deadline: z
    .lazy(() => deadlineSchema)
    .nullable()
    .optional(),
});
export type StartCollectionRequest = z.infer<typeof startCollectionRequestSchema>;

/**
 * When a collection should be done, and whether Tollgate may raise its category's share to get
 * there (off unless asked): within `maxSharePercent`, taken from categories of the same provider
 * whose own collections are ahead of their deadlines.
 */
export const deadlineSchema = z.object({
  atMs: epochMs,
  raiseShare: z
    .object({ maxSharePercent: z.number().min(1).max(100) })
    .nullable()
    .default(null),
});
export type Deadline = z.infer<typeof deadlineSchema>;

export const phaseEntrySchema = z.object({
  phase: z.number().int().positive(),
  sharePercent: z.number().min(0).max(100),
  at: epochMs,
});
export type PhaseEntry = z.infer<typeof phaseEntrySchema>;

/** Collected counts per marketplace at one time; a marketplace missing had collected nothing. */
export const progressSampleSchema = z.object({
  at: epochMs,
  collected: z.record(z.string(), count),
});
export type ProgressSample = z.infer<typeof progressSampleSchema>;

export const collectionSchema = z.object({
  id: idSchema,
  provider: idSchema,
  category: idSchema,
  marketplaces: z
    .record(
      idSchema,
      z.object({ target: z.number().int().positive(), collected: count.default(0) }),
    )
    .refine((m) => Object.keys(m).length > 0, 'at least one marketplace'),
  phase: z.number().int().positive(),
  status: z.enum(collectionStatuses),
  startedAt: epochMs,
  /** Last change of any kind (progress report, target, status). */
  lastUpdateAt: epochMs,
  /** Last time a count went up; stalled detection measures from here. */
  lastProgressAt: epochMs,
  phaseHistory: z.array(phaseEntrySchema).min(1),
  /** A small ring of samples for recent rates (see addSample). */
  samples: z.array(progressSampleSchema).default([]),
  phases: phaseScheduleSchema.nullable().default(null),
  stalledAt: epochMs.nullable().default(null),
  restarts: count.default(0),
  deadline: deadlineSchema.nullable().default(null),
  /** Since when its ETA is past its deadline (a warning is stored once per such episode). */
  lateSince: epochMs.nullable().default(null),
  /** When Tollgate last raised its category's share to meet the deadline. */
  deadlineRaisedAt: epochMs.nullable().default(null),
});
export type Collection = z.infer<typeof collectionSchema>;

/** What the caller must apply to the category when a collection changes phase. */
export interface PhaseTransition {
  collection: string;
  provider: string;
  category: string;
  /** 0 when the collection was just created. */
  from: number;
  to: number;
  /** Null when the collection was just created (the category's share is not known here). */
  previousSharePercent: number | null;
  sharePercent: number;
  at: number;
}

export interface CollectionOutcome {
  collection: Collection;
  transition: PhaseTransition | null;
  /** The collection reached every target with this change. */
  completedNow: boolean;
}

export interface StartOutcome extends CollectionOutcome {
  created: boolean;
  /** False when the request repeated what the collection already had (nothing to write). */
  changed: boolean;
  /** A stalled collection runs again (its lost work is to be re-issued). */
  restarted?: boolean;
}

/** Progress as an absolute count (idempotent: a redelivered report changes nothing) or a delta. */
export type Progress = { marketplace: string } & ({ collected: number } | { added: number });

export class CollectionConflictError extends Error {
  constructor(
    readonly collection: string,
    readonly reason: string,
  ) {
    super(`collection ${collection}: ${reason}`);
    this.name = 'CollectionConflictError';
  }
}

export function scheduleOf(collection: Collection, config: CollectionConfig): PhaseSchedule {
  return collection.phases ?? config.phases;
}

export function currentSharePercent(collection: Collection): number {
  return collection.phaseHistory.at(-1)!.sharePercent;
}

export interface MarketplaceCompletion {
  marketplace: string;
  target: number;
  collected: number;
  /** 0..100; collecting beyond the target does not count. */
  percent: number;
}

export interface Completion {
  /** Collected is capped per marketplace, so one marketplace cannot make up for another. */
  overall: { target: number; collected: number; percent: number };
  marketplaces: MarketplaceCompletion[];
  done: boolean;
}

export function completion(collection: Collection): Completion {
  const marketplaces = Object.entries(collection.marketplaces)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([marketplace, { target, collected }]) => ({
      marketplace,
      target,
      collected,
      percent: (Math.min(collected, target) / target) * 100,
    }));
  const target = marketplaces.reduce((sum, m) => sum + m.target, 0);
  const collected = marketplaces.reduce((sum, m) => sum + Math.min(m.collected, m.target), 0);
  return {
    overall: { target, collected, percent: (collected / target) * 100 },
    marketplaces,
    done: marketplaces.every((m) => m.collected >= m.target),
  };
}

/**
 * Starts a collection, or updates the targets of the one that exists (merged per marketplace;
 * counts, phase and history stay). A completed collection whose target was raised runs again;
 * a stalled one is restarted (the runbook's "start it again with the same target"), its counts
 * kept. Nothing duplicates; a lowered target can move the phase forward.
 */
export function startCollection(
  existing: Collection | undefined,
  request: StartCollectionRequest,
  now: number,
  config: CollectionConfig = DEFAULT_COLLECTION_CONFIG,
): StartOutcome {
  if (!existing) return create(request, now, config);
  if (existing.id !== request.id) {
    throw new CollectionConflictError(request.id, `document holds collection ${existing.id}`);
  }
  for (const field of ['provider', 'category'] as const) {
    if (existing[field] !== request[field]) {
      throw new CollectionConflictError(
        request.id,
        `already runs for ${field} ${existing[field]}, not ${request[field]}`,
      );
    }
  }
  const restart = restartStalled(existing, now);
  if (restart.restarted) existing = restart.collection;
  const marketplaces = { ...existing.marketplaces };
  let changed = restart.restarted;
  for (const [marketplace, target] of Object.entries(request.targets)) {
    const current = marketplaces[marketplace];
    if (current?.target === target) continue;
    marketplaces[marketplace] = { target, collected: current?.collected ?? 0 };
    changed = true;
  }
  const phases = request.phases ?? existing.phases;
  if (JSON.stringify(phases) !== JSON.stringify(existing.phases)) changed = true;
  const deadline = request.deadline === undefined ? existing.deadline : request.deadline;
  if (JSON.stringify(deadline) !== JSON.stringify(existing.deadline)) changed = true;
  const restarted = restart.restarted;
  if (!changed) {
    return { collection: existing, transition: null, completedNow: false, created: false, changed };
  }

  let next: Collection = {
    ...existing,
    marketplaces,
    phases,
    deadline,
    // A new deadline is judged afresh by the next check.
    lateSince: deadline?.atMs === existing.deadline?.atMs ? existing.lateSince : null,
    lastUpdateAt: now,
  };
  if (next.status === 'completed' && !completion(next).done) {
    // New work: the idle time while completed must not count as a stall or drag the rate down.
    next = { ...next, status: 'running', lastProgressAt: now, samples: [sampleOf(next, now)] };
  }
  return { ...settle(next, scheduleOf(next, config), now), created: false, changed, restarted };
}

function create(
  request: StartCollectionRequest,
  now: number,
  config: CollectionConfig,
): StartOutcome {
  const phases = request.phases ?? null;
  const schedule = phases ?? config.phases;
  const sharePercent = shareOfPhase(schedule, 1);
  const collection: Collection = {
    id: request.id,
    provider: request.provider,
    category: request.category,
    marketplaces: Object.fromEntries(
      Object.entries(request.targets).map(([m, target]) => [m, { target, collected: 0 }]),
    ),
    phase: 1,
    status: 'running',
    startedAt: now,
    lastUpdateAt: now,
    lastProgressAt: now,
    phaseHistory: [{ phase: 1, sharePercent, at: now }],
    samples: [],
    phases,
    stalledAt: null,
    restarts: 0,
    deadline: request.deadline ?? null,
    lateSince: null,
    deadlineRaisedAt: null,
  };
  collection.samples = [sampleOf(collection, now)];
  return {
    collection,
    transition: {
      collection: request.id,
      provider: request.provider,
      category: request.category,
      from: 0,
      to: 1,
      previousSharePercent: null,
      sharePercent,
      at: now,
    },
    completedNow: false,
    created: true,
    changed: true,
  };
}

/**
 * Records progress for one marketplace. An absolute count never lowers what is recorded (a
 * count read before another worker's write is stale, not a loss). Progress on a stalled
 * collection shows it runs again; a paused or completed one keeps its status.
 */
export function recordProgress(
  collection: Collection,
  progress: Progress,
  now: number,
  config: CollectionConfig = DEFAULT_COLLECTION_CONFIG,
): CollectionOutcome {
  const entry = collection.marketplaces[progress.marketplace];
  if (!entry) {
    throw new CollectionConflictError(
      collection.id,
      `no target for marketplace ${progress.marketplace}`,
    );
  }
  const amount = 'added' in progress ? progress.added : progress.collected;
  if (!Number.isInteger(amount) || amount < 0) {
    throw new RangeError(`progress must be a non-negative integer, got ${amount}`);
  }
  const collected =
    'added' in progress ? entry.collected + amount : Math.max(entry.collected, amount);
  let next: Collection = { ...collection, lastUpdateAt: now };
  if (collected > entry.collected) {
    next = {
      ...next,
      marketplaces: { ...collection.marketplaces, [progress.marketplace]: { ...entry, collected } },
      lastProgressAt: now,
    };
    next.samples = addSample(next.samples, sampleOf(next, now), config);
    if (next.status === 'stalled') next = { ...next, status: 'running', stalledAt: null };
  }
  return settle(next, scheduleOf(next, config), now);
}

/** Applies the phase the completion reaches and the completed status. */
function settle(collection: Collection, schedule: PhaseSchedule, now: number): CollectionOutcome {
  const state = completion(collection);
  const { phase, entered } = advancePhase(
    schedule,
    collection.phase,
    state.overall.collected,
    state.overall.target,
  );
  let next = collection;
  let transition: PhaseTransition | null = null;
  if (entered.length > 0) {
    const sharePercent = shareOfPhase(schedule, phase);
    transition = {
      collection: collection.id,
      provider: collection.provider,
      category: collection.category,
      from: collection.phase,
      to: phase,
      previousSharePercent: currentSharePercent(collection),
      sharePercent,
      at: now,
    };
    next = {
      ...next,
      phase,
      phaseHistory: [
        ...next.phaseHistory,
        ...entered.map((p) => ({ phase: p, sharePercent: shareOfPhase(schedule, p), at: now })),
      ],
    };
  }
  const completedNow = state.done && next.status !== 'completed';
  if (completedNow) next = { ...next, status: 'completed', stalledAt: null };
  return { collection: next, transition, completedNow };
}

export function sampleOf(collection: Collection, at: number): ProgressSample {
  return {
    at,
    collected: Object.fromEntries(
      Object.entries(collection.marketplaces).map(([m, { collected }]) => [m, collected]),
    ),
  };
}

/**
 * The sample ring: a new sample only when the last one is at least an interval old, and only the
 * newest sample at or before the rate window's start is kept of the older ones. So the document
 * holds at most window / interval + 2 samples however fast progress is reported.
 */
export function addSample(
  samples: readonly ProgressSample[],
  sample: ProgressSample,
  config: CollectionConfig,
): ProgressSample[] {
  const last = samples.at(-1);
  if (last && sample.at - last.at < config.sampleIntervalMinutes * MINUTE_MS) return [...samples];
  const next = [...samples, sample];
  const windowStart = sample.at - config.rateWindowMinutes * MINUTE_MS;
  let anchor = 0;
  for (let i = 0; i < next.length; i++) if (next[i]!.at <= windowStart) anchor = i;
  return next.slice(anchor);
}

export function isStalled(collection: Collection, now: number, config: CollectionConfig): boolean {
  return (
    collection.status === 'running' &&
    now - collection.lastProgressAt >= config.stalledAfterMinutes * MINUTE_MS
  );
}

/** Marks a running collection stalled once it made no progress for the configured time. */
export function markStalled(
  collection: Collection,
  now: number,
  config: CollectionConfig = DEFAULT_COLLECTION_CONFIG,
): { collection: Collection; stalledNow: boolean } {
  if (!isStalled(collection, now, config)) return { collection, stalledNow: false };
  return {
    collection: { ...collection, status: 'stalled', stalledAt: now, lastUpdateAt: now },
    stalledNow: true,
  };
}

/**
 * Runs a stalled collection again, keeping counts, phase and history. The rate window starts
 * over, so the stall does not depress the estimate once work flows again.
 */
export function restartStalled(
  collection: Collection,
  now: number,
): { collection: Collection; restarted: boolean } {
  if (collection.status !== 'stalled') return { collection, restarted: false };
  return {
    collection: {
      ...collection,
      status: 'running',
      stalledAt: null,
      lastProgressAt: now,
      lastUpdateAt: now,
      samples: [sampleOf(collection, now)],
      restarts: collection.restarts + 1,
    },
    restarted: true,
  };
}

/** Pausing keeps everything; a completed collection stays completed. */
export function pauseCollection(collection: Collection, now: number): Collection {
  if (collection.status !== 'running' && collection.status !== 'stalled') return collection;
  return { ...collection, status: 'paused', stalledAt: null, lastUpdateAt: now };
}

/** Resumes a paused collection; the pause counts neither as a stall nor in the rate. */
export function resumeCollection(collection: Collection, now: number): Collection {
  if (collection.status !== 'paused') return collection;
  return {
    ...collection,
    status: 'running',
    lastProgressAt: now,
    lastUpdateAt: now,
    samples: [sampleOf(collection, now)],
  };
}
