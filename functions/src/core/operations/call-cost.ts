/**
 * What one call draws from its caller's bucket (core/quota/callers.ts). Most calls read a
 * bounded handful of documents and cost one token. A call whose reads grow with the range it
 * asks for costs one token per day of range (a replay: per hour, for its simulation's CPU), so
 * a user asking for 30 days of statistics (thousands of documents) spends the bucket thirty
 * times as fast as one asking for an hour.
 * The limiter caps a cost at the bucket's burst, so every call stays admissible.
 */

const MINUTES_PER_DAY = 24 * 60;

const HOUR_MS = 3_600_000;

const atLeastOne = (units: number) => Math.max(1, Math.ceil(units));

/** Reads grow with these callables' ranges (their defaults: an hour and a day). */
const rangeCosts: Record<string, (input: Record<string, unknown>) => number> = {
  getQuotaStats: (input) => atLeastOne(num(input.minutes, 60) / MINUTES_PER_DAY),
  getRealtimeSalesSummary: (input) => atLeastOne(num(input.sinceHours, 24) / 24),
  // A replay reads a day of demand and simulates it for minutes: a token per hour of range.
  simulatePolicy: (input) => atLeastOne((num(input.to, 0) - num(input.from, 0)) / HOUR_MS),
};

function num(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;
}

/** Tokens one call of `callable` with its parsed `input` draws (at least 1). */
export function callCost(callable: string, input: unknown): number {
  const cost = rangeCosts[callable];
  if (!cost || typeof input !== 'object' || input === null) return 1;
  return cost(input as Record<string, unknown>);
}
