import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BackupError, topLevelCollection } from '../../core/backup/backup-file';
import { objectCopyName } from '../../core/backup/scheduled-layout';
import type { ManifestPage, ScheduledManifest } from '../../core/backup/scheduled-manifest';
import {
  type ObjectEntry,
  parseObjects,
  payloadDocumentProblem,
} from '../../core/backup/scheduled-objects';
import { mapLimit } from '../../core/map-limit';
import { PAYLOADS_COLLECTION } from '../../core/storage/payloads';
import type { Bucket } from '../storage/payload-store-types';
import type { prepareImport } from './backup-import';
import { type BackupStorage, httpStatus } from './backup-storage';
import { digestStream } from './digest-stream';
import { OBJECT_CONCURRENCY, RESUMABLE_FROM_BYTES, sha256 } from './scheduled-folder';

/**
 * What a scheduled restore checks before it uses the backup's objects: each object against its
 * size and SHA-256 in the manifest (or the objects list), each page against its manifest entry
 * and, for payloads, against its objects list.
 */

/**
 * An object of the backup, checked against the manifest before it is used: missing is an
 * incomplete backup, shorter is truncated, any other difference a checksum mismatch. Read at
 * the generation whose size was checked, so what is read is what was measured.
 */
export async function readChecked(
  bucket: Bucket,
  name: string,
  expected: { bytes: number; sha256: string },
): Promise<Buffer> {
  const file = bucket.file(name);
  let size: number;
  let generation: string;
  try {
    const [metadata] = await file.getMetadata();
    size = Number(metadata.size);
    generation = String(metadata.generation);
  } catch (error) {
    if (httpStatus(error) === 404) {
      throw new BackupError('incomplete', `${name} is missing from the backup`);
    }
    throw error;
  }
  if (size < expected.bytes) {
    throw new BackupError('truncated', `${name} holds ${size} of ${expected.bytes} bytes`);
  }
  if (size !== expected.bytes) {
    throw new BackupError('checksum', `${name} holds ${size} bytes, not ${expected.bytes}`);
  }
  const [bytes] = await bucket.file(name, { generation }).download();
  if (bytes.length !== expected.bytes || sha256(bytes) !== expected.sha256) {
    throw new BackupError('checksum', `${name} does not match its SHA-256 in the manifest`);
  }
  return bytes;
}

/** A copied payload object, streamed through its SHA-256 (and into `into`, when given). */
export async function streamChecked(
  storage: BackupStorage,
  folder: string,
  entry: ObjectEntry,
  into?: ReturnType<Bucket['file']>,
  preconditionOpts?: { ifGenerationMatch: number },
): Promise<void> {
  const name = `${folder}${objectCopyName(entry.payload)}`;
  const check = digestStream(({ bytes, sha256 }) =>
    bytes === entry.bytes && sha256 === entry.sha256
      ? null
      : new BackupError(
          bytes < entry.bytes ? 'truncated' : 'checksum',
          `${name} does not match its SHA-256 in the objects list`,
        ),
  ).stream;
  const sink =
    into?.createWriteStream({
      resumable: entry.bytes >= RESUMABLE_FROM_BYTES,
      ...(entry.contentType ? { contentType: entry.contentType } : {}),
      metadata: { metadata: { payloadId: entry.payload } },
      ...(preconditionOpts ? { preconditionOpts } : {}),
    }) ??
    new Writable({
      write(_chunk, _encoding, done) {
        done();
      },
    });
  try {
    await pipeline(storage.bucket.file(name).createReadStream(), check, sink);
  } catch (error) {
    if (httpStatus(error) === 404) {
      throw new BackupError('incomplete', `${name} is missing from the backup`);
    }
    throw error;
  }
}

function pageError(page: ManifestPage, message: string, issues: string[] = []): BackupError {
  return new BackupError('shape', `${page.name}: ${message}`, issues);
}

/**
 * A page checked against its manifest entry (checksum, project, time, collection, count) and,
 * for payloads, its documents against the objects list; the object entries answered.
 */
export async function checkPage(
  storage: BackupStorage,
  manifest: ScheduledManifest,
  folder: string,
  page: ManifestPage,
  prepared: Awaited<ReturnType<typeof prepareImport>>,
  verifyObjects: boolean,
): Promise<Map<string, ObjectEntry>> {
  const { verified, writes } = prepared;
  if (verified.checksum !== page.checksum) throw pageError(page, 'not the page the manifest lists');
  if (verified.projectId !== manifest.projectId || verified.createdAt !== manifest.createdAt) {
    throw pageError(page, 'of another backup');
  }
  if (writes.length !== page.documents) {
    throw pageError(page, `${writes.length} documents, the manifest says ${page.documents}`);
  }
  const outside = writes.filter((w) => topLevelCollection(w.path) !== page.collection);
  if (outside.length > 0) {
    throw pageError(page, `documents outside ${page.collection}: ${outside[0]!.path}`);
  }
  const entries = page.objects
    ? parseObjects(await readChecked(storage.bucket, `${folder}${page.objects.name}`, page.objects))
    : [];
  const byPayload = new Map(entries.map((e) => [e.payload, e]));
  if (page.collection !== PAYLOADS_COLLECTION) return byPayload;
  const issues: string[] = [];
  const inStorage = new Set<string>();
  for (const w of writes) {
    const id = w.path.split('/')[1]!;
    const problem = payloadDocumentProblem(id, w.value);
    if (problem) issues.push(`${w.path}: ${problem}`);
    else if (w.value.location === 'storage') {
      inStorage.add(id);
      if (byPayload.get(id)?.object !== w.value.object) {
        issues.push(`${w.path}: its object is not in the backup`);
      }
    }
  }
  if (byPayload.size !== entries.length || entries.some((e) => !inStorage.has(e.payload))) {
    issues.push('the objects list names objects of no payload on the page');
  }
  if (issues.length > 0) throw pageError(page, issues.slice(0, 5).join('; '), issues);
  if (inStorage.size > 0 && !storage.payloads) {
    throw new Error(
      'no payload bucket is configured: payloads in Cloud Storage cannot be restored',
    );
  }
  if (verifyObjects) {
    await mapLimit(entries, OBJECT_CONCURRENCY, (e) => streamChecked(storage, folder, e));
  }
  return byPayload;
}
