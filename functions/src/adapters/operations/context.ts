import type { Firestore } from 'firebase-admin/firestore';
import type { Actor } from '../../core/operations';
import type { Collection } from '../../core/pipeline/collection-schema';
import type { WorkQueueProvider } from '../../core/pipeline/work-items';
import type { QueueRate } from '../../core/queues/queue-rate';
import type { BackupStorage } from '../backup/backup-storage';
import type { StatsSink } from '../pipeline/aggregation-store-types';
import type { QueueAdmin } from '../queues/queue-admin';
import type { Enqueue } from '../queues/task-queue';
import type { CallAdmission } from '../quota/call-limiter';

/** The part of firebase-admin's Auth that role management needs (a fake in tests). */
export interface UserDirectory {
  getUser(uid: string): Promise<{
    uid: string;
    email?: string;
    customClaims?: Record<string, unknown>;
  }>;
  setCustomUserClaims(uid: string, claims: object | null): Promise<void>;
  /** Ends the user's sessions: their ID tokens stop refreshing (with it, a stale role). */
  revokeRefreshTokens(uid: string): Promise<void>;
}

/** What the operations run against: injected, so tests use their own Firestore and fakes. */
export interface OperationDeps {
  db: Firestore;
  now: () => number;
  users: UserDirectory;
  /** Enqueues validation fixes (production: Cloud Tasks). */
  enqueue: Enqueue;
  /** Where aggregation counters go (production: the instance's write buffer). */
  aggregationStats: StatsSink;
  /** Arms an aggregation flush (production: a scheduled task); force flushes do not arm. */
  scheduleFlush: (workItemId: string, atMs: number) => Promise<void>;
  projectId: () => string;
  version: () => string;
  /**
   * Cloud Tasks administration of the provider queues (production: the Cloud Tasks API), with
   * each work queue's deploy-time bounds. Absent, operations leave the queues alone.
   */
  queues?: { admin: QueueAdmin; deployed: (provider: WorkQueueProvider) => QueueRate };
  /**
   * Where exports write their files (production: the payload bucket's `backups/`); called on
   * use. Absent, exportBackup is failed-precondition.
   */
  backups?: () => BackupStorage;
  /**
   * The per-user call limit every callable asks before its operation (production: the gate's
   * built-in callers provider). Absent, calls are not limited.
   */
  callLimit?: { admit(uid: string, callable: string, cost?: number): Promise<CallAdmission> };
  /**
   * Hands out a collection's next batch now (production: its provider's batch starter, as the
   * batches schedule runs it); a restart re-issues lost work through it. Absent, a restart
   * leaves that to the next scheduled batch.
   */
  startBatch?: (collection: Collection, nowMs: number) => Promise<unknown>;
}

export interface OperationContext extends OperationDeps {
  actor: Actor;
  /**
   * When the call is stopped (on `now`): the request's start plus its function's timeout.
   * Operations that may run long end their work, and give back what they hold, before it.
   */
  deadlineMs?: number;
}
