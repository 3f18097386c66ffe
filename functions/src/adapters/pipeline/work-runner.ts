import { deferred, deferredTaskId, type WorkItem } from '../../core/pipeline/work-items';
import type { Decision } from '../../core/quota/decision';
import { CostExceedsLimitError, QuotaExceededError } from '../../core/quota/errors';
import { logger } from '../../log';
import type { EnqueueOptions, EnqueueResult } from '../queues/task-queue';
import type { QuotaEngine } from '../quota/quota-engine';

/** A work task's deadline: its upstream call holds a concurrency slot at most this long. */
export const WORK_TIMEOUT_SECONDS = 300;

/** What a handler may report after its upstream call: the actual cost, if it differs. */
export interface WorkResult {
  actualCost?: number;
  bytes?: number;
  /** HTTP requests actually made, when they differ from the item's estimate. */
  requests?: number;
}

export type WorkHandler = (item: WorkItem) => Promise<WorkResult | undefined>;

export type WorkOutcome =
  | { kind: 'done' }
  | { kind: 'deferred'; atMs: number; reason: string }
  /** No limit can ever grant the item (its cost exceeds the limit): dropped, not retried. */
  | { kind: 'refused'; reason: string };

export interface WorkRunnerPorts {
  acquire(item: WorkItem): Promise<Decision>;
  reportQuotaError(error: QuotaExceededError, category: string): Promise<{ untilMs: number }>;
  enqueue(queue: string, item: WorkItem, options: EnqueueOptions): Promise<EnqueueResult>;
  now(): number;
}

/** The runner's ports over a quota engine and an enqueue function. */
export function engineWorkPorts(
  engine: {
    acquire: QuotaEngine['acquire'];
    reportQuotaError: QuotaEngine['reportQuotaError'];
  },
  enqueue: WorkRunnerPorts['enqueue'],
  now: () => number = Date.now,
): WorkRunnerPorts {
  return {
    acquire: (item) =>
      engine.acquire({
        provider: item.provider,
        category: item.category,
        operation: item.operation,
        cost: item.cost,
        requests: item.requests,
        holdMs: WORK_TIMEOUT_SECONDS * 1000,
        attempt: item.deferrals,
      }),
    reportQuotaError: (error, category) => engine.reportQuotaError(error, category),
    enqueue,
    now,
  };
}

/**
 * Runs one work item through the gate. Granted: the handler makes its upstream call. Told to
 * retry later (beyond the wait bound, a cooldown, maintenance, a paused category): the item is
 * re-enqueued for that time and the task ends, holding nothing. A quota error from the
 * upstream starts the provider's cooldown; this item, and every other item of the provider
 * that reaches the gate meanwhile, is deferred until it ends. No handler sleeps on quota.
 */
export class WorkRunner {
  constructor(
    private readonly ports: WorkRunnerPorts,
    private readonly handlerFor: (kind: string) => WorkHandler | undefined,
    private readonly queueFor: (provider: string) => string,
  ) {}

  async run(item: WorkItem): Promise<WorkOutcome> {
    const handler = this.handlerFor(item.kind);
    if (!handler) throw new Error(`no handler for work of kind "${item.kind}"`);
    let decision: Decision;
    try {
      decision = await this.ports.acquire(item);
    } catch (error) {
      if (!(error instanceof CostExceedsLimitError)) throw error;
      logger.error(
        { collection: item.collection, kind: item.kind, key: item.key, err: error },
        'work item refused: no limit will ever grant it',
      );
      return { kind: 'refused', reason: error.message };
    }
    if (decision.kind === 'retryAt') return this.defer(item, decision.atMs, decision.reason);
    try {
      const result = await handler(item);
      if (result) {
        await decision.settle({
          cost: result.actualCost,
          bytes: result.bytes,
          requests: result.requests,
        });
      }
      return { kind: 'done' };
    } catch (error) {
      if (!(error instanceof QuotaExceededError)) throw error;
      const cooldown = await this.ports.reportQuotaError(error, item.category);
      return this.defer(item, cooldown.untilMs, 'cooldown');
    } finally {
      decision.release();
    }
  }

  private async defer(item: WorkItem, atMs: number, reason: string): Promise<WorkOutcome> {
    const next = deferred(item);
    const result = await this.ports.enqueue(this.queueFor(item.provider), next, {
      id: deferredTaskId(item, atMs),
      scheduleTime: new Date(Math.max(atMs, this.ports.now())),
    });
    logger.info(
      { collection: item.collection, kind: item.kind, key: item.key, reason, atMs, result },
      'work deferred',
    );
    return { kind: 'deferred', atMs, reason };
  }
}
