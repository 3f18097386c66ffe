import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getApps, initializeApp } from 'firebase-admin/app';
import { type Firestore, getFirestore } from 'firebase-admin/firestore';

/**
 * The identity the emulators' tasks are enqueued as. The Admin SDK names a service account in
 * every task it enqueues; with none set it asks the cloud metadata server (169.254.169.254) for
 * the runtime's, which the local stack must never reach. Deployed, the runtime's own is used.
 */
export function emulatedServiceAccount(projectId: string): string {
  return `tollgate-local@${projectId}.iam.gserviceaccount.com`;
}

/** One firebase-admin app per instance, created on first use (cold starts stay cheap). */
export function db(): Firestore {
  if (!getApps().some((app) => app.name === '[DEFAULT]')) {
    initializeApp(
      process.env.FUNCTIONS_EMULATOR === 'true'
        ? { serviceAccountId: emulatedServiceAccount(projectId()) }
        : undefined,
    );
    getFirestore().settings({ ignoreUndefinedProperties: true });
  }
  return getFirestore();
}

export function projectId(): string {
  return process.env.GCLOUD_PROJECT ?? process.env.GCP_PROJECT ?? 'unknown';
}

let cachedVersion: string | undefined;
export function version(): string {
  cachedVersion ??= (
    JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  return cachedVersion;
}
