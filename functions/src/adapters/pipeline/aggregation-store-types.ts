import type { Aggregate, AggregationConfig } from '../../core/pipeline/aggregation';

/** What the aggregation store (aggregation-store.ts) takes and answers. */

export type SubmitOutcome = 'added' | 'duplicate' | 'late';

export interface SubmitResult {
  outcome: SubmitOutcome;
  /** Responses counted for the item (late ones not included) after this one. */
  count: number;
  /** Set when this submission completed the quorum and flushed. */
  flush?: FlushResult;
}

export type FlushResult =
  | { outcome: 'written'; aggregate: Aggregate }
  | { outcome: 'already-written' }
  /** Not forced, below the minimum and before the timeout. */
  | { outcome: 'not-due'; dueAtMs: number }
  /** No response has arrived for the item. */
  | { outcome: 'unknown' };

/** Counters per minute; they go through the group-commit buffer. */
export type StatCounter = 'responses' | 'duplicates' | 'late' | 'written';

export interface StatsSink {
  update(path: string, fields: Record<string, unknown>): Promise<void>;
}

export interface AggregationStoreOptions {
  /** Arranges for `flushItem(workItemId)` to run at `atMs` (production: a scheduled task). */
  scheduleFlush: (workItemId: string, atMs: number) => Promise<void>;
  /** The group-commit buffer (production: the instance's). */
  stats: StatsSink;
  /** Fixed configuration; without it `config/pipeline` is read on every call (runtime changes). */
  config?: AggregationConfig;
  now?: () => number;
}
