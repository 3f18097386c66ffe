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
 */

// The format's parts, one module each: the value model (backup-value-model.ts), the file's
// envelope, errors and checksum (backup-file.ts), the value encoding (backup-encoding.ts),
// writing (backup-create.ts) and verifying (backup-verify.ts). Importers use this module.
export { BackupBuilder, createBackup, documentChecksum, serializeBackup } from './backup-create';
export { decodeValue, encodeValue } from './backup-encoding';
export {
  BACKUP_FORMAT,
  BACKUP_VERSION,
  BackupError,
  type BackupErrorKind,
  type BackupFile,
  backupChecksum,
  canonicalJson,
  documentPathProblem,
  topLevelCollection,
  type VerifiedBackup,
} from './backup-file';
export {
  type BackupDocuments,
  BackupGeoPoint,
  type BackupMap,
  BackupReference,
  BackupTimestamp,
  type BackupValue,
  BackupVector,
  type EncodedValue,
  formatTimestamp,
  parseTimestamp,
} from './backup-value-model';
export { verifyBackup } from './backup-verify';
