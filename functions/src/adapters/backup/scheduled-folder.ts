import { createHash } from 'node:crypto';
import { BackupError } from '../../core/backup/backup-file';
import { MANIFEST_NAME, projectBackupsFolder } from '../../core/backup/scheduled-layout';
import { type ScheduledManifest, verifyManifest } from '../../core/backup/scheduled-manifest';
import { type BackupStorage, httpStatus } from './backup-storage';

/**
 * A scheduled backup's folder in Cloud Storage and what the modules that write, list and
 * restore it share: the folder's name, its manifest (read and verified), SHA-256 of objects and
 * the limits on copying payload objects.
 */

/** Payload objects copied or checked at once. */
export const OBJECT_CONCURRENCY = 8;
/** Above this size object copies are resumable uploads. */
export const RESUMABLE_FROM_BYTES = 8 * 1024 * 1024;

/** The folder of `projectId`'s backup `id`: `{prefix}scheduled/{projectId}/{id}/`. */
export function scheduledFolder(storage: BackupStorage, projectId: string, id: string): string {
  return `${projectBackupsFolder(storage.prefix, projectId)}${id}/`;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A backup's manifest, verified to be of `projectId`'s backup `id`; undefined when missing. */
export async function readManifest(
  storage: BackupStorage,
  projectId: string,
  id: string,
): Promise<ScheduledManifest | undefined> {
  let bytes: Buffer;
  try {
    [bytes] = await storage.bucket
      .file(`${scheduledFolder(storage, projectId, id)}${MANIFEST_NAME}`)
      .download();
  } catch (error) {
    if (httpStatus(error) === 404) return undefined;
    throw error;
  }
  const manifest = verifyManifest(bytes, id);
  if (manifest.projectId !== projectId) {
    throw new BackupError(
      'shape',
      `the manifest is of project ${manifest.projectId}, in ${projectId}'s folder`,
    );
  }
  return manifest;
}
