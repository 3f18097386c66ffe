import { type Checksums, checksums } from './checksums.ts';
import { badRequest, conflict, noSuchBucket, noSuchObject, required } from './errors.ts';
import { applyFieldsPatch, type FieldsPatch, type ObjectFields } from './fields.ts';
import { checkPreconditions, type Preconditions } from './preconditions.ts';

// Buckets and live objects in memory. Only the newest generation of an object is kept
// (no versioning); every mutation is synchronous, so concurrent create-if-absent uploads
// race exactly as on GCS: one wins, the rest get 412.

export interface StoredObject extends ObjectFields, Checksums {
  bucket: string;
  name: string;
  generation: number;
  metageneration: number;
  data: Buffer;
  timeCreated: Date;
  updated: Date;
}

export interface StoredBucket {
  name: string;
  metageneration: number;
  timeCreated: Date;
  updated: Date;
  /** Writable bucket fields as the client sent them (labels, location, lifecycle...). */
  fields: Record<string, unknown>;
  objects: Map<string, StoredObject>;
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/;

export class Store {
  private readonly buckets = new Map<string, StoredBucket>();
  private lastGeneration = 0;

  constructor(private readonly now: () => Date = () => new Date()) {}

  /** Generations are microsecond timestamps on GCS; keep that shape but never repeat one. */
  private nextGeneration(): number {
    this.lastGeneration = Math.max(this.now().getTime() * 1000, this.lastGeneration + 1);
    return this.lastGeneration;
  }

  listBuckets(): StoredBucket[] {
    return [...this.buckets.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  getBucket(name: string): StoredBucket {
    const bucket = this.buckets.get(name);
    if (!bucket) throw noSuchBucket();
    return bucket;
  }

  createBucket(name: string, fields: Record<string, unknown> = {}): StoredBucket {
    if (!BUCKET_NAME.test(name)) throw badRequest(`Invalid bucket name: '${name}'`);
    if (this.buckets.has(name)) {
      throw conflict(
        'Your previous request to create the named bucket succeeded and you already own it.',
      );
    }
    const now = this.now();
    const bucket: StoredBucket = {
      name,
      metageneration: 1,
      timeCreated: now,
      updated: now,
      fields,
      objects: new Map(),
    };
    this.buckets.set(name, bucket);
    return bucket;
  }

  /** Uploads create their bucket on first use, so a fresh local stack needs no set-up. */
  ensureBucket(name: string): StoredBucket {
    return this.buckets.get(name) ?? this.createBucket(name);
  }

  patchBucket(name: string, fields: Record<string, unknown>): StoredBucket {
    const bucket = this.getBucket(name);
    bucket.fields = { ...bucket.fields, ...fields };
    bucket.metageneration++;
    bucket.updated = this.now();
    return bucket;
  }

  deleteBucket(name: string): void {
    const bucket = this.getBucket(name);
    if (bucket.objects.size > 0) throw conflict('The bucket you tried to delete is not empty.');
    this.buckets.delete(name);
  }

  /** Objects of a bucket in no particular order; an unknown bucket simply has none. */
  objects(bucket: string): Iterable<StoredObject> {
    return this.buckets.get(bucket)?.objects.values() ?? [];
  }

  findObject(bucket: string, name: string): StoredObject | undefined {
    return this.buckets.get(bucket)?.objects.get(name);
  }

  getObject(
    bucket: string,
    name: string,
    p: Preconditions = {},
    opts: { generation?: number; read?: boolean } = {},
  ): StoredObject {
    const obj = this.findObject(bucket, name);
    if (!obj || (opts.generation !== undefined && opts.generation !== obj.generation)) {
      throw noSuchObject(bucket, name);
    }
    checkPreconditions(obj, p, opts.read ?? true);
    return obj;
  }

  insertObject(
    bucket: string,
    name: string,
    data: Buffer,
    fields: ObjectFields,
    p: Preconditions = {},
    expected: Partial<Checksums> = {},
  ): StoredObject {
    validateObjectName(name);
    const sums = checksums(data);
    verifyChecksum('CRC32C', expected.crc32c, sums.crc32c);
    verifyChecksum('MD5', expected.md5Hash, sums.md5Hash);
    // Check before creating the bucket so a rejected upload leaves no trace.
    checkPreconditions(this.findObject(bucket, name), p);
    const now = this.now();
    const obj: StoredObject = {
      ...fields,
      contentType: fields.contentType || 'application/octet-stream',
      ...sums,
      bucket,
      name,
      generation: this.nextGeneration(),
      metageneration: 1,
      data,
      timeCreated: now,
      updated: now,
    };
    this.ensureBucket(bucket).objects.set(name, obj);
    return obj;
  }

  patchObject(
    bucket: string,
    name: string,
    patch: FieldsPatch,
    p: Preconditions = {},
    replace = false,
  ): StoredObject {
    const current = this.getObject(bucket, name, p, { read: false });
    const fields = applyFieldsPatch(current, patch, replace);
    const next: StoredObject = {
      ...pickStored(current),
      ...fields,
      contentType: fields.contentType || 'application/octet-stream',
      metageneration: current.metageneration + 1,
      updated: this.now(),
    };
    this.getBucket(bucket).objects.set(name, next);
    return next;
  }

  deleteObject(bucket: string, name: string, p: Preconditions = {}): void {
    this.getObject(bucket, name, p, { read: false });
    this.getBucket(bucket).objects.delete(name);
  }
}

/** The non-writable part of an object, which a metadata patch must carry over unchanged. */
function pickStored(o: StoredObject) {
  const { bucket, name, generation, metageneration, data, timeCreated, updated, crc32c, md5Hash } =
    o;
  return { bucket, name, generation, metageneration, data, timeCreated, updated, crc32c, md5Hash };
}

function validateObjectName(name: string): void {
  if (!name) throw required('name');
  if (Buffer.byteLength(name) > 1024 || /[\r\n]/.test(name) || name === '.' || name === '..') {
    throw badRequest(`Invalid object name: '${name}'`);
  }
}

function verifyChecksum(kind: string, provided: string | undefined, actual: string): void {
  if (provided !== undefined && provided !== actual) {
    throw badRequest(
      `Provided ${kind} "${provided}" doesn't match calculated ${kind} "${actual}".`,
    );
  }
}
