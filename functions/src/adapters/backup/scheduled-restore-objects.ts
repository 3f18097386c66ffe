import { documentChecksum } from '../../core/backup/backup-create';
import type { BackupMap } from '../../core/backup/backup-value-model';
import { objectCopyName } from '../../core/backup/scheduled-layout';
import type { ObjectEntry } from '../../core/backup/scheduled-objects';
import { mapLimit } from '../../core/map-limit';
import { logger } from '../../log';
import { type BackupStorage, httpStatus } from './backup-storage';
import type { PreparedWrite } from './backup-values';
import { OBJECT_CONCURRENCY } from './scheduled-folder';
import { streamChecked } from './scheduled-restore-checks';

/**
 * A scheduled restore's payload objects: copied back from the backup into the payload bucket
 * before their documents are written, never over a live object with other content.
 */

/**
 * Restores a page's payload objects (before their documents: no document may point at a missing
 * object) and points each document at its object's generation. A restore never overwrites a
 * live object: a missing one is created (if-absent, `ifGenerationMatch: 0`); one stored with the
 * same content (MD5 and size, as Cloud Storage computed them) is kept; one with other content
 * is a conflict: that payload's document is not written either (`conflicts` hears it), so a
 * live payload keeps its object and its document, and a commit that fails later leaves no live
 * document pointing at a replaced generation.
 */
export function restorePayloadObjects(
  storage: BackupStorage,
  folder: string,
  byPayload: ReadonlyMap<string, ObjectEntry>,
  conflicts: Array<{ payload: string; object: string }>,
): (writes: PreparedWrite[]) => Promise<PreparedWrite[]> {
  return async (writes) => {
    const restored = await mapLimit(writes, OBJECT_CONCURRENCY, async (w) => {
      if (w.value.location !== 'storage') return w;
      const entry = byPayload.get(w.path.split('/')[1]!)!;
      const payloads = storage.payloads!;
      const target = payloads.file(entry.object);
      const [copy] = await storage.bucket
        .file(`${folder}${objectCopyName(entry.payload)}`)
        .getMetadata();
      /** The live object's generation when it holds the copy's content; null: other content. */
      const live = async (): Promise<string | null | undefined> => {
        try {
          const [stored] = await target.getMetadata();
          const same =
            stored.md5Hash !== undefined &&
            stored.md5Hash === copy.md5Hash &&
            Number(stored.size) === entry.bytes;
          return same ? String(stored.generation) : null;
        } catch (error) {
          if (httpStatus(error) === 404) return undefined;
          throw error;
        }
      };
      let generation = await live();
      if (generation === undefined) {
        try {
          await streamChecked(storage, folder, entry, target, { ifGenerationMatch: 0 });
          generation = String(target.metadata.generation);
        } catch (error) {
          // Created by someone else in between: kept if it is the same.
          if (httpStatus(error) !== 412) throw error;
          generation = (await live()) ?? null;
        }
      }
      if (generation === null) {
        logger.warn(
          { payload: entry.payload, object: entry.object },
          'payload not restored: its object exists with other content',
        );
        conflicts.push({ payload: entry.payload, object: entry.object });
        return undefined;
      }
      const value: BackupMap = { ...w.value, generation };
      return {
        ...w,
        data: { ...w.data, generation },
        value,
        digest: documentChecksum(w.path, value),
      };
    });
    return restored.filter((w): w is PreparedWrite => w !== undefined);
  };
}
