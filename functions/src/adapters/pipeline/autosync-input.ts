// What an auto-sync cycle is given (its upstream an injected fetcher), and the contract of that
// fetcher: the window it fetches and stores, and what it is told besides.
import type { Firestore } from 'firebase-admin/firestore';
import type { AuditKind } from '../../core/pipeline/audits';
import type { Chunk } from '../../core/pipeline/backfill';
import type { QuotaEngine } from '../quota/quota-engine';

export type SyncPurpose = 'backfill' | 'requested' | AuditKind;

/** One chunk to fetch and store, and why it is fetched. */
export interface SyncWindow extends Chunk {
  purpose: SyncPurpose;
}

/** What a fetch is told besides its window. */
export interface AutoSyncFetchOptions {
  /**
   * Epoch ms by which the fetch must be over (it stops polling and cuts its HTTP timeouts,
   * and fails with a typed timeout if it cannot finish), so that the cycle still saves its
   * state and releases its lease before its function is stopped.
   */
  deadlineMs?: number;
  /**
   * The Firestore to store through: the cycle's own, which for an operator's refresh is an
   * audited one (every commit carries its audit entry). The instance's when absent.
   */
  db?: Firestore;
  /**
   * The gate's admission of one upstream request of the named operation, for the cycle's
   * provider and category: a fetcher asks it before every request (each step, each poll, each
   * marketplace), so every request is charged to its limit. It may wait within the wait bound
   * (and never past the fetch's deadline); beyond, it throws GateDeferredError, which ends the
   * cycle with the window unmarked, as a quota error would but without a cooldown.
   */
  admit?: (operation: string) => Promise<void>;
}

/** Fetches one window from the upstream and stores it; resolves only once it is durable. */
export type AutoSyncFetcher = (window: SyncWindow, options?: AutoSyncFetchOptions) => Promise<void>;

export interface AutoSyncCycleInput {
  db: Firestore;
  engine: QuotaEngine;
  /** Names the state document `autosync/{source}`. */
  source: string;
  provider: string;
  category: string;
  fetchAndStore: AutoSyncFetcher;
  now: () => number;
  /** No chunk starts after this instant, so a cycle ends before its function times out. */
  deadlineMs?: number;
  /**
   * A fetch under way must be over by this instant (AutoSyncFetchOptions.deadlineMs): the
   * function's timeout less the time the cycle needs to save its state and release its lease.
   * Without it a started fetch runs as long as its upstream flow allows.
   */
  fetchDeadlineMs?: number;
  leaseMs?: number;
  /**
   * A window fetched before the backfill, whatever the state says (an operator's refresh of a
   * named window: a restatement, a gap): it moves no watermark and records no audit. Should it
   * stop on quota or the gate, nothing else runs.
   */
  requested?: { startMs: number; endMs: number };
}
