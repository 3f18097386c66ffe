import { randomUUID } from 'node:crypto';
import type { App } from 'firebase-admin/app';
import type { Firestore } from 'firebase-admin/firestore';
import { getStorage } from 'firebase-admin/storage';
import type { BackupStorage } from '../../src/adapters/backup/backup-storage';
import type { Actor } from '../../src/core/operations';
import { testFirestore } from '../support/firestore';

/**
 * What the scheduled-backup tests share: Firestore and Storage are the emulators the global
 * setup started (see payloads/store.test.ts); every Firestore here is its own namespace, every
 * bucket a fresh name.
 */

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
export const T0 = Date.UTC(2026, 0, 10, 3, 0, 0);
export const ACTOR: Actor = { uid: 'admin-1', email: 'admin@example.com', role: 'admin' };

const opened: Array<() => Promise<void>> = [];

/** A fresh Firestore namespace, closed by `closeFirestores` (call it in the file's afterAll). */
export function firestore(): { db: Firestore; app: App } {
  const { db, app, close } = testFirestore();
  opened.push(close);
  return { db, app };
}

export async function closeFirestores(): Promise<void> {
  for (const close of opened.splice(0)) await close();
}

export const unique = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;

/** Fresh backup and payload buckets on `app`'s Storage. */
export function storageFor(app: App): BackupStorage {
  const gcs = getStorage(app);
  return {
    bucket: gcs.bucket(unique('backups')),
    prefix: 'backups/',
    spoolPrefix: 'tmp/',
    payloads: gcs.bucket(unique('payloads')),
  };
}
