import { completion } from './collection-completion';
import { restartStalled } from './collection-lifecycle';
import { addSample, sampleOf } from './collection-samples';
import {
  type Collection,
  type CollectionConfig,
  DEFAULT_COLLECTION_CONFIG,
  type StartCollectionRequest,
} from './collection-schema';
import { advancePhase, type PhaseSchedule, shareOfPhase } from './phases';

/**
 * A collection: one provider and category collecting up to a target per marketplace. Pure state
 * transitions; the caller reads the document, applies one of these and writes the result in a
 * transaction. Times are epoch milliseconds, passed in.
 */

// The document's schema, its completion, samples and lifecycle are declared beside the
// transitions: collection-schema.ts, collection-completion.ts, collection-samples.ts and
// collection-lifecycle.ts.

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
