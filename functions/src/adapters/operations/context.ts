import type { Firestore } from 'firebase-admin/firestore';
import type { Actor } from '../../core/api';
import type { StatsSink } from '../aggregation-store';
import type { Enqueue } from '../task-queue';

/** The part of firebase-admin's Auth that role management needs (a fake in tests). */
export interface UserDirectory {
  getUser(uid: string): Promise<{
    uid: string;
    email?: string;
    customClaims?: Record<string, unknown>;
  }>;
  setCustomUserClaims(uid: string, claims: object | null): Promise<void>;
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
}

export interface OperationContext extends OperationDeps {
  actor: Actor;
}
