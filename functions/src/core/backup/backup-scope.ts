import { AUDIT_LOG_COLLECTION } from '../operations/audit-log';

/**
 * What a backup may hold and what a restore may write: configuration and the state that would
 * be costly or impossible to rebuild. Pure: the adapters' collection names are checked against
 * these lists in the tests (functions/test/backup/scope.test.ts).
 *
 * Left out: short-lived quota claims and slots (`quotaBlocks`, `quotaSlots`...), per-minute
 * statistics, write-batch markers, leases (they belong to running work and expire on their
 * own), and any document at a path the code does not write. The audit log may be exported
 * (admins only) but is never restored: an entry is written by the change it records, never by a
 * file. Collected data (`products`, `sales`, `payloads`) is backed up and restored only by the
 * scheduled backups (core/backup/scheduled-layout.ts), which read and write it a page at a time; a
 * single backup file (exportBackup, importBackup with a file) holds configuration and state.
 */

/** The configuration documents of the `config` collection (each validated by its schema). */
export const CONFIG_DOCUMENTS = ['flags', 'pipeline'] as const;

/** Top-level collections a backup restores, in code-unit order. */
export const RESTORABLE_COLLECTIONS = [
  'autosync',
  'categories',
  'collections',
  'config',
  'cooldownHistory',
  'cooldowns',
  'ingest',
  'providers',
  'quotaAllocations',
] as const;
export type RestorableCollection = (typeof RESTORABLE_COLLECTIONS)[number];

/** The one level of subcollections restored with their parents (`ingest/{collection}/items`). */
export const RESTORABLE_SUBCOLLECTIONS: Readonly<Record<string, readonly string[]>> = {
  ingest: ['items'],
};

/**
 * The data the pipeline collects (`products`: pages of products, or one product a document; `sales/{bucket}`, payload
 * metadata `payloads/{id}` with, for payloads in Cloud Storage, their objects): backed up on a
 * schedule and restored from those backups only.
 */
export const COLLECTED_DATA_COLLECTIONS = ['payloads', 'products', 'sales'] as const;
export type CollectedDataCollection = (typeof COLLECTED_DATA_COLLECTIONS)[number];

/** What a scheduled backup holds, in code-unit order: configuration, state and collected data. */
export const SCHEDULED_BACKUP_COLLECTIONS = [
  ...RESTORABLE_COLLECTIONS,
  ...COLLECTED_DATA_COLLECTIONS,
].sort() as Array<RestorableCollection | CollectedDataCollection>;

/** What an export may read: the restorable collections and, for admins only, the audit log. */
export const EXPORTABLE_COLLECTIONS = [...RESTORABLE_COLLECTIONS, AUDIT_LOG_COLLECTION] as const;
export type ExportableCollection = (typeof EXPORTABLE_COLLECTIONS)[number];

/** Collections only admins may export. */
export const ADMIN_ONLY_EXPORTS: readonly ExportableCollection[] = [AUDIT_LOG_COLLECTION];

/** An export reads at most this many documents; more is refused before any data is read. */
export const MAX_BACKUP_DOCUMENTS = 200_000;

function isOneOf<T extends string>(list: readonly T[], value: string): value is T {
  return (list as readonly string[]).includes(value);
}

/**
 * Why a document at `path` is not restored, or undefined when it is. `path` is a valid document
 * path (core/backup/backup-verify.ts checks that first). Collected data only with
 * `collectedData` (a scheduled backup's restore), and only its top-level documents (it has no
 * subcollections).
 */
export function restorablePathProblem(
  path: string,
  options: { collectedData?: boolean } = {},
): string | undefined {
  const segments = path.split('/');
  const top = segments[0]!;
  if (top === AUDIT_LOG_COLLECTION) {
    return 'the audit log is never restored (its entries are written by the changes they record)';
  }
  if (isOneOf(COLLECTED_DATA_COLLECTIONS, top)) {
    if (!options.collectedData) {
      return `"${top}" is not a backed-up collection of a backup file (collected data is restored only from a scheduled backup)`;
    }
    return segments.length === 2 ? undefined : `no subcollection of ${top} is restored`;
  }
  if (!isOneOf(RESTORABLE_COLLECTIONS, top)) {
    return `"${top}" is not a backed-up collection (restorable: ${RESTORABLE_COLLECTIONS.join(', ')})`;
  }
  if (segments.length === 2) {
    if (top === 'config' && !isOneOf(CONFIG_DOCUMENTS, segments[1]!)) {
      return `config/${segments[1]} is not a configuration document (known: ${CONFIG_DOCUMENTS.map((d) => `config/${d}`).join(', ')})`;
    }
    return undefined;
  }
  const allowed = RESTORABLE_SUBCOLLECTIONS[top] ?? [];
  if (segments.length === 4 && allowed.includes(segments[2]!)) return undefined;
  return allowed.length > 0
    ? `only ${allowed.map((s) => `${top}/{id}/${s}/{id}`).join(', ')} are restored below ${top}`
    : `no subcollection of ${top} is restored`;
}

/** Whether an export may include `path` (restorable, or an audit entry when asked for). */
export function exportablePath(path: string): boolean {
  const segments = path.split('/');
  if (segments[0] === AUDIT_LOG_COLLECTION) return segments.length === 2;
  return restorablePathProblem(path) === undefined;
}
