// The payload objects of a scheduled backup: copied into its folder (streamed, digested), and the
// payload documents left out whose object is missing or not their own.
import { pipeline } from 'node:stream/promises';
import { objectCopyName } from '../../core/backup/scheduled-layout';
import { type ObjectEntry, payloadDocumentProblem } from '../../core/backup/scheduled-objects';
import { mapLimit } from '../../core/map-limit';
import { logger } from '../../log';
import { type BackupStorage, deleteQuietly, httpStatus } from './backup-storage';
import { digestStream } from './digest-stream';
import { OBJECT_CONCURRENCY, RESUMABLE_FROM_BYTES } from './scheduled-folder';
import type { ReadDocument } from './scheduled-page-reads';

/**
 * Copies a page's payload objects into the backup (streamed, with their SHA-256), and answers
 * the documents to keep: a payload whose object is gone, or whose document names an object that
 * is not its own, is left out (a restore would refuse it), and so is one in Cloud Storage when no
 * payload bucket is known.
 */
export async function copyPayloadObjects(
  storage: BackupStorage,
  folder: string,
  docs: readonly ReadDocument[],
): Promise<{ kept: ReadDocument[]; objects: ObjectEntry[]; skipped: number }> {
  const results = await mapLimit([...docs], OBJECT_CONCURRENCY, async (doc) => {
    const id = doc.path.split('/')[1]!;
    const problem = payloadDocumentProblem(id, doc.data);
    if (problem) {
      logger.warn({ path: doc.path, problem }, 'payload left out of the backup');
      return undefined;
    }
    if (doc.data.location !== 'storage') return { doc };
    if (!storage.payloads) {
      logger.warn({ path: doc.path }, 'no payload bucket: payload left out of the backup');
      return undefined;
    }
    const object = doc.data.object as string;
    const generation = typeof doc.data.generation === 'string' ? doc.data.generation : undefined;
    const source = storage.payloads.file(object, generation ? { generation } : {});
    const measure = digestStream();
    const contentType = typeof doc.data.contentType === 'string' ? doc.data.contentType : undefined;
    const target = storage.bucket.file(`${folder}${objectCopyName(id)}`);
    try {
      await pipeline(
        source.createReadStream(),
        measure.stream,
        target.createWriteStream({
          resumable: typeof doc.data.bytes === 'number' && doc.data.bytes >= RESUMABLE_FROM_BYTES,
          ...(contentType ? { contentType } : {}),
          preconditionOpts: { ifGenerationMatch: 0 },
        }),
      );
    } catch (error) {
      if (httpStatus(error) !== 404) throw error;
      logger.warn({ path: doc.path, object }, 'payload object missing: left out of the backup');
      await deleteQuietly(target);
      return undefined;
    }
    const entry: ObjectEntry = {
      payload: id,
      object,
      ...measure.digest(),
      ...(contentType ? { contentType } : {}),
    };
    return { doc, entry };
  });
  const kept: ReadDocument[] = [];
  const objects: ObjectEntry[] = [];
  for (const r of results) {
    if (!r) continue;
    kept.push(r.doc);
    if (r.entry) objects.push(r.entry);
  }
  return { kept, objects, skipped: docs.length - kept.length };
}
