import {
  AggregateField,
  type DocumentReference,
  type Firestore,
  Timestamp,
} from 'firebase-admin/firestore';
import { getStorage } from 'firebase-admin/storage';
import { assertWithinLimits } from '../../core/storage/firestore-limits';
import {
  contentTypeProblem,
  DEFAULT_PAYLOAD_CONFIG,
  type LocationStats,
  objectName,
  PAYLOADS_COLLECTION,
  type PayloadConfig,
  type PayloadLocation,
  type PayloadMetadata,
  type PayloadStats,
  payloadBucketName,
  routePayload,
  withTotal,
} from '../../core/storage/payloads';
import { db, projectId } from '../firebase';
import { cleanupTemporaryPayloads } from './payload-cleanup';
import {
  GRPC_ALREADY_EXISTS,
  grpcCode,
  httpStatus,
  metadataFromFields,
  metadataOf,
  payloadDocument,
} from './payload-metadata';
import { deleteStored, rollBackObject } from './payload-objects';
import {
  type Bucket,
  type CleanupResult,
  PayloadMissingError,
  type PayloadStoreOptions,
  type PutOptions,
  type PutResult,
  type StoredPayload,
} from './payload-store-types';

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

/** Above this size uploads are resumable (a session plus chunks), below one multipart request. */
const RESUMABLE_FROM_BYTES = 8 * 1024 * 1024;
const LOCATIONS: readonly PayloadLocation[] = ['inline', 'storage'];

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
    return payloadDocument(this.firestore, id);
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
      if (ours) await rollBackObject(ref, file, generation);
      throw error;
    }
    // Lost a race to a put of the same id stored elsewhere (inline, or the other prefix).
    if (ours && result.object !== name) await rollBackObject(ref, file, generation);
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
    return deleteStored(snapshot, this.bucket);
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
    return cleanupTemporaryPayloads(this.firestore, this.bucket, this.config, nowMs, olderThanMs);
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

// The store's types, its metadata document and error codes, its deletes and its clean-up live
// in payload-store-types.ts, payload-metadata.ts, payload-objects.ts and payload-cleanup.ts.
