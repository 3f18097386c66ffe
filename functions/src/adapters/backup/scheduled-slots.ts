import {
  ABANDONED_AFTER_MS,
  projectBackupsFolder,
  SLOTS_FOLDER,
  slotClaimName,
  slotOfClaim,
} from '../../core/backup/scheduled-layout';
import { logger } from '../../log';
import type { Bucket } from '../storage/payload-store-types';
import { type BackupStorage, deleteQuietly, httpStatus } from './backup-storage';

/**
 * Slot claims of the scheduled backups: one run backs up a slot (an object created if absent,
 * taken over once abandoned), a failed run gives it back, and the retention deletes old claims.
 */

export interface SlotClaim {
  file: ReturnType<Bucket['file']>;
  generation: string;
}

function slotClaimFile(storage: BackupStorage, projectId: string, slotMs: number) {
  return storage.bucket.file(
    `${projectBackupsFolder(storage.prefix, projectId)}${slotClaimName(slotMs)}`,
  );
}

/** Creates the claim if absent: its generation, or undefined when it exists. */
async function createClaim(
  file: ReturnType<Bucket['file']>,
  slotMs: number,
  nowMs: number,
): Promise<SlotClaim | undefined> {
  const claimedAt = new Date(nowMs).toISOString();
  try {
    await file.save(`${JSON.stringify({ slot: new Date(slotMs).toISOString(), claimedAt })}\n`, {
      resumable: false,
      contentType: 'application/json',
      metadata: { metadata: { claimedAtMs: String(nowMs) } },
      preconditionOpts: { ifGenerationMatch: 0 },
    });
  } catch (error) {
    if (httpStatus(error) === 412) return undefined;
    throw error;
  }
  return { file, generation: String(file.metadata.generation) };
}

/**
 * Claims a slot for this run: created if absent; an existing claim older than
 * ABANDONED_AFTER_MS (a crashed run's) is taken over (deleted at its generation, then created).
 * Undefined: another run holds the slot.
 */
export async function claimSlot(
  storage: BackupStorage,
  projectId: string,
  slotMs: number,
  nowMs: number,
): Promise<SlotClaim | undefined> {
  const file = slotClaimFile(storage, projectId, slotMs);
  const claim = await createClaim(file, slotMs, nowMs);
  if (claim) return claim;
  let held: { generation: string; claimedAtMs: number };
  try {
    const [metadata] = await file.getMetadata();
    const stamped = Number(metadata.metadata?.claimedAtMs);
    held = {
      generation: String(metadata.generation),
      claimedAtMs: Number.isFinite(stamped) ? stamped : Date.parse(String(metadata.timeCreated)),
    };
  } catch (error) {
    // Released in between: the next run claims it.
    if (httpStatus(error) === 404) return undefined;
    throw error;
  }
  if (!(nowMs - held.claimedAtMs > ABANDONED_AFTER_MS)) return undefined;
  try {
    await file.delete({ ifGenerationMatch: Number(held.generation) });
  } catch (error) {
    // Another run took it over first.
    if (httpStatus(error) === 404 || httpStatus(error) === 412) return undefined;
    throw error;
  }
  logger.warn(
    { slot: new Date(slotMs).toISOString(), claimedAt: new Date(held.claimedAtMs).toISOString() },
    'scheduled backup: abandoned slot claim taken over',
  );
  return createClaim(file, slotMs, nowMs);
}

/** A failed run gives its slot back (the next hourly run retries it). */
export async function releaseSlot(claim: SlotClaim): Promise<void> {
  try {
    await claim.file.delete({ ifGenerationMatch: Number(claim.generation) });
  } catch (error) {
    logger.warn({ err: error, claim: claim.file.name }, 'slot claim not released');
  }
}

/** Deletes the claims of slots before `beforeMs`. */
export async function expireSlotClaims(
  storage: BackupStorage,
  projectId: string,
  beforeMs: number,
): Promise<void> {
  const folder = projectBackupsFolder(storage.prefix, projectId);
  const [files] = await storage.bucket.getFiles({ prefix: `${folder}${SLOTS_FOLDER}` });
  for (const file of files) {
    const slot = slotOfClaim(file.name.slice(folder.length));
    if (slot !== undefined && slot < beforeMs) await deleteQuietly(file);
  }
}
