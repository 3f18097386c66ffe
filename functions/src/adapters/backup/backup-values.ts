import {
  type DocumentData,
  DocumentReference,
  FieldValue,
  type Firestore,
  GeoPoint,
  Timestamp,
} from 'firebase-admin/firestore';
import { documentChecksum } from '../../core/backup/backup-create';
import {
  BackupGeoPoint,
  type BackupMap,
  BackupReference,
  BackupTimestamp,
  type BackupValue,
  BackupVector,
} from '../../core/backup/backup-value-model';

/**
 * Documents in the backup's value model and as the Admin SDK reads and writes them: the
 * conversion both ways, a restore's write in both forms (PreparedWrite) and the digest of a
 * stored document.
 */

// ---- Admin SDK values <-> the backup's value model ------------------------------------------

function isVector(value: object): value is { toArray(): number[] } {
  return (
    value.constructor?.name === 'VectorValue' &&
    typeof (value as { toArray?: unknown }).toArray === 'function'
  );
}

function fromFirestore(value: unknown, where: string): BackupValue {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return value;
  if (value instanceof Timestamp) return new BackupTimestamp(value.seconds, value.nanoseconds);
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (value instanceof GeoPoint) return new BackupGeoPoint(value.latitude, value.longitude);
  if (value instanceof DocumentReference) return new BackupReference(value.path);
  if (Array.isArray(value)) return value.map((v, i) => fromFirestore(v, `${where}[${i}]`));
  if (typeof value === 'object') {
    if (isVector(value)) return new BackupVector(value.toArray());
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) {
      return fromFirestoreMap(value as DocumentData, where);
    }
  }
  throw new TypeError(`${where}: a value of an unsupported type (${String(value)})`);
}

/** A document's data (as the Admin SDK reads it) in the backup's value model. */
export function fromFirestoreMap(data: DocumentData, where: string): BackupMap {
  const out: BackupMap = {};
  for (const [key, v] of Object.entries(data)) {
    Object.defineProperty(out, key, {
      value: fromFirestore(v, `${where}.${key}`),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

function toFirestore(db: Firestore, value: BackupValue): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Uint8Array) return Buffer.from(value);
  if (value instanceof BackupTimestamp) return new Timestamp(value.seconds, value.nanoseconds);
  if (value instanceof BackupGeoPoint) return new GeoPoint(value.latitude, value.longitude);
  if (value instanceof BackupReference) return db.doc(value.path);
  if (value instanceof BackupVector) return FieldValue.vector([...value.values]);
  if (Array.isArray(value)) return value.map((v) => toFirestore(db, v));
  return toFirestoreMap(db, value);
}

export function toFirestoreMap(db: Firestore, data: BackupMap): DocumentData {
  const out: DocumentData = {};
  for (const [key, v] of Object.entries(data)) {
    Object.defineProperty(out, key, {
      value: toFirestore(db, v),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** One document a restore sets: the backup's value and its Firestore form. */
export interface PreparedWrite {
  path: string;
  ref: DocumentReference;
  /** As the Admin SDK writes it. */
  data: DocumentData;
  /** As the backup holds it. */
  value: BackupMap;
  /** `sha256:` of the document's canonical encoding (compare with documentDigest). */
  digest: string;
}

/** `sha256:` of a stored document's canonical encoding, as PreparedWrite.digest. */
export function documentDigest(path: string, data: DocumentData): string {
  return documentChecksum(path, fromFirestoreMap(data, path));
}
