import { documentPathProblem } from '../storage/firestore-names';

/**
 * The values a backup holds (the Firestore value model, without Firebase) and the text of its
 * timestamps. backup-file.ts has how each is written in the file.
 */

/** A Firestore timestamp: seconds since the epoch and nanoseconds within the second. */
export class BackupTimestamp {
  constructor(
    readonly seconds: number,
    readonly nanoseconds: number,
  ) {
    if (!Number.isInteger(seconds) || seconds < MIN_SECONDS || seconds > MAX_SECONDS) {
      throw new RangeError(`timestamp seconds out of range: ${seconds}`);
    }
    if (!Number.isInteger(nanoseconds) || nanoseconds < 0 || nanoseconds > 999_999_999) {
      throw new RangeError(`timestamp nanoseconds out of range: ${nanoseconds}`);
    }
  }

  static fromMillis(ms: number): BackupTimestamp {
    const seconds = Math.floor(ms / 1000);
    return new BackupTimestamp(
      seconds,
      Math.min(999_999_999, Math.round((ms - seconds * 1000) * 1e6)),
    );
  }

  toMillis(): number {
    return this.seconds * 1000 + Math.floor(this.nanoseconds / 1e6);
  }
}

export class BackupGeoPoint {
  readonly latitude: number;
  readonly longitude: number;
  constructor(latitude: number, longitude: number) {
    if (!(Number.isFinite(latitude) && latitude >= -90 && latitude <= 90)) {
      throw new RangeError(`latitude out of range: ${latitude}`);
    }
    if (!(Number.isFinite(longitude) && longitude >= -180 && longitude <= 180)) {
      throw new RangeError(`longitude out of range: ${longitude}`);
    }
    // -0 is 0 here: JSON has no -0, and no place on earth is told apart by it.
    this.latitude = latitude === 0 ? 0 : latitude;
    this.longitude = longitude === 0 ? 0 : longitude;
  }
}

/** A document reference, as a path relative to the database (`providers/keepa`). */
export class BackupReference {
  constructor(readonly path: string) {
    const problem = documentPathProblem(path);
    if (problem) throw new RangeError(`invalid reference "${path}": ${problem}`);
  }
}

export class BackupVector {
  readonly values: readonly number[];
  constructor(values: readonly number[]) {
    if (!values.every(Number.isFinite)) throw new RangeError('vector values must be finite');
    this.values = values.map((v) => (v === 0 ? 0 : v)); // JSON has no -0
  }
}

export type BackupValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | BackupTimestamp
  | BackupGeoPoint
  | BackupReference
  | BackupVector
  | BackupValue[]
  | BackupMap;
export interface BackupMap {
  [field: string]: BackupValue;
}

/** Document path (relative to the database) to the document's fields. */
export type BackupDocuments = Record<string, BackupMap>;

/** A value as it appears in the file. */
export type EncodedValue =
  | null
  | boolean
  | number
  | string
  | EncodedValue[]
  | { [key: string]: EncodedValue };

// ---- Timestamps ----------------------------------------------------------------------------

/** 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, Firestore's range. */
const MIN_SECONDS = -62_135_596_800;
const MAX_SECONDS = 253_402_300_799;
const ISO_TIMESTAMP = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.(\d{9})Z$/;

export function formatTimestamp(t: BackupTimestamp): string {
  const base = new Date(t.seconds * 1000).toISOString().slice(0, 19);
  return `${base}.${String(t.nanoseconds).padStart(9, '0')}Z`;
}

export function parseTimestamp(text: string): BackupTimestamp | undefined {
  const match = ISO_TIMESTAMP.exec(text);
  if (!match) return undefined;
  const ms = Date.parse(`${match[1]}.000Z`);
  if (!Number.isFinite(ms)) return undefined;
  const seconds = ms / 1000;
  if (seconds < MIN_SECONDS || seconds > MAX_SECONDS) return undefined;
  const t = new BackupTimestamp(seconds, Number(match[2]));
  // Rejects dates Date.parse rolls over (02-30 and the like).
  return formatTimestamp(t) === text ? t : undefined;
}
