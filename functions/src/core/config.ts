import { z } from 'zod';
import { type Limit, limitSchema, type windowUnits } from './limit-schema';
import { DEFAULT_MAX_RETRY_AFTER_SECONDS } from './quota/cooldown';
import { lineReserve, lineShape, maxGrantable } from './quota/limit-shape';
import { SHARE_SUM_TOLERANCE, shareWeight } from './quota/share-cap';
import { keepaDomainIdProblem } from './upstreams/keepa-domains';
import { upstreamUrlSchema } from './upstreams/upstream-url';

/**
 * The runtime configuration, stored in Firestore (`providers/*`, `categories/*`,
 * `config/flags`) so operators change it without a redeploy. Every read is validated here;
 * an invalid document yields a ConfigError naming the document and the field path.
 */

const positive = z.number().positive();
const nonNegative = z.number().nonnegative();
/** Cooldowns of any origin end within this (a Timestamp holds far more; nothing needs more). */
const MAX_COOLDOWN_SECONDS = 30 * 86_400;

export {
  concurrencyLimit,
  type Limit,
  limitSchema,
  operationLimit,
  tokenBucketLimit,
  windowLimit,
  windowUnits,
} from './limit-schema';

/** The shortest length of each window unit (a month is at least 28 days). */
const WINDOW_MIN_MS: Record<(typeof windowUnits)[number], number> = {
  second: 1_000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
  month: 28 * 86_400_000,
};
/** Claims one line may need per second at its full rate: a block is at least 1 ms of refill. */
const MAX_LINE_CLAIMS_PER_SECOND = 1_000;
/** Blocks one window may be cut into (claimers scan them). */
const MAX_WINDOW_BLOCKS = 10_000;

/**
 * Limits that parse but that the engine could only serve by spinning: blocks so small that a
 * busy line needs a claim per token, and margins that eat a whole window.
 */
function checkLimitShapes(
  provider: { limits: Limit[]; safetyMarginMs: number },
  ctx: z.RefinementCtx,
): void {
  provider.limits.forEach((limit, i) => {
    if (limit.kind === 'concurrency') return;
    if (limit.kind !== 'window' && !maxGrantable(limit, 100, provider.safetyMarginMs)) {
      // The margin's refill is held back from the bucket: one it swallows could never grant a
      // call, even at a 100% share.
      const { ratePerSecond } = lineShape(limit);
      const reserve = lineReserve(ratePerSecond, provider.safetyMarginMs);
      ctx.addIssue({
        code: 'custom',
        path: ['limits', i, limit.kind === 'tokenBucket' ? 'capacity' : 'burst'],
        message: `at least ${reserve + 2}: safetyMarginMs ${provider.safetyMarginMs} holds back ${reserve} of ${ratePerSecond}/s`,
      });
    }
    if (limit.blockTokens === undefined) return;
    if (limit.kind === 'window') {
      const least = Math.ceil(limit.limit / MAX_WINDOW_BLOCKS);
      if (limit.blockTokens < least) {
        ctx.addIssue({
          code: 'custom',
          path: ['limits', i, 'blockTokens'],
          message: `at least ${least}: a window is cut into at most ${MAX_WINDOW_BLOCKS} blocks`,
        });
      }
      return;
    }
    const perSecond = lineShape(limit).ratePerSecond;
    const least = Math.ceil(perSecond / MAX_LINE_CLAIMS_PER_SECOND);
    if (limit.blockTokens < least) {
      ctx.addIssue({
        code: 'custom',
        path: ['limits', i, 'blockTokens'],
        message: `at least ${least} at ${perSecond}/s: a block is at least 1 ms of refill`,
      });
    }
  });
  const shortest = Math.min(
    ...provider.limits.flatMap((l) => (l.kind === 'window' ? [WINDOW_MIN_MS[l.unit]] : [])),
  );
  if (provider.safetyMarginMs >= shortest) {
    // Half the margin is held back at each edge of a window: nothing would be left of it.
    ctx.addIssue({
      code: 'custom',
      path: ['safetyMarginMs'],
      message: `must be less than ${shortest} ms, the shortest window's length`,
    });
  }
}

/** The built-in provider of Tollgate's own callables (quota/callers.ts): no document may take it. */
export const CALLERS_PROVIDER = 'callers';

export const providerSchema = z
  .object({
    id: z
      .string()
      .regex(/^[a-z][a-z0-9_-]{0,62}$/, 'lowercase id: letters, digits, - and _')
      .refine(
        (id) => id !== CALLERS_PROVIDER,
        `"${CALLERS_PROVIDER}" is reserved for Tollgate's own callables`,
      ),
    displayName: z.string().optional(),
    limits: z.array(limitSchema).min(1),
    /** Cooldown after a quota error when the upstream sends no Retry-After. */
    cooldownSeconds: positive.max(MAX_COOLDOWN_SECONDS, 'at most 30 days').default(1800),
    /**
     * The longest cooldown an upstream's Retry-After (delta-seconds or HTTP-date) may impose:
     * longer asks are cut to this (a few hours by default), so a broken or hostile upstream
     * cannot stop the provider for years.
     */
    maxRetryAfterSeconds: positive
      .max(MAX_COOLDOWN_SECONDS, 'at most 30 days')
      .default(DEFAULT_MAX_RETRY_AFTER_SECONDS),
    /**
     * Calls reach the upstream a little later than the instant their tokens were reserved, and
     * not all equally late. The token line keeps this much refill in reserve so that jitter
     * (event loop, network) cannot bunch calls into a 429.
     */
    safetyMarginMs: nonNegative.default(100),
    /**
     * Upstream base URL; configuration so a sandbox or a test server can stand in. https only,
     * without userinfo, query or fragment (see upstream-url.ts).
     */
    baseUrl: upstreamUrlSchema.optional(),
    /** Further upstream URLs by name (SP-API's `lwa` token endpoint, a proxied `site`). */
    endpoints: z.record(z.string(), upstreamUrlSchema).default({}),
    /** Upstream settings that are not secrets (Keepa's `domainId`, SP-API `marketplaceIds`). */
    settings: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]))
      .default({}),
  })
  .superRefine(checkLimitShapes)
  .superRefine((provider, ctx) => {
    // The Keepa client is built with `settings.domainId` (see upstreams/wiring.ts).
    const domainId = provider.settings.domainId;
    const problem =
      provider.id === 'keepa' && domainId !== undefined
        ? keepaDomainIdProblem(domainId)
        : undefined;
    if (problem) ctx.addIssue({ code: 'custom', path: ['settings', 'domainId'], message: problem });
  });
export type Provider = z.infer<typeof providerSchema>;

export const categorySchema = z.object({
  id: z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'lowercase id: letters, digits, - and _'),
  provider: z.string().min(1),
  sharePercent: z.number().min(0).max(100),
  priority: z.number().int().default(0),
  /** At or below 1% a category is paused. */
  minSharePercent: z.number().min(0).max(100).default(1),
  /** Pins the share until cleared (null). */
  overridePercent: z.number().min(0).max(100).nullable().default(null),
  paused: z.boolean().default(false),
});
export type Category = z.infer<typeof categorySchema>;

export const flagsSchema = z.object({
  maintenance: z.boolean().default(false),
  /** Waits shorter than this may be awaited; longer ones re-enqueue the task. */
  maxAwaitSeconds: nonNegative.default(60),
  dailyAuditEnabled: z.boolean().default(true),
  weeklyAuditEnabled: z.boolean().default(false),
});
export type Flags = z.infer<typeof flagsSchema>;

export interface RuntimeConfig {
  providers: Provider[];
  categories: Category[];
  flags: Flags;
}

export class ConfigError extends Error {
  constructor(
    readonly document: string,
    readonly issues: Array<{ path: string; message: string }>,
  ) {
    super(
      `invalid configuration in ${document}: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`,
    );
    this.name = 'ConfigError';
  }
}

/** Formats a zod issue path as `limits[0].capacity`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path
    .map((part, i) =>
      typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`,
    )
    .join('');
}

export function parseDocument<T extends z.ZodType>(
  schema: T,
  document: string,
  data: unknown,
): z.infer<T> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  throw new ConfigError(
    document,
    result.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message })),
  );
}

/** Checks what no single document can: references between documents and share sums. */
export function validateRuntimeConfig(config: RuntimeConfig): RuntimeConfig {
  const providerIds = new Set(config.providers.map((p) => p.id));
  const shareByProvider = new Map<string, number>();
  for (const category of config.categories) {
    const document = `categories/${category.id}`;
    if (!providerIds.has(category.provider)) {
      throw new ConfigError(document, [
        { path: 'provider', message: `unknown provider "${category.provider}"` },
      ]);
    }
    const share = (shareByProvider.get(category.provider) ?? 0) + shareWeight(category);
    shareByProvider.set(category.provider, share);
    if (share > 100 + SHARE_SUM_TOLERANCE) {
      throw new ConfigError(document, [
        {
          path: 'sharePercent',
          message: `shares of provider "${category.provider}" sum to ${share}%, above 100%`,
        },
      ]);
    }
  }
  return config;
}
