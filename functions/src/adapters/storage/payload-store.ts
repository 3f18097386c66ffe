import {
  AggregateField,
  type DocumentReference,
  type DocumentSnapshot,
  type Firestore,
  Timestamp,
} from 'firebase-admin/firestore';
import { getStorage, type Storage } from 'firebase-admin/storage';
import { mapLimit } from '../../core/map-limit';
import { assertWithinLimits } from '../../core/storage/firestore-limits';
import {
  assertPayloadId,
  contentTypeProblem,
  DEFAULT_PAYLOAD_CONFIG,
  expiredBeforeMs,
  isExpired,
  type LocationStats,
  objectName,
  PAYLOADS_COLLECTION,
  type PayloadConfig,
  type PayloadLocation,
  type PayloadMetadata,
  type PayloadStats,
  payloadBucketName,
  payloadOfObject,
  routePayload,
  withTotal,
} from '../../core/storage/payloads';
import { logger } from '../../log';
import { db, projectId } from '../firebase';

/**
 * Payloads in Firestore and Cloud Storage. Every payload has a metadata document
 * `payloads/{id}`:
 *
 *   { location: 'inline' | 'storage', bytes, contentType, createdAt, temporary,
 *     temporaryCreatedAt? (temporary ones only), data? (inline), object?, generation? (storage) }
 *
 * Invariant: no metadata document points at a missing object. Objects are written before
 * their document and deleted after it; a document is only ever created, never updated.
 *
 * Stats are computed with aggregation queries (`count()`, `sum('bytes')` per location) rather
 * than kept as running totals: no hot counter document, and they stay right whatever removes
 * a document (clean-up, an operator in the console).
 */

export type Bucket = ReturnType<Storage['bucket']>;
type StorageFile = ReturnType<Bucket['file']>;

export interface PutOptions {
  contentType: string;
  /** Temporary payloads are removed by the clean-up once older than its threshold. */
  temporary?: boolean;
}

/** The payload's metadata; `created` is false when the id was already stored (nothing written). */
export type PutResult = PayloadMetadata & { created: boolean };
export type StoredPayload = PayloadMetadata & { data: Buffer };

export interface CleanupResult {
  /** Temporary objects deleted from Cloud Storage. */
  objects: number;
  /** Metadata documents deleted (inline temporaries and those of the deleted objects). */
  documents: number;
}

export interface PayloadStoreOptions {
  config?: PayloadConfig;
  /** Clock for `createdAt`; the clean-up takes its "now" as an argument. */
  now?: () => number;
}

/** The metadata says the payload is in Cloud Storage but the object is not there. */
export class PayloadMissingError extends Error {
  constructor(
    readonly id: string,
    readonly object: string,
  ) {
    super(`payload ${id}: object ${object} is missing`);
    this.name = 'PayloadMissingError';
  }
}

/** Above this size uploads are resumable (a session plus chunks), below one multipart request. */
const RESUMABLE_FROM_BYTES = 8 * 1024 * 1024;
/** Deletes run this many at a time during the clean-up. */
const CLEANUP_CONCURRENCY = 32;
const CLEANUP_PAGE = 500;
const LOCATIONS: readonly PayloadLocation[] = ['inline', 'storage'];

const GRPC_NOT_FOUND = 5;
const GRPC_ALREADY_EXISTS = 6;
const GRPC_FAILED_PRECONDITION = 9;

export class PayloadStore {
  readonly config: PayloadConfig;
  private readonly now: () => number;

  constructor(
    private readonly firestore: Firestore,
    readonly bucket: Bucket,
    options: PayloadStoreOptions = {},
  ) {
    this.config = options.config ?? DEFAULT_PAYLOAD_CONFIG;
    this.now = options.now ?? Date.now;
  }

  private doc(id: string): DocumentReference {
    assertPayloadId(id);
    return this.firestore.collection(PAYLOADS_COLLECTION).doc(id);
  }

  /**
   * Stores a payload once: a second put with the same id writes nothing and returns what is
   * stored (first writer wins). Small payloads go inline, large ones to Cloud Storage first
   * (`ifGenerationMatch: 0`) and then their metadata document (`create()`).
   */
  async put(id: string, payload: Uint8Array | string, options: PutOptions): Promise<PutResult> {
    const ref = this.doc(id);
    const problem = contentTypeProblem(options.contentType);
    if (problem) throw new Error(`payload ${id}: ${problem}`);
    const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
    const temporary = options.temporary ?? false;
    const createdAt = Timestamp.fromMillis(this.now());
    const common = {
      bytes: data.length,
      contentType: options.contentType,
      createdAt,
      temporary,
      ...(temporary ? { temporaryCreatedAt: createdAt } : {}),
    };

    if (routePayload(data.length, this.config) === 'inline') {
      return this.createDocument(ref, { location: 'inline', ...common, data });
    }

    // A redelivered put should not upload megabytes only to find the payload stored.
    const existing = await ref.get();
    if (existing.exists) return { ...metadataOf(existing), created: false };

    const name = objectName(id, temporary, this.config);
    const file = this.bucket.file(name);
    let ours = true;
    try {
      await file.save(data, {
        contentType: options.contentType,
        resumable: data.length >= RESUMABLE_FROM_BYTES,
        metadata: { metadata: { payloadId: id } },
        // Create-if-absent; also makes the client's own retries safe.
        preconditionOpts: { ifGenerationMatch: 0 },
      });
    } catch (error) {
      if (httpStatus(error) !== 412) throw error;
      // The object exists: an earlier attempt got this far (or a concurrent put did). Its
      // metadata document is written below from the object as stored.
      ours = false;
      await file.getMetadata();
    }
    const stored = file.metadata;
    const generation = String(stored.generation);
    let result: PutResult;
    try {
      result = await this.createDocument(ref, {
        location: 'storage',
        ...common,
        bytes: Number(stored.size ?? data.length),
        contentType: stored.contentType ?? options.contentType,
        object: name,
        generation,
      });
    } catch (error) {
      if (ours) await this.rollBackObject(ref, file, generation);
      throw error;
    }
    // Lost a race to a put of the same id stored elsewhere (inline, or the other prefix).
    if (ours && result.object !== name) await this.rollBackObject(ref, file, generation);
    return result;
  }

  /** create(); ALREADY_EXISTS means the payload is stored, and what is stored wins. */
  private async createDocument(
    ref: DocumentReference,
    fields: Record<string, unknown>,
  ): Promise<PutResult> {
    // The id and content type are bounded and inline data is under MAX_INLINE_BYTES, so this
    // holds; checked anyway, so a change to any of them fails here, naming the payload.
    assertWithinLimits(ref.path, fields);
    try {
      await ref.create(fields);
    } catch (error) {
      if (grpcCode(error) !== GRPC_ALREADY_EXISTS) throw error;
      const existing = await ref.get();
      if (!existing.exists) throw error; // deleted in between; let the caller retry
      return { ...metadataOf(existing), created: false };
    }
    const { data: _inline, ...rest } = fields;
    return { ...metadataFromFields(ref.id, rest), created: true };
  }

  /**
   * After a failed metadata write, deletes the object this put just created, unless the
   * document did get written (a timeout after commit) and points at it. When that cannot be
   * told (Firestore unreachable) the object is left: an orphan costs bytes, a document
   * pointing at a deleted object loses the payload. Orphans under the temporary prefix go
   * with the next clean-up; others stay until removed by hand (they are logged).
   */
  private async rollBackObject(ref: DocumentReference, file: StorageFile, generation: string) {
    try {
      const snapshot = await ref.get();
      if (snapshot.exists && snapshot.get('object') === file.name) return;
    } catch (error) {
      logger.error({ err: error, object: file.name }, 'payload metadata unknown; object left');
      return;
    }
    try {
      await file.delete({ ifGenerationMatch: generation });
    } catch (error) {
      if (httpStatus(error) === 404 || httpStatus(error) === 412) return;
      logger.error({ err: error, object: file.name }, 'orphaned payload object left behind');
    }
  }

  /** The payload's metadata, or undefined when none is stored. */
  async metadata(id: string): Promise<PayloadMetadata | undefined> {
    const snapshot = await this.doc(id).get();
    return snapshot.exists ? metadataOf(snapshot) : undefined;
  }

  /** The payload and its metadata, or undefined when none is stored. */
  async get(id: string): Promise<StoredPayload | undefined> {
    const snapshot = await this.doc(id).get();
    if (!snapshot.exists) return undefined;
    const metadata = metadataOf(snapshot);
    if (metadata.location === 'inline') {
      const data = snapshot.get('data') as Buffer | Uint8Array;
      return { ...metadata, data: Buffer.from(data) };
    }
    const object = metadata.object!;
    try {
      const [data] = await this.bucket
        .file(object, metadata.generation ? { generation: metadata.generation } : {})
        .download();
      return { ...metadata, data };
    } catch (error) {
      if (httpStatus(error) === 404) throw new PayloadMissingError(id, object);
      throw error;
    }
  }

  /** Deletes the document, then the object; false when nothing was stored. */
  async delete(id: string): Promise<boolean> {
    const ref = this.doc(id);
    const snapshot = await ref.get();
    if (!snapshot.exists) return false;
    return this.deleteStored(snapshot);
  }

  /**
   * Deletes a document (only if unchanged since `snapshot`), then its object if any. The order
   * keeps the invariant: at worst an object outlives its document.
   */
  private async deleteStored(snapshot: DocumentSnapshot): Promise<boolean> {
    try {
      await snapshot.ref.delete({ lastUpdateTime: snapshot.updateTime! });
    } catch (error) {
      if (grpcCode(error) === GRPC_NOT_FOUND) return false;
      throw error; // FAILED_PRECONDITION: replaced in between; the caller may retry
    }
    const metadata = metadataOf(snapshot);
    if (metadata.location === 'storage' && metadata.object) {
      await this.deleteObject(this.bucket.file(metadata.object), metadata.generation);
    }
    return true;
  }

  private async deleteObject(file: StorageFile, generation?: string | number): Promise<boolean> {
    try {
      await file.delete(generation === undefined ? {} : { ifGenerationMatch: generation });
      return true;
    } catch (error) {
      // Gone already, or replaced by a newer generation that is not ours to delete.
      if (httpStatus(error) === 404 || httpStatus(error) === 412) return false;
      throw error;
    }
  }

  /**
   * Removes temporary payloads created more than `olderThanMs` before `now`:
   * 1. objects listed under the temporary prefix, by their `timeCreated`, with the metadata
   *    document that points at each (orphans without one go too);
   * 2. temporary metadata documents by their `temporaryCreatedAt` (inline temporaries, and
   *    any whose object vanished).
   * The clock is the caller's: the object times are the server's.
   */
  async cleanupTemporary(
    now: number | Date,
    olderThanMs = this.config.temporaryMaxAgeMs,
  ): Promise<CleanupResult> {
    const nowMs = typeof now === 'number' ? now : now.getTime();
    const result: CleanupResult = { objects: 0, documents: 0 };

    let pageToken: string | undefined;
    do {
      const [files, next] = await this.bucket.getFiles({
        prefix: this.config.temporaryPrefix,
        autoPaginate: false,
        maxResults: CLEANUP_PAGE,
        ...(pageToken ? { pageToken } : {}),
      });
      const expired = files.filter((file) => {
        const created = Date.parse(file.metadata.timeCreated ?? '');
        return Number.isFinite(created) && isExpired(created, nowMs, olderThanMs);
      });
      await mapLimit(expired, CLEANUP_CONCURRENCY, (file) =>
        this.removeTemporaryObject(file, result),
      );
      pageToken = (next as { pageToken?: string } | null)?.pageToken;
    } while (pageToken);

    const before = Timestamp.fromMillis(expiredBeforeMs(nowMs, olderThanMs));
    let query = this.firestore
      .collection(PAYLOADS_COLLECTION)
      .where('temporaryCreatedAt', '<', before)
      .orderBy('temporaryCreatedAt')
      .limit(CLEANUP_PAGE);
    for (;;) {
      const page = await query.get();
      await mapLimit(page.docs, CLEANUP_CONCURRENCY, async (snapshot) => {
        if (await this.deleteStored(snapshot).catch(skipChanged)) result.documents++;
      });
      if (page.size < CLEANUP_PAGE) break;
      query = query.startAfter(page.docs.at(-1)!);
    }
    return result;
  }

  private async removeTemporaryObject(file: StorageFile, result: CleanupResult): Promise<void> {
    const owner = payloadOfObject(file.name, this.config);
    if (owner?.temporary) {
      const snapshot = await this.doc(owner.id).get();
      if (snapshot.exists && snapshot.get('object') === file.name) {
        try {
          await snapshot.ref.delete({ lastUpdateTime: snapshot.updateTime! });
          result.documents++;
        } catch (error) {
          if (grpcCode(error) === GRPC_FAILED_PRECONDITION) return; // replaced: not expired
          if (grpcCode(error) !== GRPC_NOT_FOUND) throw error;
        }
      }
    }
    if (await this.deleteObject(file, file.metadata.generation)) result.objects++;
  }

  /** Counts and bytes by location, from aggregation queries over `payloads`. */
  async stats(): Promise<PayloadStats> {
    const collection = this.firestore.collection(PAYLOADS_COLLECTION);
    const rows = await Promise.all(
      LOCATIONS.map(async (location): Promise<[PayloadLocation, LocationStats]> => {
        const snapshot = await collection
          .where('location', '==', location)
          .aggregate({ count: AggregateField.count(), bytes: AggregateField.sum('bytes') })
          .get();
        const { count, bytes } = snapshot.data();
        return [location, { count, bytes: bytes ?? 0 }];
      }),
    );
    return withTotal(Object.fromEntries(rows) as Record<PayloadLocation, LocationStats>);
  }
}

/** The instance's payload store: the default app's Firestore and the configured bucket. */
export function payloadStore(options: PayloadStoreOptions = {}): PayloadStore {
  const firestore = db();
  const storage = getStorage();
  const bucket = storage.bucket(
    payloadBucketName({
      configured: process.env.TOLLGATE_PAYLOAD_BUCKET,
      appDefault: storage.app.options.storageBucket,
      project: projectId(),
    }),
  );
  return new PayloadStore(firestore, bucket, options);
}

function metadataOf(snapshot: DocumentSnapshot): PayloadMetadata {
  return metadataFromFields(snapshot.id, snapshot.data() ?? {});
}

function metadataFromFields(id: string, d: Record<string, unknown>): PayloadMetadata {
  if (d.location !== 'inline' && d.location !== 'storage') {
    throw new Error(`payloads/${id}: unknown location ${JSON.stringify(d.location)}`);
  }
  return {
    id,
    location: d.location,
    bytes: d.bytes as number,
    contentType: d.contentType as string,
    createdAtMs: (d.createdAt as Timestamp).toMillis(),
    temporary: d.temporary === true,
    ...(typeof d.object === 'string' ? { object: d.object } : {}),
    ...(typeof d.generation === 'string' ? { generation: d.generation } : {}),
  };
}

/** A clean-up skips a document that changed since it was read. */
function skipChanged(error: unknown): false {
  if (grpcCode(error) === GRPC_FAILED_PRECONDITION) return false;
  throw error;
}

function grpcCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** The HTTP status of a Cloud Storage error (JSON API or resumable upload path). */
function httpStatus(error: unknown): number | undefined {
  const e = error as { code?: unknown; status?: unknown; response?: { status?: unknown } };
  for (const v of [e?.code, e?.status, e?.response?.status]) if (typeof v === 'number') return v;
  return undefined;
}
