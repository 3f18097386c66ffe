import { createHash } from 'node:crypto';
import { z } from 'zod';
import {
  documentLimitIssues,
  documentPathProblem,
  fieldNameProblem,
  formatFieldPath,
} from '../storage/firestore-limits';

/**
 * Tollgate backups: configuration and state documents in one versioned JSON file,
 *
 *     {format: 'tollgate-backup', version: 1, createdAt, projectId,
 *      documents: {"providers/keepa": {...}, ...}, checksum: 'sha256:<hex>'}
 *
 * Pure: no Firebase. The adapter (adapters/backup/backup-values.ts) turns Admin SDK values into
 * the value model below and back.
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

export const BACKUP_FORMAT = 'tollgate-backup';
export const BACKUP_VERSION = 1;
const CHECKSUM_PREFIX = 'sha256:';

// ---- Value model ---------------------------------------------------------------------------

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

// ---- Encoding ------------------------------------------------------------------------------

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const INT64 = /^-?(?:0|[1-9]\d{0,18})$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const SPECIAL_DOUBLES = ['NaN', 'Infinity', '-Infinity', '-0'] as const;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Sets a property even when it is named `__proto__`. */
function define<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

function specialDouble(n: number): (typeof SPECIAL_DOUBLES)[number] | undefined {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Number.POSITIVE_INFINITY) return 'Infinity';
  if (n === Number.NEGATIVE_INFINITY) return '-Infinity';
  if (Object.is(n, -0)) return '-0';
  return undefined;
}

function fieldWhere(where: string, key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key)
    ? `${where}.${key}`
    : `${where}[${JSON.stringify(key)}]`;
}

/** Encodes one value of the model; throws a TypeError naming where an unsupported value is. */
export function encodeValue(value: BackupValue, where = 'value', inArray = false): EncodedValue {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') {
    const special = specialDouble(value);
    return special ? { $double: special } : value;
  }
  if (typeof value === 'bigint') {
    if (value < INT64_MIN || value > INT64_MAX) {
      throw new TypeError(`${where}: integer outside the 64-bit range`);
    }
    return { $int: value.toString() };
  }
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('base64') };
  if (value instanceof BackupTimestamp) return { $timestamp: formatTimestamp(value) };
  if (value instanceof BackupGeoPoint) {
    return { $geopoint: { latitude: value.latitude, longitude: value.longitude } };
  }
  if (value instanceof BackupReference) return { $ref: value.path };
  if (value instanceof BackupVector) return { $vector: [...value.values] };
  if (Array.isArray(value)) {
    if (inArray) throw new TypeError(`${where}: Firestore has no arrays directly in arrays`);
    return value.map((v, i) => encodeValue(v, `${where}[${i}]`, true));
  }
  if (isPlainObject(value)) {
    const out: Record<string, EncodedValue> = {};
    const keys = Object.keys(value);
    for (const key of keys) {
      const problem = fieldNameProblem(key);
      if (problem) throw new TypeError(`${where}: ${problem}`);
      define(out, key, encodeValue(value[key] as BackupValue, fieldWhere(where, key)));
    }
    return keys.length === 1 && keys[0]!.startsWith('$') ? { $map: out } : out;
  }
  throw new TypeError(`${where}: unsupported value ${Object.prototype.toString.call(value)}`);
}

/** Decodes a value of the file; problems are pushed to `issues` (the result is then partial). */
export function decodeValue(
  encoded: unknown,
  where: string,
  issues: string[],
  inArray = false,
): BackupValue {
  const bad = (message: string): null => {
    issues.push(`${where}: ${message}`);
    return null;
  };
  if (encoded === null || typeof encoded === 'boolean' || typeof encoded === 'string') {
    return encoded;
  }
  if (typeof encoded === 'number') {
    if (!Number.isFinite(encoded)) return bad('non-finite numbers are written as {"$double": ...}');
    return encoded === 0 ? 0 : encoded; // -0 reads as 0: canonical JSON writes both as 0
  }
  if (Array.isArray(encoded)) {
    if (inArray) return bad('Firestore has no arrays directly in arrays');
    return encoded.map((v, i) => decodeValue(v, `${where}[${i}]`, issues, true));
  }
  if (!isPlainObject(encoded)) return bad(`not a JSON value (${typeof encoded})`);
  const keys = Object.keys(encoded);
  const tag = keys.length === 1 && keys[0]!.startsWith('$') ? keys[0]! : undefined;
  if (tag === undefined) return decodeMap(encoded, where, issues);
  const body = encoded[tag];
  switch (tag) {
    case '$map':
      if (!isPlainObject(body)) return bad('$map holds an object');
      return decodeMap(body, where, issues);
    case '$timestamp': {
      const t = typeof body === 'string' ? parseTimestamp(body) : undefined;
      return t ?? bad('$timestamp is "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" within 0001..9999');
    }
    case '$bytes':
      if (typeof body !== 'string' || !BASE64.test(body)) return bad('$bytes is base64 text');
      return new Uint8Array(Buffer.from(body, 'base64'));
    case '$geopoint': {
      if (!isPlainObject(body) || Object.keys(body).length !== 2) {
        return bad('$geopoint is {"latitude", "longitude"}');
      }
      try {
        return new BackupGeoPoint(body.latitude as number, body.longitude as number);
      } catch (error) {
        return bad((error as Error).message);
      }
    }
    case '$ref': {
      const problem = typeof body === 'string' ? documentPathProblem(body) : 'not a string';
      return problem ? bad(`$ref: ${problem}`) : new BackupReference(body as string);
    }
    case '$vector':
      if (!Array.isArray(body) || !body.every((n) => typeof n === 'number' && Number.isFinite(n))) {
        return bad('$vector is an array of finite numbers');
      }
      return new BackupVector(body as number[]);
    case '$int': {
      if (typeof body !== 'string' || !INT64.test(body)) return bad('$int is a decimal string');
      const n = BigInt(body);
      return n < INT64_MIN || n > INT64_MAX ? bad('$int outside the 64-bit range') : n;
    }
    case '$double': {
      const index = SPECIAL_DOUBLES.indexOf(body as (typeof SPECIAL_DOUBLES)[number]);
      if (index < 0) return bad(`$double is one of ${SPECIAL_DOUBLES.join(', ')}`);
      return [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0][index]!;
    }
    default:
      return bad(`unknown tag ${JSON.stringify(tag)} (a map with one $ key is written as $map)`);
  }
}

function decodeMap(encoded: Record<string, unknown>, where: string, issues: string[]): BackupMap {
  const out: BackupMap = {};
  for (const key of Object.keys(encoded)) {
    const inner = fieldWhere(where, key);
    const problem = fieldNameProblem(key);
    if (problem) issues.push(`${inner}: ${problem}`);
    define(out, key, decodeValue(encoded[key], inner, issues));
  }
  return out;
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

// ---- Creating ------------------------------------------------------------------------------

/** One document's fields, encoded; throws a TypeError naming the path and field. */
function encodeDocument(path: string, data: BackupMap): Record<string, EncodedValue> {
  const problem = documentPathProblem(path);
  if (problem) throw new TypeError(`document "${path}": ${problem}`);
  const where = `documents[${JSON.stringify(path)}]`;
  const encoded: Record<string, EncodedValue> = {};
  for (const key of Object.keys(data)) {
    const fieldProblem = fieldNameProblem(key);
    if (fieldProblem) throw new TypeError(`${where}: ${fieldProblem}`);
    define(encoded, key, encodeValue(data[key]!, fieldWhere(where, key)));
  }
  return encoded;
}

export function createBackup(input: {
  createdAt: Date | number;
  projectId: string;
  documents: BackupDocuments;
}): BackupFile {
  const documents: Record<string, Record<string, EncodedValue>> = {};
  for (const path of Object.keys(input.documents).sort()) {
    define(documents, path, encodeDocument(path, input.documents[path]!));
  }
  const content = {
    format: BACKUP_FORMAT,
    version: BACKUP_VERSION,
    createdAt: new Date(input.createdAt).toISOString(),
    projectId: input.projectId,
    documents,
  } as const;
  return { ...content, checksum: backupChecksum(content) };
}

/**
 * A backup file written piece by piece, for exports that do not hold every document in memory:
 * exactly the text `serializeBackup(createBackup(...))` gives for the same documents. Documents
 * come one at a time in code-unit order of their paths (the canonical order); each call answers
 * the text to append. The checksum precedes the documents in the file, so the documents' text
 * is kept aside (a temporary object or file) and the file is `head`, that text, then `tail`:
 *
 *     const builder = new BackupBuilder({ createdAt, projectId });
 *     for (const [path, data] of sorted) spool.write(builder.document(path, data));
 *     const { head, tail, checksum } = builder.finish();
 *     file = head + spooled + tail;
 */
export class BackupBuilder {
  readonly createdAt: string;
  readonly projectId: string;
  private readonly hash = createHash('sha256');
  private last: string | undefined;
  private count = 0;
  private done = false;

  constructor(input: { createdAt: Date | number; projectId: string }) {
    this.createdAt = new Date(input.createdAt).toISOString();
    this.projectId = input.projectId;
    this.hash.update(this.contentHead(), 'utf8');
  }

  /** Documents added so far. */
  get documents(): number {
    return this.count;
  }

  /** The canonical JSON of everything but the checksum, up to the first document. */
  private contentHead(): string {
    return `{"createdAt":${JSON.stringify(this.createdAt)},"documents":{`;
  }

  /**
   * The text of one more document (with the comma before it). Paths must increase in
   * code-unit order (`Array.prototype.sort`'s); a repeated or earlier path is a RangeError.
   */
  document(path: string, data: BackupMap): string {
    if (this.done) throw new Error('the backup is finished');
    if (this.last !== undefined && !(this.last < path)) {
      throw new RangeError(`document "${path}" comes after "${this.last}": paths must be sorted`);
    }
    const text = `${this.count === 0 ? '' : ','}${JSON.stringify(path)}:${canonicalJson(encodeDocument(path, data))}`;
    this.hash.update(text, 'utf8');
    this.last = path;
    this.count++;
    return text;
  }

  /** The checksum, and the file's text before and after the documents' text (with its newline). */
  finish(): { checksum: string; head: string; tail: string } {
    if (this.done) throw new Error('the backup is finished');
    this.done = true;
    const tail = `},"format":${JSON.stringify(BACKUP_FORMAT)},"projectId":${JSON.stringify(this.projectId)},"version":${BACKUP_VERSION}}`;
    this.hash.update(tail, 'utf8');
    const checksum = CHECKSUM_PREFIX + this.hash.digest('hex');
    const head = `{"checksum":${JSON.stringify(checksum)},${this.contentHead().slice(1)}`;
    return { checksum, head, tail: `${tail}\n` };
  }
}

/**
 * `sha256:` over one document's canonical encoding: equal for equal documents whatever their
 * field order (a restore's audit entry compares what was stored with what it wrote).
 */
export function documentChecksum(path: string, data: BackupMap): string {
  const canonical = canonicalJson(encodeDocument(path, data));
  return CHECKSUM_PREFIX + createHash('sha256').update(canonical, 'utf8').digest('hex');
}

/** The file's text: canonical JSON and a newline. */
export function serializeBackup(file: BackupFile): string {
  return `${canonicalJson(file)}\n`;
}

// ---- Verifying -----------------------------------------------------------------------------

const envelopeSchema = z.strictObject({
  format: z.literal(BACKUP_FORMAT),
  version: z.literal(BACKUP_VERSION),
  createdAt: z.iso.datetime(),
  projectId: z.string().min(1),
  documents: z.record(z.string(), z.record(z.string(), z.unknown())),
  checksum: z.string().regex(/^sha256:[0-9a-f]{64}$/, 'sha256: and 64 lowercase hex digits'),
});

function decodeText(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // A multi-byte character cut at the end is a truncation; anywhere else, corruption.
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: true });
    } catch {
      throw new BackupError('corrupt', 'the file is not valid UTF-8');
    }
    throw new BackupError('truncated', 'the file ends in the middle of a character');
  }
}

function parseJson(text: string): unknown {
  if (text.trim() === '') throw new BackupError('truncated', 'the file is empty');
  try {
    return JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    const position = /at position (\d+)/.exec(message);
    const atEnd =
      /end of JSON input/i.test(message) ||
      (position !== null && Number(position[1]) >= text.trimEnd().length);
    throw atEnd
      ? new BackupError('truncated', `the file ends early (${message})`)
      : new BackupError('corrupt', `the file is not valid JSON (${message})`);
  }
}

function formatIssuePath(path: ReadonlyArray<PropertyKey>): string {
  return path
    .map((p, i) =>
      typeof p === 'number'
        ? `[${p}]`
        : i > 0 && path[0] === 'documents'
          ? `[${JSON.stringify(String(p))}]`
          : `${i === 0 ? '' : '.'}${String(p)}`,
    )
    .join('');
}

/**
 * Verifies a backup given as text, bytes (a file's content) or an already parsed object, and
 * decodes it. Throws BackupError naming what is wrong: truncated or corrupt file, wrong shape,
 * unsupported version, checksum mismatch, or (text only, unless `requireCanonical` is false)
 * text changed without changing the content.
 */
export function verifyBackup(
  input: unknown,
  options: { requireCanonical?: boolean } = {},
): VerifiedBackup {
  let text: string | undefined;
  if (typeof input === 'string') text = input;
  else if (input instanceof Uint8Array) text = decodeText(input);
  const raw = text === undefined ? input : parseJson(text);

  if (!isPlainObject(raw)) throw new BackupError('shape', 'a backup is a JSON object');
  if (raw.format === BACKUP_FORMAT && typeof raw.version === 'number' && raw.version !== 1) {
    throw new BackupError(
      'version',
      `format version ${raw.version} is not supported (this Tollgate reads version ${BACKUP_VERSION})`,
    );
  }
  const envelope = envelopeSchema.safeParse(raw);
  if (!envelope.success) {
    const issues = envelope.error.issues.map(
      (issue) => `${formatIssuePath(issue.path) || '(root)'}: ${issue.message}`,
    );
    throw new BackupError('shape', issues.slice(0, 5).join('; '), issues);
  }
  // The raw object, not zod's copy: the checksum covers exactly what the file holds.
  const documents = raw.documents as Record<string, Record<string, unknown>>;
  const { format, version, createdAt, projectId, checksum } = envelope.data;
  let expected: string;
  try {
    expected = backupChecksum({
      format,
      version,
      createdAt,
      projectId,
      documents: documents as BackupFile['documents'],
    });
  } catch (error) {
    // A JSON number beyond the double range (1e999) parses to Infinity.
    throw new BackupError('shape', (error as Error).message);
  }
  if (expected !== checksum) {
    throw new BackupError(
      'checksum',
      `the content does not match its checksum (file says ${checksum}, content is ${expected})`,
    );
  }

  const issues: string[] = [];
  const decoded: BackupDocuments = {};
  const counts: Record<string, number> = {};
  for (const path of Object.keys(documents)) {
    const where = `documents[${JSON.stringify(path)}]`;
    const problem = documentPathProblem(path);
    if (problem) {
      issues.push(`${where}: ${problem}`);
      continue;
    }
    const data = decodeMap(documents[path]!, where, issues);
    define(decoded, path, data);
    // What Firestore would refuse half way through the restore: over-long names, paths and
    // values, a document over 1 MiB (names were checked above, with array positions).
    for (const issue of documentLimitIssues(path, data)) {
      if (issue.kind === 'name') continue;
      const at = issue.field.length ? `${where}.${formatFieldPath(issue.field)}` : where;
      issues.push(`${at}: ${issue.message}`);
    }
    const collection = topLevelCollection(path);
    counts[collection] = (counts[collection] ?? 0) + 1;
  }
  if (issues.length > 0) {
    throw new BackupError(
      'shape',
      `${issues.length} invalid value(s): ${issues.slice(0, 5).join('; ')}`,
      issues,
    );
  }

  if (text !== undefined && (options.requireCanonical ?? true)) {
    const canonical = canonicalJson(raw);
    if (text !== canonical && text !== `${canonical}\n`) {
      throw new BackupError(
        'noncanonical',
        'the file was changed after it was written (its content matches the checksum, but the text is not as Tollgate writes it)',
      );
    }
  }
  return { createdAt, projectId, checksum, documents: decoded, counts };
}
