import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type DocumentData,
  DocumentReference,
  FieldValue,
  type Firestore,
  GeoPoint,
  type Query,
  type QueryDocumentSnapshot,
  Timestamp,
  type WriteBatch,
} from 'firebase-admin/firestore';
import {
  BackupBuilder,
  BackupError,
  type BackupFile,
  BackupGeoPoint,
  type BackupMap,
  BackupReference,
  BackupTimestamp,
  type BackupValue,
  BackupVector,
  createBackup,
  documentChecksum,
  topLevelCollection,
  type VerifiedBackup,
  verifyBackup,
} from '../../core/backup/backup';
import {
  exportablePath,
  MAX_BACKUP_DOCUMENTS,
  RESTORABLE_COLLECTIONS,
  RESTORABLE_SUBCOLLECTIONS,
  restorablePathProblem,
} from '../../core/backup/backup-scope';
import {
  type Category,
  ConfigError,
  categorySchema,
  flagsSchema,
  type Provider,
  parseDocument,
  providerSchema,
  validateRuntimeConfig,
} from '../../core/config';
import { mapLimit } from '../../core/map-limit';
import type { ImportBackupResult } from '../../core/operations/results';
import { workProblems } from '../../core/pipeline/category-work';
import { collectionSchema } from '../../core/pipeline/collections';
import { pipelineConfigSchema } from '../../core/pipeline/config';
import { introducedProblems, shareError } from '../../core/quota/share-check';
import { planBatches, utf8Length } from '../../core/storage/firestore-limits';
import { logger } from '../../log';
import { CONFIG_PATHS } from '../config-repository';
import { projectId as envProjectId } from '../firebase';
import { PIPELINE_CONFIG_PATH } from '../pipeline/pipeline-config';
import { parseWorkPipeline, readWorkSources } from '../pipeline/work-shares';
import { commitCapacity } from '../storage/batch-writes';
import { paceFirestoreWork } from '../storage/self-quota-runtime';
import { digestStream } from './digest-stream';

/**
 * What a backup holds by default, and all a restore writes: configuration and the state that
 * would be costly or impossible to rebuild (collection progress, cooldowns, allocations,
 * auto-sync watermarks, ingest queues with their items). core/backup/backup-scope.ts says why the
 * rest is left out; the audit log is exported only when an admin asks for it, and never
 * restored.
 */
export const BACKUP_COLLECTIONS: readonly string[] = RESTORABLE_COLLECTIONS;

/** Documents listed or read at once. */
const LIST_CONCURRENCY = 16;
const LIST_PAGE = 1000;
/** Documents read per getAll while exporting: a page of documents is all an export holds. */
const READ_PAGE = 100;

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

function toFirestoreMap(db: Firestore, data: BackupMap): DocumentData {
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

// ---- Export: listing and paged reads --------------------------------------------------------

export interface ExportOptions {
  /** Top-level collections to back up (default BACKUP_COLLECTIONS). */
  collections?: readonly string[];
  /** Recorded in the file (default the Firestore's project). */
  projectId?: string;
  now?: () => number;
  /** More documents than this are refused before any is read (default MAX_BACKUP_DOCUMENTS). */
  maxDocuments?: number;
  /** No page is read after this instant (on `now`): ExportDeadlineError. */
  deadlineMs?: number;
  /** Hears the documents found (once listed) and each page read. */
  onListed?: (documents: number) => void;
  onPage?: (documents: number) => void;
}

/** The export would read more documents than one export may. Nothing was read or written. */
export class BackupTooLargeError extends Error {
  constructor(
    readonly collections: readonly string[],
    readonly max: number,
  ) {
    super(
      `the backup of ${collections.join(', ')} holds more than ${max.toLocaleString('en-US')} documents; export fewer collections at once`,
    );
    this.name = 'BackupTooLargeError';
  }
}

/** The export ran out of time before it read everything; nothing was kept. */
export class ExportDeadlineError extends Error {
  constructor(
    readonly read: number,
    readonly total: number,
  ) {
    super(`the export ran out of time after reading ${read} of ${total} documents`);
    this.name = 'ExportDeadlineError';
  }
}

function firestoreProjectId(db: Firestore): string | undefined {
  try {
    // Not in the public typings, but set on every initialized Firestore.
    const id = (db as unknown as { projectId?: unknown }).projectId;
    return typeof id === 'string' && id !== '' ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Ids of a collection's documents, a page at a time (names only, no data). A query without an
 * order runs in document-name order, which the cursor continues (no index involved).
 */
async function pagedPaths(query: Query, into: string[], max: number, fail: () => Error) {
  let page = query.select().limit(LIST_PAGE);
  for (;;) {
    const snapshot = await page.get();
    for (const doc of snapshot.docs) into.push(doc.ref.path);
    if (into.length > max) throw fail();
    if (snapshot.size < LIST_PAGE) break;
    page = page.startAfter(snapshot.docs.at(-1) as QueryDocumentSnapshot);
  }
}

/**
 * The paths of every document an export of `collections` holds, sorted in code-unit order (the
 * file's order): each collection's documents, a page of names at a time, and one level of the
 * subcollections a restore writes (`ingest/{id}/items`, also under parents that are not
 * documents themselves); leases and anything else a restore would refuse are left out, so an
 * export always imports. Only paths are held: at most `max` of them.
 */
export async function listBackupPaths(
  db: Firestore,
  collections: readonly string[],
  max = MAX_BACKUP_DOCUMENTS,
): Promise<string[]> {
  const paths: string[] = [];
  const fail = () => new BackupTooLargeError(collections, max);
  for (const name of new Set(collections)) {
    await pagedPaths(db.collection(name), paths, max, fail);
    const subcollections = RESTORABLE_SUBCOLLECTIONS[name] ?? [];
    if (subcollections.length === 0) continue;
    // Parents without a document of their own still have their subcollections listed.
    const parents = await db.collection(name).listDocuments();
    for (const sub of subcollections) {
      const found = await mapLimit(parents, LIST_CONCURRENCY, async (parent) => {
        const own: string[] = [];
        await pagedPaths(parent.collection(sub), own, max, fail);
        return own;
      });
      for (const own of found) {
        for (const path of own) paths.push(path);
        if (paths.length > max) throw fail();
      }
    }
  }
  return paths.filter(exportablePath).sort();
}

/** The documents at `paths` (sorted), a page at a time; documents gone since are skipped. */
async function* readPages(
  db: Firestore,
  paths: readonly string[],
  options: ExportOptions,
): AsyncGenerator<Array<{ path: string; data: BackupMap }>> {
  const now = options.now ?? Date.now;
  for (let i = 0; i < paths.length; i += READ_PAGE) {
    if (options.deadlineMs !== undefined && now() > options.deadlineMs) {
      throw new ExportDeadlineError(i, paths.length);
    }
    await paceFirestoreWork(db, 'backup');
    const refs = paths.slice(i, i + READ_PAGE).map((path) => db.doc(path));
    const snapshots = await db.getAll(...refs);
    yield snapshots.flatMap((snapshot) =>
      snapshot.exists
        ? [{ path: snapshot.ref.path, data: fromFirestoreMap(snapshot.data()!, snapshot.ref.path) }]
        : [],
    );
    options.onPage?.(refs.length);
  }
}

/**
 * Reads the given top-level collections (see listBackupPaths) into a backup held in memory:
 * for tests and small exports. The reads are not one snapshot: for a consistent backup, stop
 * the pipeline first (config/flags maintenance). Exports of a whole project go through
 * streamBackup, which holds one page of documents at a time.
 */
export async function exportBackup(
  db: Firestore,
  options: ExportOptions = {},
): Promise<BackupFile> {
  const collections = options.collections ?? BACKUP_COLLECTIONS;
  const paths = await listBackupPaths(db, collections, options.maxDocuments);
  options.onListed?.(paths.length);
  const documents: Record<string, BackupMap> = {};
  for await (const page of readPages(db, paths, options)) {
    for (const { path, data } of page) documents[path] = data;
  }
  const backup = createBackup({
    createdAt: (options.now ?? Date.now)(),
    projectId: options.projectId ?? firestoreProjectId(db) ?? envProjectId(),
    documents,
  });
  logger.info({ documents: Object.keys(documents).length, collections }, 'backup exported');
  return backup;
}

// ---- Export: streamed ----------------------------------------------------------------------

/**
 * Where a streamed backup goes. The file starts with its checksum, which is known only once
 * every document has been read, so the documents' text goes to a spool first (a temporary
 * object or file), and the file is then written as its head, the spool's text and its tail.
 */
export interface BackupTarget {
  /** Opens the spool for writing. */
  openSpool(): Writable | Promise<Writable>;
  /** Reads the spool back. */
  readSpool(): Readable;
  /** Opens the backup file for writing (named after its checksum, if the target likes). */
  openFile(checksum: string, createdAt: string): Writable | Promise<Writable>;
  /** Removes the spool; after a failure, also whatever was written of the file. */
  cleanup(failed: boolean): Promise<void>;
}

export interface StreamedBackup {
  checksum: string;
  createdAt: string;
  projectId: string;
  collections: string[];
  documents: number;
  byCollection: Record<string, number>;
  /** The file's size and the SHA-256 (hex) of its bytes. */
  bytes: number;
  sha256: string;
}

/**
 * An export of `collections` written to `target` a page at a time: the same file (byte for
 * byte) as serializeBackup(exportBackup(...)), holding in memory only the documents' paths and
 * one page of documents. Errors remove the spool and the partial file.
 */
export async function streamBackup(
  db: Firestore,
  target: BackupTarget,
  options: ExportOptions = {},
): Promise<StreamedBackup> {
  const collections = [...new Set(options.collections ?? BACKUP_COLLECTIONS)];
  const now = options.now ?? Date.now;
  const builder = new BackupBuilder({
    createdAt: now(),
    projectId: options.projectId ?? firestoreProjectId(db) ?? envProjectId(),
  });
  const byCollection: Record<string, number> = {};
  let failed = true;
  try {
    const paths = await listBackupPaths(db, collections, options.maxDocuments);
    options.onListed?.(paths.length);
    async function* documents() {
      for await (const page of readPages(db, paths, options)) {
        let text = '';
        for (const { path, data } of page) {
          const collection = topLevelCollection(path);
          byCollection[collection] = (byCollection[collection] ?? 0) + 1;
          text += builder.document(path, data);
        }
        if (text) yield Buffer.from(text, 'utf8');
      }
    }
    await pipeline(Readable.from(documents()), await target.openSpool());
    const { checksum, head, tail } = builder.finish();
    const measure = digestStream();
    async function* file() {
      yield Buffer.from(head, 'utf8');
      for await (const chunk of target.readSpool()) yield chunk as Buffer;
      yield Buffer.from(tail, 'utf8');
    }
    await pipeline(
      Readable.from(file()),
      measure.stream,
      await target.openFile(checksum, builder.createdAt),
    );
    const { bytes, sha256 } = measure.digest();
    failed = false;
    logger.info({ documents: builder.documents, collections, bytes }, 'backup exported');
    return {
      checksum,
      createdAt: builder.createdAt,
      projectId: builder.projectId,
      collections,
      documents: builder.documents,
      byCollection,
      bytes,
      sha256,
    };
  } finally {
    await target.cleanup(failed).catch((error: unknown) => {
      logger.warn({ err: error }, 'backup spool clean-up failed');
    });
  }
}

// ---- Import --------------------------------------------------------------------------------

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

/** A backup checked against everything a restore could fail on, ready to write. */
export interface PreparedImport {
  verified: VerifiedBackup;
  writes: PreparedWrite[];
}

/** `sha256:` of a stored document's canonical encoding, as PreparedWrite.digest. */
export function documentDigest(path: string, data: DocumentData): string {
  return documentChecksum(path, fromFirestoreMap(data, path));
}

const where = (path: string) => `documents[${JSON.stringify(path)}]`;

/** The configuration documents a restore validates by schema (config/* by id). */
function configurationDocument(
  path: string,
): 'provider' | 'category' | 'flags' | 'pipeline' | undefined {
  const [collection, , ...rest] = path.split('/');
  if (rest.length > 0) return undefined;
  if (collection === CONFIG_PATHS.providers) return 'provider';
  if (collection === CONFIG_PATHS.categories) return 'category';
  if (path === CONFIG_PATHS.flags) return 'flags';
  if (path === PIPELINE_CONFIG_PATH) return 'pipeline';
  return undefined;
}

/** Whether a restore's audit entry keeps the document's values (configuration), not digests. */
export function isConfigurationPath(path: string): boolean {
  return configurationDocument(path) !== undefined;
}

/** ConfigError issues as backup issues, at the document in the file or the stored one. */
function configIssues(error: ConfigError, inBackup: ReadonlySet<string>): string[] {
  const at = inBackup.has(error.document)
    ? where(error.document)
    : `${error.document} (stored, not in the backup)`;
  return error.issues.map((i) => `${at}${i.path ? `.${i.path}` : ''}: ${i.message}`);
}

/** Runs `check`; a ConfigError becomes issues naming the document and field. */
function collectConfig(issues: string[], inBackup: ReadonlySet<string>, check: () => void) {
  try {
    check();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    issues.push(...configIssues(error, inBackup));
  }
}

const workCollectionSchema = collectionSchema.pick({
  provider: true,
  category: true,
  status: true,
  phase: true,
  phases: true,
});

/**
 * Every configuration document of the file against its schema, then the configuration as the
 * restore would leave it (the stored documents with the file's over them) against the rules no
 * single document can check: categories of existing providers, shares within 100% per provider,
 * and shares that carry their categories' work now and in later phases (only problems the
 * restore would introduce). Reads the stored configuration; writes nothing.
 */
export async function checkConfiguration(
  db: Firestore,
  writes: readonly PreparedWrite[],
): Promise<void> {
  const inBackup = new Set(writes.map((w) => w.path));
  const issues: string[] = [];
  const byPath = new Map(writes.map((w) => [w.path, w]));
  for (const w of writes) {
    const kind = configurationDocument(w.path);
    const id = w.path.split('/')[1]!;
    collectConfig(issues, inBackup, () => {
      if (kind === 'provider') parseDocument(providerSchema, w.path, { id, ...w.data });
      else if (kind === 'category') parseDocument(categorySchema, w.path, { id, ...w.data });
      else if (kind === 'flags') parseDocument(flagsSchema, w.path, w.data);
      else if (kind === 'pipeline') parseDocument(pipelineConfigSchema, w.path, w.data);
    });
  }
  if (issues.length > 0) throw configError(issues);

  const [providerDocs, categoryDocs, flagsDoc, pipelineDoc, sources] = await Promise.all([
    db.collection(CONFIG_PATHS.providers).get(),
    db.collection(CONFIG_PATHS.categories).get(),
    db.doc(CONFIG_PATHS.flags).get(),
    db.doc(PIPELINE_CONFIG_PATH).get(),
    readWorkSources(db),
  ]);
  /** The stored documents of a collection with the file's over them. */
  const merged = (stored: FirebaseFirestore.QuerySnapshot, collection: string) => {
    const out = new Map<string, DocumentData>();
    for (const doc of stored.docs) out.set(doc.id, doc.data());
    for (const w of writes) {
      const [c, id, ...rest] = w.path.split('/');
      if (c === collection && rest.length === 0) out.set(id!, w.data);
    }
    return out;
  };
  const parseAll = <T>(
    docs: Map<string, DocumentData>,
    collection: string,
    parse: (path: string, data: DocumentData) => T,
  ): T[] => {
    const out: T[] = [];
    for (const [id, data] of docs) {
      const path = `${collection}/${id}`;
      collectConfig(issues, inBackup, () => out.push(parse(path, { id, ...data })));
    }
    return out;
  };
  const providers = parseAll(
    merged(providerDocs, CONFIG_PATHS.providers),
    CONFIG_PATHS.providers,
    (path, data): Provider => parseDocument(providerSchema, path, data),
  );
  const categories = parseAll(
    merged(categoryDocs, CONFIG_PATHS.categories),
    CONFIG_PATHS.categories,
    (path, data): Category => parseDocument(categorySchema, path, data),
  );
  const flagsData = byPath.get(CONFIG_PATHS.flags)?.data ?? flagsDoc.data() ?? {};
  let flags = flagsSchema.parse({});
  collectConfig(issues, inBackup, () => {
    flags = parseDocument(flagsSchema, CONFIG_PATHS.flags, flagsData);
  });
  const pipelineData = byPath.get(PIPELINE_CONFIG_PATH)?.data ?? pipelineDoc.data() ?? {};
  collectConfig(issues, inBackup, () => {
    parseDocument(pipelineConfigSchema, PIPELINE_CONFIG_PATH, pipelineData);
  });
  if (issues.length > 0) throw configError(issues);
  collectConfig(issues, inBackup, () => validateRuntimeConfig({ providers, categories, flags }));
  if (issues.length > 0) throw configError(issues);

  // Shares that cannot carry their work: only what the restore would introduce. Problems the
  // project already had, or the backup's own configuration had where it was taken, are not
  // the restore's (operators' changes are judged the same way).
  collectConfig(issues, inBackup, () => {
    const parsedOr = <T>(parse: () => T): T[] => {
      try {
        return [parse()];
      } catch {
        return [];
      }
    };
    const workPipeline = (data: DocumentData | undefined) =>
      parsedOr(() => parseWorkPipeline(data))[0] ?? parseWorkPipeline(undefined);
    const workCollections = (docs: Iterable<[string, DocumentData]>) =>
      [...docs].flatMap(([id, data]) => {
        const parsed = workCollectionSchema.safeParse(data);
        return parsed.success ? [{ id, ...parsed.data }] : [];
      });
    const own = (collection: string) =>
      writes.flatMap((w): Array<[string, DocumentData]> => {
        const [c, id, ...rest] = w.path.split('/');
        return c === collection && rest.length === 0 ? [[id!, w.data]] : [];
      });
    const stored = {
      providers: providerDocs.docs.flatMap((d) =>
        parsedOr(() => parseDocument(providerSchema, d.ref.path, { id: d.id, ...d.data() })),
      ),
      categories: categoryDocs.docs.flatMap((d) =>
        parsedOr(() => parseDocument(categorySchema, d.ref.path, { id: d.id, ...d.data() })),
      ),
      ...sources,
      ...workPipeline(pipelineDoc.data()),
    };
    const backupOnly = {
      providers: own(CONFIG_PATHS.providers).map(([id, data]) =>
        parseDocument(providerSchema, `providers/${id}`, { id, ...data }),
      ),
      categories: own(CONFIG_PATHS.categories).map(([id, data]) =>
        parseDocument(categorySchema, `categories/${id}`, { id, ...data }),
      ),
      collections: workCollections(own('collections')),
      ...workPipeline(byPath.get(PIPELINE_CONFIG_PATH)?.data),
    };
    const collections = new Map(sources.collections.map((c) => [c.id, c]));
    for (const [id, data] of own('collections')) {
      const [parsed] = workCollections([[id, data]]);
      if (parsed) collections.set(id, parsed);
      else collections.delete(id);
    }
    const after = {
      providers,
      categories,
      collections: [...collections.values()],
      ...workPipeline(pipelineData),
    };
    const options = { laterPhases: true };
    const known = [...workProblems(stored, options), ...workProblems(backupOnly, options)];
    const introduced = introducedProblems(known, workProblems(after, options));
    if (introduced.length > 0) throw shareError(introduced);
  });
  if (issues.length > 0) throw configError(issues);
}

function configError(issues: string[]): BackupError {
  return new BackupError(
    'config',
    `the configuration would not be valid: ${issues.slice(0, 5).join('; ')}`,
    issues,
  );
}

/**
 * Checks a backup for everything a restore could fail on, before anything is written: shape,
 * checksum, every value and path, Firestore's limits (ids, names, field paths, nesting depth,
 * document sizes), only documents a restore writes (never the audit log, quota claims or
 * collected data: core/backup/backup-scope.ts), what the Admin SDK itself would refuse, every
 * configuration document against its schema and the merged configuration against the rules
 * between documents. A BackupError names each document and field; nothing is written.
 */
export async function prepareImport(
  db: Firestore,
  backup: unknown,
  options: PrepareOptions = {},
): Promise<PreparedImport> {
  const verified = verifyBackup(backup);
  const scope: string[] = [];
  for (const path of Object.keys(verified.documents)) {
    const problem = restorablePathProblem(path, { collectedData: options.collectedData ?? false });
    if (problem) scope.push(`${where(path)}: ${problem}`);
  }
  if (scope.length > 0) {
    throw new BackupError(
      'scope',
      `${scope.length} document(s) a restore never writes: ${scope.slice(0, 5).join('; ')}`,
      scope,
    );
  }
  const writes: PreparedWrite[] = [];
  const issues: string[] = [];
  // The Admin SDK validates a write when it is added to a batch (depth, cycles, values): a
  // batch that is never committed finds what it would refuse part way through the restore.
  const probe = db.batch();
  for (const [path, value] of Object.entries(verified.documents)) {
    try {
      const ref = db.doc(path);
      const data = toFirestoreMap(db, value);
      probe.set(ref, data);
      writes.push({ path, ref, data, value, digest: documentChecksum(path, value) });
    } catch (error) {
      issues.push(`${where(path)}: ${(error as Error).message}`);
    }
  }
  if (issues.length > 0) {
    throw new BackupError(
      'shape',
      `${issues.length} invalid document(s): ${issues.slice(0, 5).join('; ')}`,
      issues,
    );
  }
  if (options.checkConfiguration ?? true) await checkConfiguration(db, writes);
  return { verified, writes };
}

export interface PrepareOptions {
  /**
   * Collected data (products, sales, payloads) may be restored too: a page of a scheduled
   * backup (scheduled-restore.ts). Default: configuration and state only.
   */
  collectedData?: boolean;
  /**
   * Checks the configuration the file would leave (default). False only where the caller
   * checked the configuration of every file of the restore together (checkConfiguration):
   * a scheduled backup's pages, whose categories and providers are on different pages.
   */
  checkConfiguration?: boolean;
}

export interface ImportOptions extends PrepareOptions {
  /** Verify and count only; write nothing. */
  dryRun?: boolean;
  /** Writes per batch commit (at most what the Firestore's commits hold). */
  batchSize?: number;
  /** With `weight`, the most a batch's writes may weigh (an audit entry that lists them). */
  batchWeight?: number;
  weight?: (write: PreparedWrite) => number;
  /** Adds to each batch before it commits (its audit entry); the batch holds `writes`. */
  beforeCommit?: (
    batch: WriteBatch,
    writes: readonly PreparedWrite[],
    backup: VerifiedBackup,
  ) => Promise<void> | void;
  /** Hears each batch that committed. */
  onCommitted?: (writes: readonly PreparedWrite[]) => void;
  /** Hears how many documents will be written, once everything was checked. */
  onPrepared?: (documents: number) => void;
  /**
   * Runs once everything was checked, before the first batch (not on a dry run), and answers
   * the writes to make: a scheduled backup's payloads restore their objects here and point
   * their documents at the objects' new generations.
   */
  beforeWrite?: (writes: PreparedWrite[]) => Promise<PreparedWrite[]>;
}

/** What importBackup answers, before its audit entry; and the write batches it took. */
export interface ImportResult extends Omit<ImportBackupResult, 'auditId' | 'auditIds'> {
  batches: number;
}

/** A verified backup whose writing stopped part way; importing it again is safe (sets only). */
export class BackupImportError extends Error {
  constructor(
    readonly written: number,
    readonly total: number,
    options: { cause: unknown },
  ) {
    super(
      `backup import stopped after ${written} of ${total} documents: ${(options.cause as Error)?.message}`,
      options,
    );
    this.name = 'BackupImportError';
  }
}

/**
 * Restores a backup (text, bytes or a parsed object). Everything is checked first
 * (prepareImport); if anything is wrong a BackupError names each document and field and nothing
 * is written. Then every document is set (overwritten) in batch commits; documents not in the
 * backup are left alone. Batches commit one after another, so a failure part way leaves the
 * earlier ones written (BackupImportError says how many); running the import again finishes it.
 */
export async function importBackup(
  db: Firestore,
  backup: unknown,
  options: ImportOptions = {},
): Promise<ImportResult> {
  const prepared = await prepareImport(db, backup, options);
  const { verified } = prepared;
  let { writes } = prepared;
  const capacity = commitCapacity(db) - (options.beforeCommit ? 1 : 0);
  const batchSize = Math.min(capacity, Math.max(1, options.batchSize ?? capacity));
  const result: ImportResult = {
    dryRun: options.dryRun ?? false,
    projectId: verified.projectId,
    createdAt: verified.createdAt,
    checksum: verified.checksum,
    documents: writes.length,
    byCollection: verified.counts,
    written: 0,
    batches: 0,
  };
  if (result.dryRun) return result;
  if (options.beforeWrite) writes = await options.beforeWrite(writes);
  options.onPrepared?.(writes.length);
  const chunks = planBatches(
    writes,
    batchSize,
    options.batchWeight ?? Number.POSITIVE_INFINITY,
    options.weight ?? ((w) => utf8Length(w.path) + 1),
  );
  try {
    for (const chunk of chunks) {
      const batch = db.batch();
      for (const { ref, data } of chunk) batch.set(ref, data);
      await options.beforeCommit?.(batch, chunk, verified);
      // A restore is heavy work: it slows near Firestore's quota (adapters/storage/self-quota-runtime.ts).
      await paceFirestoreWork(db, 'backup');
      await batch.commit();
      result.written += chunk.length;
      result.batches++;
      options.onCommitted?.(chunk);
    }
  } catch (error) {
    throw new BackupImportError(result.written, writes.length, { cause: error });
  }
  logger.info(
    { documents: result.written, from: result.projectId, createdAt: result.createdAt },
    'backup imported',
  );
  return result;
}
