import { type Category, ConfigError, type Limit, type Provider } from '../config';
import { configuredPercent, isPaused } from './allocation';
import { limitLabel, maxGrantable } from './limits';

/**
 * Configuration-time check that every category's share of its provider can carry the largest
 * call its work makes. The gate never grants a call that asks a limit for more than the
 * category's share of it can ever hold (it throws CostExceedsLimitError and the work is
 * refused, not deferred), so such a share is a configuration error, refused where the
 * configuration is accepted rather than discovered call by call.
 *
 * The share checked is the configured one (the override when one pins it, else sharePercent),
 * not the effective one: the effective share is higher while other categories are paused or
 * pinned low, but they can resume or be unpinned at any time. It is taken in 0.01% steps,
 * rounded down, as the allocation publishes shares. Paused categories ask nothing and are not
 * checked.
 */

/** One kind of call a category's work makes, with what it asks the gate for per call. */
export interface WorkCall {
  /** Names the work in messages, e.g. `Keepa ingest peek batch (50 x 1)`. */
  work: string;
  /** Operation limits of this operation are asked for 1 per call; other operations' not at all. */
  operation?: string;
  /** For token buckets and windows measuring cost. Default 1 (as the gate). */
  cost?: number;
  /** For windows counting requests. Default 1 (as the gate). */
  requests?: number;
  /** For windows measuring bytes. Default 0 (as the gate). */
  bytes?: number;
}

/** Per category id, the kinds of calls its work makes. */
export type CategoryWork = ReadonlyMap<string, readonly WorkCall[]>;

export interface ShareProblem {
  category: string;
  provider: string;
  /** The limit as the gate names it, e.g. `getReport 2/s burst 15`. */
  limit: string;
  /** The limit's position in the provider's `limits`. */
  limitIndex: number;
  /** The largest amount one call of the category's work asks of the limit. */
  cost: number;
  /** The most one call can ever be granted by the limit at `percent` (maxGrantable). */
  max: number;
  /** The share checked, in percent. */
  percent: number;
  /** The work that asks `cost`. */
  work: string;
  /** The category field that sets the share: the override when one pins it. */
  field: 'sharePercent' | 'overridePercent';
  /** Set when the share is one a collection's later phase will set (see category-work.ts). */
  phase?: { collection: string; phase: number; fromPercent: number };
}

/** What one call asks of a limit, as the gate plans it; undefined when it asks nothing of it. */
export function askedOf(limit: Limit, call: WorkCall): number | undefined {
  const cost = call.cost ?? 1;
  switch (limit.kind) {
    case 'tokenBucket':
      return cost;
    case 'operation':
      return call.operation === limit.operation ? 1 : undefined;
    case 'window':
      if (limit.measure === 'requests') return call.requests ?? 1;
      if (limit.measure === 'bytes') return call.bytes ?? 0;
      return cost;
    case 'concurrency':
      return undefined;
  }
}

/** A share as the allocation publishes it: 0.01% steps, rounded down. */
export function publishedPercent(percent: number): number {
  return Math.floor(percent * 100 + 1e-6) / 100;
}

/** The share checked for a category: its configured share (see above). */
export function checkedPercent(category: Category): number {
  return publishedPercent(configuredPercent(category));
}

/**
 * The limits of `provider` that cannot carry the largest call of `calls` at `percent`: for
 * each limit, the largest amount any call asks of it (the first such call names the work),
 * against what the limit can ever grant one call at that share.
 */
export function limitProblems(
  provider: Provider,
  category: Pick<Category, 'id' | 'overridePercent'>,
  percent: number,
  calls: readonly WorkCall[],
): ShareProblem[] {
  const problems: ShareProblem[] = [];
  provider.limits.forEach((limit, limitIndex) => {
    let largest: { cost: number; work: string } | undefined;
    for (const call of calls) {
      const asked = askedOf(limit, call);
      if (asked !== undefined && (largest === undefined || asked > largest.cost)) {
        largest = { cost: asked, work: call.work };
      }
    }
    const max = maxGrantable(limit, percent, provider.safetyMarginMs);
    if (largest === undefined || max === undefined || largest.cost <= max) return;
    problems.push({
      category: category.id,
      provider: provider.id,
      limit: limitLabel(limit),
      limitIndex,
      cost: largest.cost,
      max,
      percent,
      work: largest.work,
      field: category.overridePercent === null ? 'sharePercent' : 'overridePercent',
    });
  });
  return problems;
}

/**
 * Every limit that cannot carry the largest call of its category's work at the category's
 * configured share. Paused categories, categories without work and categories of unknown
 * providers (validateRuntimeConfig reports those) are skipped.
 */
export function shareProblems(
  config: { providers: readonly Provider[]; categories: readonly Category[] },
  work: CategoryWork,
): ShareProblem[] {
  const providers = new Map(config.providers.map((p) => [p.id, p]));
  return config.categories.flatMap((category) => {
    const provider = providers.get(category.provider);
    const calls = work.get(category.id);
    if (!provider || !calls || calls.length === 0 || isPaused(category)) return [];
    return limitProblems(provider, category, checkedPercent(category), calls);
  });
}

/** E.g. `share 10% of getReport 2/s burst 15 carries at most 0 per call; the work asks 1 (...)`. */
export function shareProblemMessage(problem: ShareProblem): string {
  const message =
    `share ${problem.percent}% of ${problem.limit} carries at most ${problem.max} per call; ` +
    `the work asks ${problem.cost} (${problem.work})`;
  if (!problem.phase) return message;
  const { collection, phase, fromPercent } = problem.phase;
  return `phase ${phase} of collection ${collection} (from ${fromPercent}% complete): ${message}`;
}

/** The ConfigError for the first category with problems: `categories/<id>`, one issue per limit. */
export function shareError(problems: readonly ShareProblem[]): ConfigError {
  const first = problems[0];
  if (!first) throw new RangeError('no share problem to report');
  return new ConfigError(
    `categories/${first.category}`,
    problems
      .filter((p) => p.category === first.category)
      .map((p) => ({ path: p.field, message: shareProblemMessage(p) })),
  );
}

/** Throws the ConfigError of the first category whose share cannot carry its work. */
export function checkShares(
  config: { providers: readonly Provider[]; categories: readonly Category[] },
  work: CategoryWork,
): void {
  const problems = shareProblems(config, work);
  if (problems.length > 0) throw shareError(problems);
}

/** Identifies a problem across two checks: this share of this limit, for this category. */
function problemKey(p: ShareProblem): string {
  return [p.category, p.provider, p.limitIndex, p.percent].join('~');
}

/**
 * The problems of `after` that `before` did not have: a category's share of a limit that
 * carried its work before the change and does not after it (a share lowered or moved to
 * another too-small value, work added or enlarged past what the share carries). A change is
 * refused for these only, so an operator can fix one category while another is still wrong,
 * and a change elsewhere is not blocked by a problem it did not cause.
 */
export function introducedProblems(
  before: readonly ShareProblem[],
  after: readonly ShareProblem[],
): ShareProblem[] {
  const known = new Set(before.map(problemKey));
  return after.filter((p) => !known.has(problemKey(p)));
}
