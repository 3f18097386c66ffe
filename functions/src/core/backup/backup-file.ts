import { createHash } from 'node:crypto';
import { documentPathProblem } from '../storage/firestore-names';
import type { BackupDocuments, EncodedValue } from './backup-value-model';

/**
 * Tollgate backups: configuration and state documents in one versioned JSON file,
 *
 *     {format: 'tollgate-backup', version: 1, createdAt, projectId,
 *      documents: {"providers/keepa": {...}, ...}, checksum: 'sha256:<hex>'}
 *
 * Pure: no Firebase. The adapter (adapters/backup/backup-values.ts) turns Admin SDK values into
 * the value model (backup-value-model.ts) and back.
 *
 * Values are plain JSON where JSON is exact (null, booleans, strings, finite numbers, arrays,
 * maps) and tagged objects with one `$` key otherwise:
 *
 * | Firestore value | encoded |
 * | --- | --- |
 * | timestamp | `{"$timestamp": "2026-01-01T00:00:00.123456789Z"}` (nanosecond precision) |
 * | bytes | `{"$bytes": "<base64>"}` |
 * | geo point | `{"$geopoint": {"latitude": 1, "longitude": 2}}` |
 * | reference | `{"$ref": "providers/keepa"}` (relative to the database) |
 * | vector | `{"$vector": [1, 2, 3]}` |
 * | integer beyond 2^53 (bigint) | `{"$int": "9007199254740993"}` |
 * | NaN, Infinity, -Infinity, -0 | `{"$double": "NaN"}` ... |
 * | a map whose only key starts with `$` | `{"$map": {...}}` |
 *
 * Numbers: the Admin SDK returns Firestore integers and doubles alike as JS numbers and writes
 * a number back as an integer when it is a safe integer, else as a double. A JSON number
 * restores exactly that, so export and import agree with the SDK; the one thing no JS number
 * can say (a double with an integral value, 5.0, which the SDK reads as 5) is lost in the SDK
 * already. Integers read as bigint (Firestore `useBigInt`) are kept exactly as `$int`.
 *
 * The checksum is SHA-256 over the canonical JSON (object keys sorted, no whitespace) of
 * everything but the checksum. The serialized file is that canonical JSON plus a newline, and
 * verifying text also requires the text to be canonical, so any change to the file is refused,
 * even one that parses to the same values (say, `\u00e9` for `é`).
 *
 * This module is the file's envelope: its format and version, its types, the error every check
 * of a backup throws, and the canonical JSON its checksum is taken over. Beside it: the value
 * model (backup-value-model.ts), the value encoding (backup-encoding.ts), writing
 * (backup-create.ts) and verifying (backup-verify.ts).
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
