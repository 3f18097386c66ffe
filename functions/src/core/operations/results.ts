import type { Category, Flags, Provider } from '../config';
import type { Collection } from '../pipeline/collection-schema';
import type { PhaseTransition } from '../pipeline/collections';
import type { PipelineConfig } from '../pipeline/config';
import type { ShareChange } from '../pipeline/share-transition';
import type { Role } from './roles';
import type { CooldownStatus } from './status-results';

/**
 * What each callable answers. Times are epoch milliseconds; everything is plain JSON. Here: the
 * audit log and the changes; status-results.ts holds the status answers, data-results.ts those
 * over collected data.
 */

/** Every change answers with the audit entry it wrote (null when nothing changed). */
export interface Audited {
  auditId: string | null;
}

/** One audit log entry as stored (Timestamps as epoch ms). */
export interface AuditLogEntry {
  id: string;
  who: { uid: string; email: string | null; role: Role | string };
  /** The callable, or the scheduled change. */
  what: string;
  target: string;
  /**
   * The values before and after; one whose JSON exceeds 4,000 characters is served as
   * `{ truncated: true, bytes, preview }` (its JSON's length and first 1,000 characters).
   */
  before: unknown;
  after: unknown;
  atMs: number;
  /** How many related changes the entry stored (they are not served: an import has thousands). */
  relatedCount: number;
  reason?: string;
}

export interface ListAuditLogResult {
  /** Newest first. */
  entries: AuditLogEntry[];
  /** Pass as `startAfter` for the next page; null when this page is the last. */
  nextCursor: string | null;
}

export interface StartCollectionResult extends Audited {
  collection: Collection;
  created: boolean;
  /** A stalled collection was restarted (its lost work re-issued, as restartCollection does). */
  restarted: boolean;
  /** False when the request repeated what the collection had (nothing written). */
  changed: boolean;
  transition: PhaseTransition | null;
  shareChanges: ShareChange[];
  allocationPublished: boolean;
}

export interface RestartCollectionResult extends Audited {
  collection: Collection;
  /** What the provider's batch starter handed out again (its summary), null without one. */
  reissued: unknown;
}

export interface CategoryChangeResult extends Audited {
  category: Category;
  changed: boolean;
  shareChanges: ShareChange[];
  allocationPublished: boolean;
}

export type SetCategoryAllocationResult = CategoryChangeResult;

export interface PauseCategoryResult extends CategoryChangeResult {
  /** Collections of the category paused or resumed with it. */
  collections: string[];
}

export interface StartCooldownResult extends Audited {
  provider: string;
  /** The cooldown in force after the call (a longer one running is kept). */
  cooldown: CooldownStatus;
  /** False when a cooldown already ran at least that long. */
  changed: boolean;
}

export interface SetProviderLimitsResult extends Audited {
  provider: Provider;
  created: boolean;
  changed: boolean;
  /** The new limits reach the gate from this instant (the allocation's lead). */
  effectiveFromMs: number | null;
  allocationPublished: boolean;
}

export interface ClearCooldownResult extends Audited {
  provider: string;
  cleared: boolean;
  /** The cooldown that was cleared. */
  cooldown: CooldownStatus | null;
}

/** A provider queue's state as an operation left it (error: it could not be changed). */
export interface QueueStateChange {
  queue: string;
  state: 'RUNNING' | 'PAUSED' | 'DISABLED' | 'UNKNOWN';
  error?: string;
}

export interface SetMaintenanceModeResult extends Audited {
  maintenance: boolean;
  changed: boolean;
  /** The provider queues, paused while maintenance is on (empty where none are administered). */
  queues: QueueStateChange[];
}

export interface PurgeProviderQueuesResult extends Audited {
  provider: string;
  /** Per queue, the tasks Cloud Tasks counted just before it dropped them. */
  queues: Array<{ queue: string; dropped: number; error?: string }>;
  dropped: number;
}

export interface SetFlagsResult extends Audited {
  flags: Flags;
  pipeline: PipelineConfig;
  changed: boolean;
}

export interface SetUserRoleResult extends Audited {
  uid: string;
  role: Role | null;
  previousRole: Role | null;
  changed: boolean;
  /** Custom claims reach the user's ID token at its next refresh (within the hour). */
  claims: Record<string, unknown>;
}

export interface ImportBackupResult extends Audited {
  dryRun: boolean;
  /** Where and when the backup was taken. */
  projectId: string;
  createdAt: string;
  checksum: string;
  /** Documents in the backup, and per top-level collection. */
  documents: number;
  byCollection: Record<string, number>;
  /** Documents written (0 on a dry run). */
  written: number;
  /** One audit entry per batch written (`auditId` is the first). */
  auditIds: string[];
}
