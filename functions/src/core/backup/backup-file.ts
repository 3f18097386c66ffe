import { createHash } from 'node:crypto';
import { documentPathProblem } from '../storage/firestore-names';
import type { BackupDocuments, EncodedValue } from './backup-value-model';

/**
 * A backup file's envelope: its format and version, its types, the error every check of a
 * backup throws, and the canonical JSON its checksum is taken over (backup.ts has the layout).
 */

export const BACKUP_FORMAT = 'tollgate-backup';
export const BACKUP_VERSION = 1;
export const CHECKSUM_PREFIX = 'sha256:';

export interface BackupFile {
  format: typeof BACKUP_FORMAT;
  version: typeof BACKUP_VERSION;
  /** ISO 8601, UTC. */
  createdAt: string;
  projectId: string;
  documents: Record<string, Record<string, EncodedValue>>;
  /** `sha256:` and the hex digest of the canonical JSON of every other field. */
  checksum: string;
}

/** A backup that passed verification, with its documents decoded. */
export interface VerifiedBackup {
  createdAt: string;
  projectId: string;
  checksum: string;
  documents: BackupDocuments;
  /** Documents per top-level collection. */
  counts: Record<string, number>;
}

export type BackupErrorKind =
  /** The file ends early: a partial download or copy. */
  | 'truncated'
  /** Not JSON (or not UTF-8): corrupted bytes. */
  | 'corrupt'
  /** JSON, but not a Tollgate backup: a missing or wrong field, an invalid value or path. */
  | 'shape'
  /** A backup of a format version this code does not read. */
  | 'version'
  /** The content does not match its checksum: changed after it was written. */
  | 'checksum'
  /** The content matches its checksum but the text was changed (reformatted, re-escaped). */
  | 'noncanonical'
  /** A document a restore never writes (the audit log, quota claims, collected data...). */
  | 'scope'
  /** Configuration that is not valid, alone or with what is stored (names document and field). */
  | 'config'
  /** A scheduled backup without its manifest or one of its objects (a run that never finished). */
  | 'incomplete';

export class BackupError extends Error {
  constructor(
    readonly kind: BackupErrorKind,
    message: string,
    /** Each problem found, with where it is (e.g. `documents["providers/keepa"].limits[0]`). */
    readonly issues: string[] = [],
  ) {
    super(`backup refused (${kind}): ${message}`);
    this.name = 'BackupError';
  }
}

// ---- Paths ---------------------------------------------------------------------------------

/**
 * Why a path is not a document path (collection/doc[/collection/doc...]), if it is not: the
 * ids Firestore refuses (see firestore-limits.ts, which also checks names and sizes).
 */
export { documentPathProblem };

/** The top-level collection a document path is in. */
export function topLevelCollection(path: string): string {
  return path.split('/', 1)[0]!;
}

// ---- Canonical JSON and checksum -----------------------------------------------------------

/** JSON with object keys in code-unit order and no whitespace: one text per value. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) {
      throw new TypeError('canonical JSON has no non-finite numbers');
    }
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`canonical JSON has no ${typeof value}`);
    return text;
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(',')}}`;
}

export function backupChecksum(content: Omit<BackupFile, 'checksum'>): string {
  const { format, version, createdAt, projectId, documents } = content;
  const canonical = canonicalJson({ format, version, createdAt, projectId, documents });
  return CHECKSUM_PREFIX + createHash('sha256').update(canonical, 'utf8').digest('hex');
}
