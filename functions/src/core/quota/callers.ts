import { createHash } from 'node:crypto';
import {
  CALLERS_PROVIDER,
  type Category,
  type Flags,
  flagsSchema,
  type Provider,
  tokenBucketLimit,
} from '../config';
import { DEFAULT_MAX_RETRY_AFTER_SECONDS } from './cooldown';
import type { Allocation } from './epochs';
import type { GateContext } from './gate-ports';

/**
 * Tollgate's own callables are a provider of the gate like any upstream: each signed-in user
 * draws from a token bucket of their own (burst, refilled at a rate per minute), claimed with
 * the same create-if-absent blocks, so the bound holds across every instance that serves them.
 * The provider is built in (never a configuration document) and its id is reserved.
 */
export { CALLERS_PROVIDER };

export interface CallerRateLimit {
  /** Calls a user's bucket refills per minute. */
  perMinute: number;
  /** Calls a user may make at once after a quiet spell (the bucket's capacity). */
  burst: number;
}

export const DEFAULT_CALLER_RATE_LIMIT: CallerRateLimit = { perMinute: 120, burst: 60 };

/** Bounds of the deploy-time parameters: a bucket the gate can share, a rate it can claim. */
export const CALLER_LIMIT_BOUNDS = {
  perMinute: { min: 1, max: 60_000 },
  burst: { min: 1, max: 10_000 },
} as const;

/**
 * The user's category of the callers provider: a digest of the uid, so that any uid (up to 128
 * characters of anything) names claim documents Firestore accepts, and none names another's.
 */
export function callerCategory(uid: string): string {
  return `u${createHash('sha256').update(uid).digest('hex').slice(0, 40)}`;
}

/**
 * The shortest a token may stay valid (burst / rate). Claiming one takes a round trip or two to
 * Firestore; a token that expires about as fast can never be spent, and every call would be
 * refused however idle the user.
 */
export const MIN_TOKEN_LIFE_SECONDS = 5;

/**
 * A limit out of bounds (a mistyped parameter) falls back to the default, never to no limit;
 * a burst too small for its rate is raised until a token lives MIN_TOKEN_LIFE_SECONDS.
 */
export function boundedCallerLimit(limit: CallerRateLimit): CallerRateLimit {
  const within = (value: number, { min, max }: { min: number; max: number }) =>
    Number.isFinite(value) && value >= min && value <= max;
  if (
    !within(limit.perMinute, CALLER_LIMIT_BOUNDS.perMinute) ||
    !within(limit.burst, CALLER_LIMIT_BOUNDS.burst)
  ) {
    return DEFAULT_CALLER_RATE_LIMIT;
  }
  const leastBurst = Math.ceil((limit.perMinute / 60) * MIN_TOKEN_LIFE_SECONDS);
  return { perMinute: limit.perMinute, burst: Math.max(Math.floor(limit.burst), leastBurst) };
}

/** Maintenance and pauses stop upstream calls, never the callables that end them. */
const FLAGS: Flags = { ...flagsSchema.parse({}), maintenance: false, maxAwaitSeconds: 0 };

/**
 * What the gate needs for one user's call: the built-in provider with one token bucket, the
 * user's category holding all of it, no cooldown. The limit's shape names its line, so a
 * changed parameter starts a line of its own instead of renumbering tokens already claimed
 * under the old one: each user gets a fresh burst per limit in service (two while an old and a
 * new revision overlap during a deploy). No safety margin: instances' clocks, kept within
 * milliseconds by Google's time service, add their spread's refill to the bound.
 */
export class CallerContexts {
  private readonly provider: Provider;
  private readonly limitKey: string;
  /**
   * One allocation object per user, so the gate plans each user's line once. Bounded by its
   * owner: the call limiter replaces its contexts with its gate past MAX_USERS users.
   */
  private readonly allocations = new Map<string, Allocation>();

  constructor(limit: CallerRateLimit) {
    const { perMinute, burst } = boundedCallerLimit(limit);
    this.provider = {
      id: CALLERS_PROVIDER,
      limits: [
        // The token line keeps capacity - 1 tokens valid (token-line.ts), so a bucket one
        // larger than the burst lets exactly `burst` calls through at once, and at most
        // burst + 1 + rate x T in any interval T.
        tokenBucketLimit.parse({
          kind: 'tokenBucket',
          capacity: burst + 1,
          refillPerSecond: perMinute / 60,
        }),
      ],
      cooldownSeconds: 1,
      maxRetryAfterSeconds: DEFAULT_MAX_RETRY_AFTER_SECONDS,
      // Calls are counted where they arrive: no upstream jitter to hold tokens back for.
      safetyMarginMs: 0,
      endpoints: {},
      settings: {},
    };
    this.limitKey = `bucket-${burst}-${perMinute}`;
  }

  context(category: string): GateContext {
    let allocation = this.allocations.get(category);
    if (!allocation) {
      allocation = {
        categories: { [category]: [{ percent: 100, startMs: 0 }] },
        limits: [
          {
            startMs: 0,
            limits: this.provider.limits,
            safetyMarginMs: 0,
            keys: [this.limitKey],
          },
        ],
        windows: {},
        updatedAtMs: 0,
      };
      this.allocations.set(category, allocation);
    }
    const user: Category = {
      id: category,
      provider: CALLERS_PROVIDER,
      sharePercent: 100,
      priority: 0,
      minSharePercent: 0,
      overridePercent: null,
      paused: false,
    };
    return {
      provider: this.provider,
      category: user,
      allocation,
      flags: FLAGS,
      cooldownUntilMs: undefined,
    };
  }
}
