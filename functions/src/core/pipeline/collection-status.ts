import { completion } from './collection-completion';
import {
  type Collection,
  type CollectionConfig,
  type CollectionStatus,
  DEFAULT_COLLECTION_CONFIG,
  type ProgressSample,
} from './collection-schema';
import { currentSharePercent, scheduleOf } from './collections';

/** What operators see per collection: where it stands, how fast it goes, when it will be done. */

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export interface ProgressLine {
  target: number;
  collected: number;
  remaining: number;
  /** Completion, 0..100, two decimals. */
  percent: number;
  ratePerHour: number;
  ratePerDay: number;
  /** Null while no rate is measurable, or while the collection is paused or stalled. */
  etaMs: number | null;
  etaAt: number | null;
}

export interface CollectionStatusReport {
  id: string;
  provider: string;
  category: string;
  status: CollectionStatus;
  phase: number;
  /** The share the current phase gives the category. */
  phaseSharePercent: number;
  /** The category's effective share after pauses and redistribution, when the caller knows it. */
  effectiveSharePercent: number | null;
  startedAt: number;
  lastUpdateAt: number;
  lastProgressAt: number;
  phaseStartedAt: number;
  timeInPhaseMs: number;
  /** Time since the last progress. */
  idleMs: number;
  /** Rates are measured over [from, now). */
  rateFromMs: number;
  overall: ProgressLine;
  marketplaces: Array<ProgressLine & { marketplace: string }>;
  /** Null without a deadline. */
  deadline: DeadlineReport | null;
  /**
   * The collection's phase schedule (its own, else the configured one): the completion marks at
   * which each phase begins and the share it gives.
   */
  schedule: Array<{ phase: number; fromPercent: number; sharePercent: number }>;
  /**
   * Each phase the collection entered, oldest first, from the document's phase history: when it
   * began, when the next began (null for the current one) and how long it lasted (until now for
   * the current one). Phases passed in one step (a lowered target) share their start.
   */
  phaseTimeline: PhaseTimelineEntry[];
}

export interface PhaseTimelineEntry {
  phase: number;
  sharePercent: number;
  /** The schedule's completion mark for the phase (null beyond a schedule shortened since). */
  fromPercent: number | null;
  startedAt: number;
  endedAt: number | null;
  durationMs: number;
}

export interface DeadlineReport {
  atMs: number;
  /**
   * The ETA is at or before the deadline (true), after it (false), or unknown: no measurable
   * rate yet, paused or stalled (null). A completed collection is on track.
   */
  onTrack: boolean | null;
  /** Deadline minus ETA: how far ahead (positive) or behind (negative); null when unknown. */
  slackMs: number | null;
  /** The rate that would finish on time from now (every marketplace's remaining). */
  requiredRatePerHour: number | null;
  /** Since when it is late (the warning's episode), or null. */
  lateSince: number | null;
  raiseShare: { maxSharePercent: number } | null;
}

/** Where a collection stands against its deadline (see DeadlineReport). */
export function deadlineReport(
  collection: Collection,
  overall: ProgressLine,
  now: number,
): DeadlineReport | null {
  const deadline = collection.deadline;
  if (!deadline) return null;
  const done = collection.status === 'completed' || overall.remaining === 0;
  const etaAt = done ? now : overall.etaAt;
  const leftMs = deadline.atMs - now;
  return {
    atMs: deadline.atMs,
    onTrack: etaAt === null ? null : etaAt <= deadline.atMs,
    slackMs: etaAt === null ? null : deadline.atMs - etaAt,
    requiredRatePerHour: done
      ? 0
      : leftMs > 0
        ? round2((overall.remaining / leftMs) * HOUR_MS)
        : null,
    lateSince: collection.lateSince,
    raiseShare: deadline.raiseShare,
  };
}

/**
 * The sample rates are measured from: the newest one at least a rate window old, else the
 * oldest (a young collection is measured since its start).
 */
export function rateAnchor(
  samples: readonly ProgressSample[],
  now: number,
  config: CollectionConfig,
): ProgressSample | undefined {
  const windowStart = now - config.rateWindowMinutes * 60_000;
  let anchor = samples[0];
  for (const sample of samples) if (sample.at <= windowStart) anchor = sample;
  return anchor;
}

export function statusReport(
  collection: Collection,
  now: number,
  options: { config?: CollectionConfig; effectiveSharePercent?: number } = {},
): CollectionStatusReport {
  const config = options.config ?? DEFAULT_COLLECTION_CONFIG;
  const state = completion(collection);
  const anchor = rateAnchor(collection.samples, now, config) ?? {
    at: collection.startedAt,
    collected: {},
  };
  const elapsedMs = now - anchor.at;
  const estimating = collection.status === 'running' || collection.status === 'completed';
  const phaseStartedAt = collection.phaseHistory.at(-1)!.at;

  let totalPerMs = 0;
  const marketplaces = state.marketplaces.map((m) => {
    const gained = m.collected - (anchor.collected[m.marketplace] ?? 0);
    const perMs = elapsedMs > 0 ? Math.max(0, gained) / elapsedMs : 0;
    totalPerMs += perMs;
    return { ...line(m.target, m.collected, perMs, now, estimating), marketplace: m.marketplace };
  });
  const overall = line(state.overall.target, state.overall.collected, totalPerMs, now, estimating);
  // Every marketplace must reach its target: the whole is done when the slowest one is.
  const etas = marketplaces.map((m) => m.etaMs);
  overall.etaMs = etas.some((eta) => eta === null)
    ? null
    : Math.max(0, ...etas.map((eta) => eta ?? 0));
  overall.etaAt = overall.etaMs === null ? null : now + overall.etaMs;

  return {
    id: collection.id,
    provider: collection.provider,
    category: collection.category,
    status: collection.status,
    phase: collection.phase,
    phaseSharePercent: currentSharePercent(collection),
    effectiveSharePercent: options.effectiveSharePercent ?? null,
    startedAt: collection.startedAt,
    lastUpdateAt: collection.lastUpdateAt,
    lastProgressAt: collection.lastProgressAt,
    phaseStartedAt,
    timeInPhaseMs: Math.max(0, now - phaseStartedAt),
    idleMs: Math.max(0, now - collection.lastProgressAt),
    rateFromMs: anchor.at,
    overall,
    marketplaces,
    deadline: deadlineReport(collection, overall, now),
    schedule: scheduleOf(collection, config).map((p, i) => ({ phase: i + 1, ...p })),
    phaseTimeline: phaseTimeline(collection, config, now),
  };
}

/** The phase history as a timeline (see CollectionStatusReport.phaseTimeline). */
export function phaseTimeline(
  collection: Collection,
  config: CollectionConfig,
  now: number,
): PhaseTimelineEntry[] {
  const schedule = scheduleOf(collection, config);
  const history = collection.phaseHistory;
  return history.map((entry, i) => {
    const endedAt = history[i + 1]?.at ?? null;
    return {
      phase: entry.phase,
      sharePercent: entry.sharePercent,
      fromPercent: schedule[entry.phase - 1]?.fromPercent ?? null,
      startedAt: entry.at,
      endedAt,
      durationMs: Math.max(0, (endedAt ?? now) - entry.at),
    };
  });
}

function line(
  target: number,
  collected: number,
  perMs: number,
  now: number,
  estimating: boolean,
): ProgressLine {
  const remaining = Math.max(0, target - collected);
  let etaMs: number | null = null;
  if (remaining === 0) etaMs = 0;
  else if (estimating && perMs > 0) etaMs = Math.ceil(remaining / perMs);
  return {
    target,
    collected,
    remaining,
    percent: round2((Math.min(collected, target) / target) * 100),
    ratePerHour: round2(perMs * HOUR_MS),
    ratePerDay: round2(perMs * DAY_MS),
    etaMs,
    etaAt: etaMs === null ? null : now + etaMs,
  };
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
