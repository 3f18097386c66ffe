import { z } from 'zod';
import { CostExceedsLimitError } from '../quota/errors';
import { type BucketShape, type BucketState, refill, timeUntil } from '../quota/token-bucket';
import { KEEPA_MAX_ASINS_WITH_OFFERS } from '../upstreams/keepa-product-request';

/**
 * Decoupled batching (the Keepa ingestor pattern). Discovery is peeked in large batches with a
 * light request; the survivors of the peek filter are committed in small batches of full
 * requests; items already stored get light updates in large batches. This module only plans:
 * given the queues and the upstream's projected balance it says which batch to run next, or
 * when to come back. The caller still goes through the gate with the batch's estimated cost.
 */

export const batchKinds = ['peek', 'commit', 'light'] as const;
export type BatchKind = (typeof batchKinds)[number];

function kindSchema(defaults: { size: number; costPerItem: number; minItems: number }) {
  return z
    .object({
      /** Most items one request carries. */
      size: z.number().int().positive().default(defaults.size),
      /**
       * Estimated upstream cost of one item (Keepa tokens): the least the planner assumes. The
       * ingest raises it to the upstream's documented price of the request it makes (Keepa:
       * `keepaProductTokensPerAsin` in core/upstreams/keepa-product-request.ts) and to what the last batch of the kind
       * really cost per item (see `withCostEstimates`).
       */
      costPerItem: z.number().positive().default(defaults.costPerItem),
      /**
       * Fewest items worth a request: when fewer are affordable the task waits until this many
       * are (or what the queue holds, if less). 1 lets a batch shrink to whatever the balance
       * affords; `size` waits for full batches, which saves requests when cost is per item.
       */
      minItems: z.number().int().positive().default(defaults.minItems),
    })
    .refine((k) => k.minItems <= k.size, {
      message: 'minItems must not exceed size',
      path: ['minItems'],
    })
    .prefault({});
}

export const batchingConfigSchema = z
  .object({
    peek: kindSchema({ size: 50, costPerItem: 1, minItems: 50 }),
    commit: kindSchema({ size: 5, costPerItem: 5, minItems: 1 }),
    light: kindSchema({ size: 50, costPerItem: 1, minItems: 50 }),
    /**
     * How far below zero one batch may drive the projected balance. Keepa runs a request while
     * the balance is positive and charges it in full, so a large batch started on a small
     * balance leaves a deficit that blocks every caller until it refills.
     */
    maxDeficit: z.number().nonnegative().default(25),
    /** A request only starts on at least this balance (Keepa: a positive balance). */
    minStartBalance: z.number().nonnegative().default(1),
    /**
     * Strict priority. Commits first: their peek is paid for and the survivor backlog stays
     * bounded; then light updates keep stored items fresh; discovery fills what is left. A kind
     * that cannot be afforded yet makes the planner wait rather than let cheaper kinds behind it
     * spend the tokens it waits for (which would starve it).
     */
    order: z
      .array(z.enum(batchKinds))
      .min(1)
      .refine((kinds) => new Set(kinds).size === kinds.length, 'kinds must not repeat')
      .default(['commit', 'light', 'peek']),
  })
  .superRefine((config, ctx) => {
    // Commits are Keepa product requests with offers: one batch is one request, and Keepa takes
    // at most 20 ASINs per request with offers (keepacom/api_backend structs/Request.java,
    // getProductRequest: "max 20 ASINs if the offers parameter is used").
    if (config.commit.size > KEEPA_MAX_ASINS_WITH_OFFERS) {
      ctx.addIssue({
        code: 'custom',
        path: ['commit', 'size'],
        message: `batching.commit.size must be at most ${KEEPA_MAX_ASINS_WITH_OFFERS}, not ${config.commit.size}: commit batches are Keepa product requests with offers, which take at most ${KEEPA_MAX_ASINS_WITH_OFFERS} ASINs`,
      });
    }
  });
export type BatchingConfig = z.infer<typeof batchingConfigSchema>;
export type BatchingConfigInput = z.input<typeof batchingConfigSchema>;

export const defaultBatchingConfig: BatchingConfig = batchingConfigSchema.parse({});

/** Work waiting per kind, oldest first: batches are taken from the front. */
export interface BatchQueues<T> {
  /** Discovered items not yet peeked. */
  peek: readonly T[];
  /** Peek survivors waiting for the full request. */
  commit: readonly T[];
  /** Stored items due for a light update. */
  light: readonly T[];
}

/** The upstream's balance as last reported or projected (see quota/meters.ts). */
export type BalanceReading = BucketShape & BucketState & { provider?: string };

export interface RunBatch<T> {
  kind: 'run';
  batch: BatchKind;
  items: T[];
  estimatedCost: number;
  /** Projected balance once the batch is charged; never below -maxDeficit. */
  balanceAfter: number;
}

export interface WaitForTokens {
  kind: 'wait';
  /** The batch the planner waits for (the first kind in priority order with work). */
  batch: BatchKind;
  /** When the balance will afford it: re-enqueue the task for this time and exit. */
  untilMs: number;
  /** The balance the batch needs to start. */
  neededBalance: number;
}

export interface Idle {
  kind: 'idle';
}

export type BatchPlan<T> = RunBatch<T> | WaitForTokens | Idle;

/** Estimated cost of one item per batch kind (a partial map: kinds left out keep theirs). */
export type CostPerItem = Partial<Record<BatchKind, number>>;

/**
 * The configuration with each kind's cost per item raised to the highest of the configured
 * one and the given estimates (the upstream's documented price, what the last batch of the
 * kind really cost per item). Estimates that are not positive finite numbers are ignored.
 */
export function withCostEstimates(
  config: BatchingConfig,
  ...estimates: ReadonlyArray<CostPerItem | undefined>
): BatchingConfig {
  let result = config;
  for (const kind of batchKinds) {
    const costPerItem = estimates.reduce((highest, estimate) => {
      const value = estimate?.[kind];
      return value !== undefined && Number.isFinite(value) && value > highest ? value : highest;
    }, config[kind].costPerItem);
    if (costPerItem !== config[kind].costPerItem) {
      result = { ...result, [kind]: { ...config[kind], costPerItem } };
    }
  }
  return result;
}

/**
 * `config` with batches of `kind` cut to `maxItems` (and the fewest worth a request with
 * them): what a category's share carries when the cost per item turned out higher than the
 * share was checked for (Keepa charging more than documented). At least one item.
 */
export function withBatchCap(
  config: BatchingConfig,
  kind: BatchKind,
  maxItems: number,
): BatchingConfig {
  const cap = Math.max(1, Math.floor(maxItems));
  const current = config[kind];
  if (cap >= current.size) return config;
  return {
    ...config,
    [kind]: { ...current, size: cap, minItems: Math.min(current.minItems, cap) },
  };
}

/** Float slack so a task woken at `untilMs` finds the balance it was promised. */
const EPSILON = 1e-9;

/**
 * Items of `kind` the balance can ever afford in one batch: the bucket refills to capacity at
 * most, and the batch may take it down to -maxDeficit.
 */
export function largestAffordable(
  kind: BatchKind,
  capacity: number,
  config: BatchingConfig = defaultBatchingConfig,
): number {
  const { size, costPerItem } = config[kind];
  return Math.min(size, Math.floor((capacity + config.maxDeficit) / costPerItem + EPSILON));
}

/**
 * The next batch to run at `nowMs`, or when to come back. Pure: the caller charges the batch
 * (gate, meter spend), runs it, moves peek survivors to the commit queue and plans again.
 */
export function planNextBatch<T>(
  queues: BatchQueues<T>,
  reading: BalanceReading,
  nowMs: number,
  config: BatchingConfig = defaultBatchingConfig,
): BatchPlan<T> {
  const batch = config.order.find((kind) => queues[kind].length > 0);
  if (!batch) return { kind: 'idle' };
  const queue = queues[batch];
  const { costPerItem, minItems } = config[batch];
  const shape = { capacity: reading.capacity, ratePerSecond: reading.ratePerSecond };
  const state = refill(shape, reading, nowMs);

  const ceiling = largestAffordable(batch, shape.capacity, config);
  if (ceiling < 1 || config.minStartBalance > shape.capacity) {
    throw new CostExceedsLimitError(
      reading.provider ?? 'upstream',
      `${batch} batches (capacity ${shape.capacity}, max deficit ${config.maxDeficit})`,
      costPerItem,
      shape.capacity + config.maxDeficit,
    );
  }
  const wanted = Math.min(minItems, queue.length, ceiling);
  const affordable =
    state.balance + EPSILON >= config.minStartBalance
      ? Math.floor((state.balance + config.maxDeficit) / costPerItem + EPSILON)
      : 0;
  const count = Math.min(config[batch].size, queue.length, affordable);
  if (count >= wanted && count > 0) {
    const estimatedCost = count * costPerItem;
    return {
      kind: 'run',
      batch,
      items: queue.slice(0, count),
      estimatedCost,
      balanceAfter: state.balance - estimatedCost,
    };
  }
  const neededBalance = Math.max(config.minStartBalance, wanted * costPerItem - config.maxDeficit);
  if (!(shape.ratePerSecond > 0)) throw new RangeError('the refill rate must be positive to wait');
  return {
    kind: 'wait',
    batch,
    untilMs: Math.max(nowMs, timeUntil(shape, state, neededBalance)),
    neededBalance,
  };
}
