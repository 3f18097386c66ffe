import { createHash } from 'node:crypto';
import { z } from 'zod';
import {
  DEFAULT_PAYLOAD_CONFIG,
  isPayloadId,
  type PayloadConfig,
  payloadOfObject,
} from '../storage/payloads';
import { BackupError, type BackupMap, canonicalJson } from './backup';
import {
  BACKUP_ID,
  BACKUP_PROJECT_ID,
  type BackupScheduleConfig,
  backupScheduleConfigSchema,
  MAX_PAGE_DOCUMENTS,
} from './backup-schedule';
import { SCHEDULED_BACKUP_COLLECTIONS } from './backup-scope';

/**
 * Scheduled backups of configuration and collected data (adapters/backup/scheduled-backup.ts). Pure:
 * the schedule, the names, the manifest and the retention rules.
 *
 * A backup is a folder of objects, `{prefix}scheduled/{projectId}/{id}/` (projects sharing a
 * bucket and prefix never see each other's backups: due checks, listing and retention read only
 * their own project's folder):
 *
 *     pages/000001.json          a page of one collection: a complete tollgate-backup file
 *                                (core/backup/backup.ts, its own checksum), at most `pageSize` documents
 *     pages/000001.objects.json  for a page of payloads: the Cloud Storage objects of its payloads
 *     objects/{payloadId}        a copy of each such object
 *     manifest.json              written last: every page with its size and SHA-256, and the
 *                                manifest's own checksum
 *
 * The manifest is the commit point: a folder without one is incomplete (a run that crashed or
 * is still running), which a restore refuses and the retention removes once it is old enough
 * that no run can still be writing it.
 *
 * Next to the backups, `{prefix}scheduled/{projectId}/slots/{slot}` is a slot's claim: the run
 * that creates it (if-absent) backs the slot up; another run of the same slot does nothing. A
 * failed run deletes its claim (the next hourly run retries the slot); a crashed run's claim is
 * taken over once older than ABANDONED_AFTER_MS.
 */

export const MANIFEST_FORMAT = 'tollgate-scheduled-backup';
export const MANIFEST_VERSION = 1;
export const OBJECTS_FORMAT = 'tollgate-backup-objects';
export const OBJECTS_VERSION = 1;
export const SCHEDULED_FOLDER = 'scheduled/';
export const MANIFEST_NAME = 'manifest.json';
/** The folder of slot claims, next to a project's backups (never a backup id). */
export const SLOTS_FOLDER = 'slots/';
/**
 * The folder of restore holds, next to a project's backups (never a backup id): a restore keeps
 * one for its backup while it runs, and the retention leaves a held backup alone.
 */
export const HOLDS_FOLDER = 'holds/';
/** A hold lapses this long after it was last renewed (a crashed restore holds no longer). */
export const RESTORE_HOLD_MS = 15 * 60_000;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** A page closes early once its text is this large; a restore refuses larger page objects. */
export const TARGET_PAGE_BYTES = 8 * 1024 * 1024;
/** One page's largest object: a page of documents near 1 MiB each, each read alone, is below. */
export const MAX_PAGE_BYTES = 64 * 1024 * 1024;
/**
 * An incomplete backup younger than this may still be being written (the function's timeout is
 * 30 minutes): the retention leaves it alone.
 */
export const ABANDONED_AFTER_MS = 2 * HOUR_MS;
/**
 * A backup dated (by its id or its slot) more than this after now is ignored: it neither makes
 * a slot done, nor counts as the newest, nor is deleted by the retention (a clock far ahead, or
 * an object someone else wrote).
 */
export const FUTURE_TOLERANCE_MS = 10 * 60_000;

/** The folder of `projectId`'s scheduled backups under `prefix`; throws for unsafe ids. */
export function projectBackupsFolder(prefix: string, projectId: string): string {
  if (!BACKUP_PROJECT_ID.test(projectId)) {
    throw new RangeError(`"${projectId.slice(0, 140)}" is not a project id`);
  }
  return `${prefix}${SCHEDULED_FOLDER}${projectId}/`;
}

/** A slot's claim, relative to the project's folder. */
export function slotClaimName(slotMs: number): string {
  return `${SLOTS_FOLDER}${new Date(slotMs).toISOString().replace(/[-:.]/g, '')}`;
}

/** Where a restore's hold of backup `id` is, relative to the project's folder. */
export function restoreHoldName(id: string, token: string): string {
  return `${HOLDS_FOLDER}${id}~${token}`;
}

/** The prefix of every hold of backup `id`, relative to the project's folder. */
export function restoreHoldsPrefix(id: string): string {
  return `${HOLDS_FOLDER}${id}~`;
}

/** The slot of a claim's name (relative to the project's folder), if it is one. */
export function slotOfClaim(name: string): number | undefined {
  const m = /^slots\/(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z$/.exec(name);
  if (!m) return undefined;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, +m[7]!);
  return slotClaimName(ms) === name ? ms : undefined;
}

// ---- Configuration -------------------------------------------------------------------------

export const DEFAULT_BACKUP_SCHEDULE: BackupScheduleConfig = backupScheduleConfigSchema.parse({});

/** The start of the newest slot at or before `asOfMs`. */
export function backupSlotMs(asOfMs: number, config: BackupScheduleConfig): number {
  const anchor = config.atHourUtc * HOUR_MS;
  const interval = config.intervalHours * HOUR_MS;
  return anchor + Math.floor((asOfMs - anchor) / interval) * interval;
}

/**
 * Whether a run as of `asOfMs` backs up: no complete backup is of the current slot.
 * `newestSlotMs` is the slot the newest complete backup was taken for (its manifest's `slotMs`),
 * not when it started: an instance clock a little behind the schedule starts a slot's backup
 * before the slot, and must not make the next run of the same slot take another.
 */
export function backupDue(
  asOfMs: number,
  config: BackupScheduleConfig,
  newestSlotMs: number | undefined,
): boolean {
  if (!config.enabled) return false;
  return newestSlotMs === undefined || newestSlotMs < backupSlotMs(asOfMs, config);
}

// ---- Names ---------------------------------------------------------------------------------

export { BACKUP_ID, type BackupScheduleConfig, backupScheduleConfigSchema, MAX_PAGE_DOCUMENTS };

export function scheduledBackupId(createdAtMs: number, randomHex: string): string {
  if (!/^[0-9a-f]{12}$/.test(randomHex)) throw new RangeError('12 lowercase hex digits');
  return `${new Date(createdAtMs).toISOString().replace(/[-:.]/g, '')}-${randomHex}`;
}

/** When the backup `id` was started, or undefined for a name Tollgate does not write. */
export function scheduledBackupTimeMs(id: string): number | undefined {
  const m = BACKUP_ID.exec(id);
  if (!m) return undefined;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, +m[7]!);
  return scheduledBackupId(ms, id.slice(-12)) === id ? ms : undefined;
}

export function pageName(index: number): string {
  return `pages/${String(index).padStart(6, '0')}.json`;
}

export function pageObjectsName(index: number): string {
  return `pages/${String(index).padStart(6, '0')}.objects.json`;
}

export function objectCopyName(payloadId: string): string {
  return `objects/${payloadId}`;
}

// ---- Manifest ------------------------------------------------------------------------------

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex digits');
const count = z.number().int().nonnegative();

const pageSchema = z.strictObject({
  name: z.string().regex(/^pages\/\d{6,9}\.json$/),
  collection: z.enum(SCHEDULED_BACKUP_COLLECTIONS),
  documents: z.number().int().min(1).max(MAX_PAGE_DOCUMENTS),
  bytes: z.number().int().min(1).max(MAX_PAGE_BYTES),
  sha256: sha256Hex,
  /** The page file's own checksum (core/backup/backup.ts). */
  checksum: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  objects: z
    .strictObject({
      name: z.string().regex(/^pages\/\d{6,9}\.objects\.json$/),
      count: z.number().int().min(1).max(MAX_PAGE_DOCUMENTS),
      bytes: z.number().int().min(1).max(MAX_PAGE_BYTES),
      sha256: sha256Hex,
    })
    .optional(),
});
export type ManifestPage = z.infer<typeof pageSchema>;

const manifestSchema = z.strictObject({
  format: z.literal(MANIFEST_FORMAT),
  version: z.literal(MANIFEST_VERSION),
  id: z.string().regex(BACKUP_ID),
  createdAt: z.iso.datetime(),
  completedAt: z.iso.datetime(),
  /** The schedule's slot the backup was taken for (its start time when taken off schedule). */
  slotMs: z.number().int().nonnegative(),
  projectId: z.string().min(1),
  collections: z.array(z.enum(SCHEDULED_BACKUP_COLLECTIONS)),
  documents: count,
  byCollection: z.partialRecord(z.enum(SCHEDULED_BACKUP_COLLECTIONS), count),
  /** Payload objects copied into the backup. */
  objects: count,
  /** Payload documents left out: their object was missing, or they are not Tollgate's. */
  skipped: count,
  pages: z.array(pageSchema).max(1_000_000),
  checksum: z.string().regex(/^sha256:[0-9a-f]{64}$/),
});
export type ScheduledManifest = z.infer<typeof manifestSchema>;

function checksumOf(content: object): string {
  return `sha256:${createHash('sha256').update(canonicalJson(content), 'utf8').digest('hex')}`;
}

export function createManifest(
  content: Omit<ScheduledManifest, 'checksum' | 'format' | 'version'>,
) {
  const body = { format: MANIFEST_FORMAT, version: MANIFEST_VERSION, ...content } as const;
  const manifest: ScheduledManifest = { ...body, checksum: checksumOf(body) };
  return { manifest, text: `${canonicalJson(manifest)}\n` };
}

function parseStrict(bytes: Uint8Array, what: string): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new BackupError('corrupt', `${what} is not valid UTF-8`);
  }
  if (text.trim() === '') throw new BackupError('truncated', `${what} is empty`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    const kind = /end of JSON input|Unterminated/i.test((error as Error).message)
      ? 'truncated'
      : 'corrupt';
    throw new BackupError(kind, `${what} is not valid JSON (${(error as Error).message})`);
  }
  let canonical: string;
  try {
    canonical = canonicalJson(raw);
  } catch (error) {
    throw new BackupError('shape', `${what}: ${(error as Error).message}`);
  }
  if (text === canonical) throw new BackupError('truncated', `${what} ends early`);
  if (text !== `${canonical}\n`) {
    throw new BackupError('noncanonical', `${what} was changed after it was written`);
  }
  return raw;
}

function shapeError(what: string, error: z.ZodError): BackupError {
  const issues = error.issues.map((i) => `${what}.${i.path.join('.') || '(root)'}: ${i.message}`);
  return new BackupError('shape', issues.slice(0, 5).join('; '), issues);
}

/**
 * A manifest's bytes, verified: canonical JSON of the schema above, its checksum, and totals
 * that agree with its pages. Throws BackupError.
 */
export function verifyManifest(bytes: Uint8Array, expectedId?: string): ScheduledManifest {
  const raw = parseStrict(bytes, 'the manifest');
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) throw shapeError('manifest', parsed.error);
  const { checksum, ...body } = parsed.data;
  if (checksumOf(body) !== checksum) {
    throw new BackupError('checksum', 'the manifest does not match its checksum');
  }
  const m = parsed.data;
  if (expectedId !== undefined && m.id !== expectedId) {
    throw new BackupError('shape', `the manifest is of backup ${m.id}, not ${expectedId}`);
  }
  const problems: string[] = [];
  const byCollection: Record<string, number> = {};
  m.pages.forEach((page, i) => {
    if (page.name !== pageName(i + 1)) problems.push(`pages[${i}]: named ${page.name}`);
    if (page.objects && page.objects.name !== pageObjectsName(i + 1)) {
      problems.push(`pages[${i}].objects: named ${page.objects.name}`);
    }
    if (page.objects && page.collection !== 'payloads') {
      problems.push(`pages[${i}]: only pages of payloads have objects`);
    }
    if (!m.collections.includes(page.collection)) {
      problems.push(`pages[${i}]: ${page.collection} is not among the backup's collections`);
    }
    byCollection[page.collection] = (byCollection[page.collection] ?? 0) + page.documents;
  });
  const total = m.pages.reduce((sum, p) => sum + p.documents, 0);
  if (total !== m.documents) problems.push(`documents: ${m.documents}, pages hold ${total}`);
  if (canonicalJson(byCollection) !== canonicalJson(m.byCollection)) {
    problems.push('byCollection does not add up its pages');
  }
  const objects = m.pages.reduce((sum, p) => sum + (p.objects?.count ?? 0), 0);
  if (objects !== m.objects) problems.push(`objects: ${m.objects}, pages list ${objects}`);
  if (problems.length > 0) {
    throw new BackupError('shape', `the manifest: ${problems.slice(0, 5).join('; ')}`, problems);
  }
  return m;
}

// ---- Payload objects -----------------------------------------------------------------------

const objectEntrySchema = z.strictObject({
  payload: z.string().refine(isPayloadId, 'a payload id'),
  /** Where the payload's object lives in the payload bucket. */
  object: z.string().min(1).max(1024),
  bytes: count,
  sha256: sha256Hex,
  contentType: z.string().max(1024).optional(),
});
export type ObjectEntry = z.infer<typeof objectEntrySchema>;

const objectsFileSchema = z.strictObject({
  format: z.literal(OBJECTS_FORMAT),
  version: z.literal(OBJECTS_VERSION),
  objects: z.array(objectEntrySchema).min(1).max(MAX_PAGE_DOCUMENTS),
});

export function serializeObjects(objects: ObjectEntry[]): string {
  return `${canonicalJson({ format: OBJECTS_FORMAT, version: OBJECTS_VERSION, objects })}\n`;
}

export function parseObjects(bytes: Uint8Array): ObjectEntry[] {
  const parsed = objectsFileSchema.safeParse(parseStrict(bytes, 'the objects list'));
  if (!parsed.success) throw shapeError('objects', parsed.error);
  return parsed.data.objects;
}

/**
 * Why a payload metadata document cannot be restored, if it cannot. A document in Cloud
 * Storage must name the object Tollgate derives from its id (payload-store.ts): a restore
 * writes that object, so a document may not point it anywhere else in the bucket.
 */
export function payloadDocumentProblem(
  id: string,
  data: BackupMap,
  config: PayloadConfig = DEFAULT_PAYLOAD_CONFIG,
): string | undefined {
  if (!isPayloadId(id)) return 'not a payload id';
  if (typeof data.bytes !== 'number' || typeof data.contentType !== 'string') {
    return 'bytes and contentType are required';
  }
  if (data.location === 'inline') {
    return data.data instanceof Uint8Array ? undefined : 'an inline payload holds its data';
  }
  if (data.location !== 'storage') return 'location is "inline" or "storage"';
  if (typeof data.object !== 'string') return 'a payload in Cloud Storage names its object';
  const owner = payloadOfObject(data.object, config);
  if (owner?.id !== id || owner.temporary !== (data.temporary === true)) {
    return `object "${data.object.slice(0, 120)}" is not this payload's (${config.objectPrefix}${id} or ${config.temporaryPrefix}${id})`;
  }
  return undefined;
}

// ---- Retention -----------------------------------------------------------------------------

export type BackupState = 'complete' | 'incomplete' | 'corrupt';

export interface ListedBackup {
  id: string;
  createdAtMs: number;
  /** The slot of a complete backup (its manifest's). */
  slotMs?: number;
  state: BackupState;
}

/** Whether a backup is dated after `nowMs` (+ FUTURE_TOLERANCE_MS): then it is ignored. */
export function futureDated(backup: ListedBackup, nowMs: number): boolean {
  const latest = nowMs + FUTURE_TOLERANCE_MS;
  return backup.createdAtMs > latest || (backup.slotMs ?? backup.createdAtMs) > latest;
}

/** The newest backup whose manifest verified, as of `nowMs` (future-dated ones ignored). */
export function newestComplete<T extends ListedBackup>(
  backups: readonly T[],
  nowMs: number,
): T | undefined {
  let newest: T | undefined;
  for (const b of backups) {
    if (b.state !== 'complete' || futureDated(b, nowMs)) continue;
    if (!newest || b.createdAtMs > newest.createdAtMs) newest = b;
  }
  return newest;
}

/**
 * The backups the retention deletes as of `nowMs`: complete (or corrupt) ones started more than
 * `retentionDays` ago, and incomplete ones abandoned (older than ABANDONED_AFTER_MS); never the
 * newest complete one, however old, and never a future-dated one (nor does one count as newest).
 */
export function expiredBackups(
  backups: readonly ListedBackup[],
  nowMs: number,
  retentionDays: number,
  abandonedAfterMs = ABANDONED_AFTER_MS,
): string[] {
  const keep = newestComplete(backups, nowMs)?.id;
  const cutoff = nowMs - retentionDays * DAY_MS;
  return backups
    .filter((b) => {
      if (b.id === keep || futureDated(b, nowMs)) return false;
      if (b.state === 'incomplete') return nowMs - b.createdAtMs > abandonedAfterMs;
      return b.createdAtMs < cutoff;
    })
    .map((b) => b.id);
}
