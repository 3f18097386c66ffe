import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getApps, initializeApp } from 'firebase-admin/app';
import { type Auth, getAuth } from 'firebase-admin/auth';
import { type Firestore, getFirestore } from 'firebase-admin/firestore';
import { attachInstanceSelfQuota } from './storage/self-quota-runtime';

/**
 * The identity the emulators' tasks are enqueued as. The Admin SDK names a service account in
 * every task it enqueues; with none set it asks the cloud metadata server (169.254.169.254) for
 * the runtime's, which the local stack must never reach. Deployed, the runtime's own is used.
 */
export function emulatedServiceAccount(projectId: string): string {
  return `tollgate-local@${projectId}.iam.gserviceaccount.com`;
}

/**
 * Where Cloud Tasks is served when it is emulated. firebase-tools points function workers'
 * CLOUD_TASKS_EMULATOR_HOST at its own Tasks emulator, which dispatches every task at once and
 * serves no queue administration; the local stack serves both (devstack/src/emulators/cloud-tasks) and
 * names itself in TOLLGATE_CLOUD_TASKS_HOST. Undefined in production.
 */
export function emulatedCloudTasksHost(): string | undefined {
  return (
    process.env.TOLLGATE_CLOUD_TASKS_HOST || process.env.CLOUD_TASKS_EMULATOR_HOST || undefined
  );
}

/**
 * One firebase-admin app per instance, created on first use (cold starts stay cheap); its
 * Firestore is counted by the instance's self-quota monitor (storage/self-quota-runtime.ts).
 */
export function db(): Firestore {
  if (!getApps().some((app) => app.name === '[DEFAULT]')) {
    // firebase-admin's taskQueue() reads this variable on every enqueue.
    const tasksHost = emulatedCloudTasksHost();
    if (tasksHost) process.env.CLOUD_TASKS_EMULATOR_HOST = tasksHost;
    initializeApp(
      process.env.FUNCTIONS_EMULATOR === 'true'
        ? { serviceAccountId: emulatedServiceAccount(projectId()) }
        : undefined,
    );
    getFirestore().settings({ ignoreUndefinedProperties: true });
    // Every read, write and delete of the instance counts against the Firestore self-quota.
    attachInstanceSelfQuota(getFirestore());
  }
  return getFirestore();
}

/** The default app's Auth (ID token verification; the Auth emulator's when it is set). */
export function adminAuth(): Auth {
  db(); // initializes the default app
  return getAuth();
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
